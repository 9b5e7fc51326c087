"""The driver side of a micro-batch: append what its tasks wrote to the stream's Iceberg tables.

The exactly-once protocol (tasks write files no snapshot lists; the driver appends them in one
snapshot per table, with the query and batch id, unless that batch is in the table already) is
told once, in lakehouse/commit.py. This module runs it for one streaming query: quarantine first,
then raw, then the batch's metrics row.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from datetime import UTC, datetime

from pyiceberg.table import Table
from pyspark.sql import DataFrame, SparkSession

from contract import lake
from lakehouse.commit import append_batch
from spark.filesystems import HadoopFS
from spark.metrics import BatchStats, MetricsSink

log = logging.getLogger("smartcity.stream")


def query_id(fs: HadoopFS, checkpoint: str) -> str:
    """The streaming query's id, which Spark keeps in the checkpoint: stable across restarts of the
    same checkpoint, new for a new one (whose batch ids start again at 0)."""
    return json.loads(fs.read_text(f"{checkpoint}/metadata").splitlines()[0])["id"]


class BatchCommitter:
    """The ``foreachBatch`` function of one stream. The batch DataFrame has one row per file the
    tasks wrote; collecting it runs the tasks that read, parse and write the records."""

    def __init__(
        self,
        spark: SparkSession,
        stream: str,
        tables: dict[str, Table],
        checkpoint: str,
        metrics: MetricsSink,
    ) -> None:
        self.stream = stream
        self.tables = tables  # zone -> the stream's table
        self.checkpoint = checkpoint
        self._run_id: str | None = None
        self.metrics = metrics
        self.checkpoints = HadoopFS(spark, checkpoint)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        staged = batch.collect()
        if self._run_id is None:
            self._run_id = query_id(self.checkpoints, self.checkpoint)
        committing = time.monotonic()
        committed = 0
        for zone in (lake.QUARANTINE, lake.RAW):  # a crash in between: the replay commits raw
            table = self.tables[zone]
            paths = [f"{table.location()}/{r.file}" for r in staged if r.zone == zone]
            if paths and append_batch(table, paths, self._run_id, batch_id):
                committed += len(paths)
        commit_ms = int((time.monotonic() - committing) * 1000)
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
