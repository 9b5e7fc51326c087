"""Checks before Spark starts: every location the job writes can be written. A problem is one line
naming the location and the cause ("cannot write lake folder /x: permission denied"), not a Py4J
traceback from a worker minutes later."""

from __future__ import annotations

import errno
import os
from urllib.parse import urlparse

from contract import lake
from spark.errors import LakeRootError
from spark.filesystems import filesystem

PROBE = ".smartcity-write-probe"


def shown(location: str) -> str:
    """A local location as a path, a remote one as its URI."""
    parsed = urlparse(location)
    return parsed.path if parsed.scheme == "file" else location


def cause(exc: BaseException) -> str:
    """The reason in a person's words: the errno text for an OS error (with the path it hit when that
    is not the location itself), else the first line of the message."""
    if isinstance(exc, OSError) and exc.errno is not None:
        reason = os.strerror(exc.errno).lower()
        if exc.errno == errno.ENOTDIR and exc.filename:
            reason += f" ({exc.filename} is in the way)"
        return reason
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def check_writable(label: str, location: str) -> None:
    """Create ``location`` if missing, then write and delete a small object in it."""
    import pyarrow as pa

    if urlparse(location).scheme not in ("file", "s3", "s3a"):
        return  # hdfs:// and the like: Hadoop's own client reports its errors
    try:
        fs, base = filesystem(location)
        if fs.type_name == "local":
            fs.create_dir(base, recursive=True)
        probe = f"{base}/{PROBE}-{os.getpid()}"
        with fs.open_output_stream(probe) as out:
            out.write(b"ok")
        fs.delete_file(probe)
    except (OSError, pa.ArrowException) as exc:
        raise LakeRootError(f"cannot write {label} {shown(location)}: {cause(exc)}") from None


def check_job_locations(lake_root: str, checkpoint_root: str) -> None:
    """The lake (raw and staging), its quarantine and the checkpoints, in the order the job needs them."""
    check_writable("lake folder", lake_root)
    check_writable("quarantine folder", f"{lake_root}/{lake.QUARANTINE}")
    check_writable("checkpoint folder", checkpoint_root)
