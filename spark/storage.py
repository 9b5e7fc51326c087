"""Where the lake lives: a local folder or an object store URI, and pyarrow's view of it."""

from __future__ import annotations

from pathlib import Path

from ingestion.config import ConfigError

# Stores both sides of a commit can reach: pyarrow writes the files in the tasks, Hadoop's
# FileSystem renames them on the driver (s3a, gs and abfs need their connector jars there).
SCHEMES = ("file", "s3a", "s3", "gs", "hdfs", "abfs", "abfss")


def to_uri(location: str, setting: str = "location") -> str:
    """Local paths become absolute ``file:`` URIs; ``s3a://`` and the other SCHEMES pass through."""
    if "://" not in location:
        return Path(location).resolve().as_uri()
    scheme = location.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        choices = ", ".join(SCHEMES)
        raise ConfigError(f"{setting}: unsupported scheme {scheme!r} in {location!r} (use a path or {choices})")
    return location.rstrip("/")


def filesystem(root: str):
    """pyarrow's filesystem for ``root`` and the path of ``root`` in it. ``s3a://`` (Hadoop's
    name) is S3 to pyarrow, which takes credentials from the default AWS provider chain."""
    import pyarrow.fs as pafs

    fs, base = pafs.FileSystem.from_uri(root.replace("s3a://", "s3://", 1))
    return fs, base.rstrip("/")
