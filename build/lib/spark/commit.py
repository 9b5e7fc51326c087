"""The driver side of a micro-batch: commit what its tasks staged, atomically and idempotently.

This is where the exactly-once protocol into the lake lives (the README points here):

1. Each task reads its Kafka offset range, parses it and writes Parquet under
   ``_staging/<zone>/<stream>/<task>/`` (spark/stage.py). Staging names come from the Kafka
   coordinates of the task's first record, so a retried task overwrites its earlier attempt.
   Nothing reads staging: readers glob ``raw/`` and ``quarantine/``, and skip ``_`` names.
2. Once every task succeeded, the driver renames each staged file to
   ``<zone>/<stream>/event_date=.../event_hour=.../part-<query id>-b<batch id>-<n>.parquet``.
   A rename is atomic on a local file system and HDFS: a reader sees a whole file or none. An
   object store (S3) has no rename: the move is a copy then a delete, and an object becomes
   visible only once its copy completed, so readers still see whole files only, never staging.
   A crash between two moves leaves part of the batch visible until the replay (3) rewrites it.
3. Names come from the query id (kept in the checkpoint) and the batch id. When Spark replays a
   batch after a crash (same id, same offsets, from its offset log), the commit first deletes
   that batch's earlier files, then renames again: a replay replaces, it never adds.
4. Spark records the batch in its commit log only after this function returned; staging left by
   attempts that died before their commit is deleted when the query starts again.

Spark's own Parquet sink is not used because it names files ``part-*.parquet`` at task start:
after a crash, readers that glob the folder (DuckDB, dbt, Athena) see empty, truncated and
uncommitted files.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession

from contract import lake
from spark.catalog import GluePartitions
from spark.filesystems import HadoopFS, LakeFS
from spark.metrics import BatchStats, MetricsSink

log = logging.getLogger("smartcity.stream")


def query_id(fs: HadoopFS, checkpoint: str) -> str:
    """The streaming query's id, which Spark keeps in the checkpoint: stable across restarts of the
    same checkpoint, new for a new one (whose batch ids start again at 0)."""
    return json.loads(fs.read_text(f"{checkpoint}/metadata").splitlines()[0])["id"]


def commit_batch(
    fs: LakeFS, lake_root: str, stream: str, batch_id: int, run_id: str, staged: list[tuple[str, str, str, int]]
) -> int:
    """Move the files the batch's tasks staged (zone, path relative to the lake, event date and
    hour) into place, replacing any earlier attempt of the same batch; returns the number of files."""
    name = f"part-{run_id[:8]}-b{batch_id:010d}-"
    for zone in lake.ZONES:
        for leftover in fs.glob(f"{lake.stream_dir(lake_root, zone, stream)}/*/*/{name}*.parquet"):
            fs.delete(leftover, recursive=False)
    counters: dict[str, int] = {}
    for zone, path, event_date, event_hour in sorted(staged):
        folder = f"{lake.stream_dir(lake_root, zone, stream)}/{lake.partition_dir(event_date, event_hour)}"
        n = counters.get(folder, 0)
        counters[folder] = n + 1
        fs.rename(f"{lake_root}/{path}", f"{folder}/{name}{n:04d}.parquet")
    for task_dir in {path.split("/event_date=")[0] for _, path, _, _ in staged}:
        fs.delete(f"{lake_root}/{task_dir}")
    return len(staged)


class BatchCommitter:
    """The ``foreachBatch`` function of one stream. The batch DataFrame has one row per staged
    file; collecting it runs the tasks that read, parse and stage the records."""

    def __init__(
        self,
        spark: SparkSession,
        stream: str,
        lake_root: str,
        checkpoint: str,
        metrics: MetricsSink,
        partitions: GluePartitions | None = None,
    ) -> None:
        self.stream = stream
        self.partitions = partitions
        self.checkpoint = checkpoint
        self._run_id: str | None = None
        self.lake_root = lake_root
        self.metrics = metrics
        self.fs = LakeFS(lake_root)
        self.checkpoints = HadoopFS(spark, checkpoint)
        # Left by attempts that died before their commit; nothing else writes there while we run.
        for zone in lake.ZONES:
            self.fs.delete(f"{lake_root}/{lake.staging_dir(zone, stream)}")

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        staged = batch.collect()
        if self._run_id is None:
            self._run_id = query_id(self.checkpoints, self.checkpoint)
        files = [(r.zone, r.file, r.event_date.isoformat(), r.event_hour) for r in staged]
        committing = time.monotonic()
        committed = commit_batch(self.fs, self.lake_root, self.stream, batch_id, self._run_id, files)
        commit_ms = int((time.monotonic() - committing) * 1000)
        if self.partitions is not None:
            self._register(files)
        stats = BatchStats(
            self.stream,
            batch_id,
            sum(r.rows for r in staged if r.zone == lake.RAW),
            sum(r.rows for r in staged if r.zone == lake.QUARANTINE),
            committed,
            int((time.monotonic() - started) * 1000),
            commit_ms,
            _newest_event_time(staged),
            _reasons(staged),
        )
        self.metrics.record_batch(stats)
        if stats.rows or stats.quarantined:
            log.info("batch stream=%s id=%d raw=%d quarantined=%d files=%d ms=%d", *stats.as_tuple())

    def _register(self, files: list[tuple[str, str, str, int]]) -> None:
        """Glue partitions for Spectrum. A failure here loses nothing (the files are committed) and
        must not stop the stream: it is logged, and `smartcity aws sync-partitions` repairs it."""
        assert self.partitions is not None
        try:
            for zone in lake.ZONES:
                hours = {(day, hour) for z, _, day, hour in files if z == zone}
                if hours:
                    self.partitions.register(zone, self.stream, hours)
        except Exception as exc:
            log.warning("stream=%s Glue partitions not registered: %s", self.stream, exc)


def _newest_event_time(staged: list) -> str | None:
    newest = max((r.newest_event_us for r in staged if r.newest_event_us is not None), default=None)
    if newest is None:
        return None
    return datetime.fromtimestamp(newest / 1e6, UTC).isoformat(timespec="milliseconds")


def _reasons(staged: list) -> dict[str, int]:
    total: Counter = Counter()
    for r in staged:
        if r.reasons:
            total.update(json.loads(r.reasons))
    return dict(total)
