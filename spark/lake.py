"""Atomic, idempotent micro-batch writes to the lake (local folder, ``s3a://`` or any Hadoop FS).

Spark's Parquet file sink names files ``part-*.parquet`` as soon as a task starts, so a
crash leaves empty, truncated or uncommitted files that readers globbing the folder
(DuckDB, Athena, dbt) pick up. Here the tasks of a micro-batch write to ``_staging/``
(spark/land.py); once they all succeeded, the driver renames each file into
``raw/<stream>/event_date=.../event_hour=.../part-<query id>-b<batch id>-<n>.parquet``.
Names come from the query id (kept in the checkpoint) and the batch id, so when Spark
replays a batch after a crash (same id, same Kafka offsets) it first removes that batch's
earlier files and then writes them again: a replay replaces, it never adds.
"""

from __future__ import annotations

import json
import logging

from pyspark.sql import SparkSession

from ingestion.config import ConfigError

log = logging.getLogger(__name__)


class HadoopFS:
    """The few file operations the commit needs, through Hadoop's FileSystem (local, s3a, ...)."""

    def __init__(self, spark: SparkSession, root: str) -> None:
        jvm = spark.sparkContext._jvm
        self._Path = jvm.org.apache.hadoop.fs.Path
        try:
            fs = self._Path(root).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        except Exception as exc:  # Py4JJavaError: a scheme without its connector on the classpath
            reason = exc.java_exception.getMessage() if hasattr(exc, "java_exception") else str(exc)
            raise ConfigError(f"lake root {root}: {reason} (is its Hadoop connector on the classpath?)") from None
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


def query_id(fs: HadoopFS, checkpoint: str) -> str:
    """The streaming query's id, which Spark keeps in the checkpoint: stable across restarts of the
    same checkpoint, new for a new one (whose batch ids start again at 0)."""
    return json.loads(fs.read_text(f"{checkpoint}/metadata").splitlines()[0])["id"]


def commit_batch(
    fs: HadoopFS, lake_root: str, stream: str, batch_id: int, run_id: str, staged: list[tuple[str, str, int]]
) -> int:
    """Move the files the batch's tasks staged (paths relative to the lake, with their event date
    and hour) into ``raw/<stream>/``, replacing any earlier attempt of the same batch; returns
    the number of files."""
    target = f"{lake_root}/raw/{stream}"
    name = f"part-{run_id[:8]}-b{batch_id:010d}-"
    for leftover in fs.glob(f"{target}/*/*/{name}*.parquet"):
        fs.delete(leftover, recursive=False)
    counters: dict[str, int] = {}
    for path, event_date, event_hour in sorted(staged):
        partition = f"event_date={event_date}/event_hour={event_hour}"
        n = counters.get(partition, 0)
        counters[partition] = n + 1
        fs.rename(f"{lake_root}/{path}", f"{target}/{partition}/{name}{n:04d}.parquet")
    for task_dir in {path.split("/event_date=")[0] for path, _, _ in staged}:
        fs.delete(f"{lake_root}/{task_dir}")
    return len(staged)
