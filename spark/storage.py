"""Where the lake lives: a local folder or an object store URI, and pyarrow's view of it."""

from __future__ import annotations

from pathlib import Path


def to_uri(location: str) -> str:
    """Local paths become absolute ``file:`` URIs; ``s3a://`` and other URIs pass through."""
    if "://" in location:
        return location.rstrip("/")
    return Path(location).resolve().as_uri()


def filesystem(root: str):
    """pyarrow's filesystem for ``root`` and the path of ``root`` in it. ``s3a://`` (Hadoop's
    name) is S3 to pyarrow, which takes credentials from the default AWS provider chain."""
    import pyarrow.fs as pafs

    fs, base = pafs.FileSystem.from_uri(root.replace("s3a://", "s3://", 1))
    return fs, base.rstrip("/")
