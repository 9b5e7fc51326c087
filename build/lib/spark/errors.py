"""Errors of the streaming job that the CLI reports in one line (kept free of pyspark imports)."""

from __future__ import annotations

import os
import re


class QueryFailed(RuntimeError):
    """A streaming query died; the message names the query and its first error line."""


class LakeRootError(ValueError):
    """A lake or checkpoint location the job cannot use (unknown scheme, no connector)."""


# Exceptions that only carry another one: Spark's, Py4J's and PySpark's wrappers.
WRAPPERS = frozenset(
    {
        "PythonException",
        "Py4JJavaError",
        "StreamingQueryException",
        "SparkException",
        "SparkRuntimeException",
        "PythonWorkerException",
        "ExecutionException",
        "InvocationTargetException",
    }
)
_EXCEPTION_LINE = re.compile(r"^\s*(?:Caused by: )?(?:[\w$]+\.)*(\w+(?:Error|Exception|Loss)): (.+)$", re.M)
_OS_ERROR = re.compile(r"\[Errno (\d+)\] [^']*'([^']+)'")  # Python's and pyarrow's wording


# librdkafka's words for "no broker answers".
_BROKER_GONE = ("_TRANSPORT", "_ALL_BROKERS_DOWN", "Broker transport failure", "_TIMED_OUT", "_RESOLVE")


def root_cause(error: str, bootstrap: str | None = None) -> str:
    """The innermost error of a failed query, in one line. Spark wraps an error raised in a Python
    worker in a Java exception that quotes the Python traceback, and Py4J wraps that again; the last
    exception line that is not a wrapper is the cause. OS errors become "cannot write <path>: <reason>"."""
    causes = [(name, message) for name, message in _EXCEPTION_LINE.findall(error) if name not in WRAPPERS]
    if not causes:
        return error.strip().splitlines()[0] if error.strip() else "unknown error"
    name, message = causes[-1]
    if bootstrap and name == "KafkaException" and any(mark in message for mark in _BROKER_GONE):
        return f"the Kafka broker at {bootstrap} stopped answering ({message.strip()})"
    os_error = _OS_ERROR.search(message)
    if os_error:
        number, path = os_error.groups()
        return f"cannot write {path}: {os.strerror(int(number)).lower()}"
    if name in ("DataLoss", "TimeoutError", "KafkaAccessError", "KafkaSettingsError"):  # ours: the whole story
        return message.strip()
    return f"{name}: {message.strip()}"
