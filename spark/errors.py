"""Errors of the streaming job that the CLI reports in one line (kept free of pyspark imports)."""


class QueryFailed(RuntimeError):
    """A streaming query died; the message names the query and its first error line."""


class LakeRootError(ValueError):
    """A lake or checkpoint location the job cannot use (unknown scheme, no connector)."""
