"""The ``foreachBatch`` function of one stream: run the batch's tasks, then commit what they staged."""

from __future__ import annotations

import logging
import time

from pyspark.sql import DataFrame, SparkSession

from spark.lake import HadoopFS, commit_batch, query_id
from spark.land import staging_dir
from spark.metrics import BatchStats, MetricsSink

log = logging.getLogger("smartcity.stream")


class StreamWriter:
    """The batch DataFrame has one row per staged Parquet file (spark/land.py); collecting it runs
    the tasks that read, parse, quarantine and stage the records. The files are then renamed
    into the raw zone under names fixed by the batch id, so a replayed batch replaces itself."""

    def __init__(self, spark: SparkSession, stream: str, lake_root: str, checkpoint: str, metrics: MetricsSink) -> None:
        self.stream = stream
        self.checkpoint = checkpoint
        self._run_id: str | None = None
        self.lake_root = lake_root
        self.metrics = metrics
        self.fs = HadoopFS(spark, lake_root)
        # Left by attempts that died before their commit; nothing else writes there while we run.
        self.fs.delete(f"{lake_root}/{staging_dir(stream)}")

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        staged = batch.collect()
        if self._run_id is None:
            self._run_id = query_id(self.fs, self.checkpoint)
        files = [(r.file, r.event_date.isoformat(), r.event_hour) for r in staged if r.file is not None]
        committed = commit_batch(self.fs, self.lake_root, self.stream, batch_id, self._run_id, files)
        stats = BatchStats(
            self.stream,
            batch_id,
            sum(r.rows for r in staged),
            sum(r.quarantined for r in staged),
            committed,
            int((time.monotonic() - started) * 1000),
        )
        self.metrics.record_batch(stats)
        if stats.rows or stats.quarantined:
            log.info("batch stream=%s id=%d raw=%d quarantined=%d files=%d ms=%d", *stats.as_tuple())
