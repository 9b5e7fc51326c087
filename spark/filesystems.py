"""Where the lake lives (a local folder or an object store URI) and the two views of it: pyarrow's,
for the tasks that write files, and Hadoop's FileSystem, for the driver that commits them."""

from __future__ import annotations

from pathlib import Path

from spark.errors import LakeRootError

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
        raise LakeRootError(f"{setting}: unsupported scheme {scheme!r} in {location!r} (use a path or {choices})")
    return location.rstrip("/")


def filesystem(root: str):
    """pyarrow's filesystem for ``root`` and the path of ``root`` in it. ``s3a://`` (Hadoop's
    name) is S3 to pyarrow, which takes credentials from the default AWS provider chain."""
    import pyarrow.fs as pafs

    fs, base = pafs.FileSystem.from_uri(root.replace("s3a://", "s3://", 1))
    return fs, base.rstrip("/")


class HadoopFS:
    """The few file operations the commit needs, through Hadoop's FileSystem (local, s3a, ...)."""

    def __init__(self, spark, root: str) -> None:
        jvm = spark.sparkContext._jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        try:
            fs = self._Path(root).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        except Exception as exc:  # Py4JJavaError: a scheme without its connector on the classpath
            reason = exc.java_exception.getMessage() if hasattr(exc, "java_exception") else str(exc)
            raise LakeRootError(f"lake root {root}: {reason} (is its Hadoop connector on the classpath?)") from None
        # The local FS keeps a hidden .crc beside each file and renames it along; the lake wants
        # the data files only (the .crc files stay in _staging and are deleted with it).
        checksummed = jvm.org.apache.hadoop.fs.ChecksumFileSystem
        self._fs = fs.getRawFileSystem() if checksummed._java_lang_class.isInstance(fs) else fs

    def glob(self, pattern: str) -> list[str]:
        found = self._fs.globStatus(self._Path(pattern))
        return [] if found is None else [str(s.getPath().toString()) for s in found]

    def rename(self, src: str, dst: str) -> None:
        dst_path = self._Path(dst)
        self._fs.mkdirs(dst_path.getParent())
        if self._fs.exists(dst_path):
            self._fs.delete(dst_path, False)
        if not self._fs.rename(self._Path(src), dst_path):
            raise OSError(f"rename {src} -> {dst} failed")

    def read_text(self, path: str) -> str:
        stream = self._fs.open(self._Path(path))
        try:
            return bytes(stream.readAllBytes()).decode()
        finally:
            stream.close()

    def delete(self, path: str, recursive: bool = True) -> None:
        self._fs.delete(self._Path(path), recursive)
