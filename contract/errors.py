"""The one error type every layer raises for a setting or argument a person gave that cannot work.

The command line prints these as one line; any other exception is a bug and keeps its traceback.
It is a ValueError, so callers that validate values keep catching what they caught."""


class InvalidSetting(ValueError):
    """A value given by a person (argument, environment variable, stack setting) that cannot work."""
