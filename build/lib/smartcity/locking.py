"""One run per folder: an exclusive lock that names its holder and dies with it."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse


class AlreadyRunning(RuntimeError):
    """Another process holds the folder."""


@contextlib.contextmanager
def exclusive(folder: str | Path, what: str) -> Iterator[None]:
    """Hold ``<folder>/.lock`` (``flock``) for the ``with`` block. A second run fails at once with
    one line naming the holder; the kernel releases the lock when its process dies, so a run
    that was killed never leaves a folder locked. Remote folders (``s3://``, ``hdfs://``) are not
    locked: one run per checkpoint is then the deployment's job."""
    parsed = urlparse(str(folder))
    if parsed.scheme not in ("", "file"):
        yield
        return
    path = Path(parsed.path if parsed.scheme else folder)
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
            raise AlreadyRunning(
                f"{what} {path} is in use by {holder}; stop that run first or use another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({' '.join(['smartcity', *sys.argv[1:]])})".encode(), 0)
        yield
    finally:
        os.close(fd)
