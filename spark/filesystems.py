"""Where the lake lives (a local folder or an object store URI) and how the job reaches it: the lake
through pyarrow's file systems only (tasks write the tables' data files with it; the catalog's FileIO
writes their metadata), so S3 needs no Hadoop connector; the checkpoint through Hadoop's FileSystem,
which Spark itself uses for it."""

from __future__ import annotations

from pathlib import Path

from spark.errors import LakeRootError

# Lake stores pyarrow reaches (s3a:// is Hadoop's name for S3). Checkpoints may use any scheme
# Spark's Hadoop FileSystem has on its classpath (file and hdfs without extra jars).
SCHEMES = ("file", "s3a", "s3", "gs", "hdfs", "abfs", "abfss")


def to_uri(location: str, setting: str = "location") -> str:
    """Local paths become absolute ``file:`` URIs; ``s3a://`` and the other SCHEMES pass through."""
    if "://" not in location:
        return Path(location).resolve().as_uri()
    scheme = location.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        choices = ", ".join(SCHEMES)
        raise LakeRootError(f"{setting}: unsupported scheme {scheme!r} in {location!r} (use a path or {choices})")
    return location.rstrip("/")


def filesystem(root: str):
    """pyarrow's filesystem for ``root`` and the path of ``root`` in it. ``s3a://`` (Hadoop's
    name) is S3 to pyarrow, which takes credentials from the default AWS provider chain."""
    import pyarrow.fs as pafs

    fs, base = pafs.FileSystem.from_uri(root.replace("s3a://", "s3://", 1))
    return fs, base.rstrip("/")


class HadoopFS:
    """Reads the checkpoint (local, HDFS, ...) through Hadoop's FileSystem, as Spark does."""

    def __init__(self, spark, root: str) -> None:
        jvm = spark.sparkContext._jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        try:
            fs = self._Path(root).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        except Exception as exc:  # Py4JJavaError: a scheme without its connector on the classpath
            reason = exc.java_exception.getMessage() if hasattr(exc, "java_exception") else str(exc)
            raise LakeRootError(
                f"checkpoint root {root}: {reason} (is its Hadoop connector on the classpath?)"
            ) from None
        self._fs = fs

    def read_text(self, path: str) -> str:
        stream = self._fs.open(self._Path(path))
        try:
            return bytes(stream.readAllBytes()).decode()
        finally:
            stream.close()
