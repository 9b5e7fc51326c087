"""The ``foreachBatch`` function of one stream: one pass that counts, filters and commits raw rows."""

from __future__ import annotations

import logging
import time

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from contract.events import BY_NAME
from spark.lake import HadoopFS, commit_batch, query_id
from spark.metrics import BatchStats, MetricsSink
from spark.parse import raw_columns

log = logging.getLogger("smartcity.stream")


class StreamWriter:
    """Rejected rows were already written to the quarantine by the parser (see spark/parse.py);
    here they are counted and dropped, and the valid rows are committed atomically."""

    def __init__(self, spark: SparkSession, stream: str, lake_root: str, checkpoint: str, metrics: MetricsSink) -> None:
        self.stream = stream
        self.checkpoint = checkpoint
        self._run_id: str | None = None
        self.lake_root = lake_root
        self.metrics = metrics
        self.fs = HadoopFS(spark, lake_root)
        self._raw_columns = raw_columns(BY_NAME[stream])

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        observation = Observation(f"{self.stream}_{batch_id}")
        rejected = F.col("quarantine_reason").isNotNull()
        raw = (
            batch.observe(observation, F.count(F.lit(1)).alias("rows"), F.count_if(rejected).alias("quarantined"))
            .where(~rejected)
            .withColumn("ingested_at", F.current_timestamp())
            .select(*self._raw_columns)
        )
        if self._run_id is None:
            self._run_id = query_id(self.fs, self.checkpoint)
        files = commit_batch(raw, self.fs, self.lake_root, "raw", self.stream, batch_id, self._run_id)
        counts = observation.get
        stats = BatchStats(
            self.stream,
            batch_id,
            counts["rows"] - counts["quarantined"],
            counts["quarantined"],
            files,
            int((time.monotonic() - started) * 1000),
        )
        self.metrics.record_batch(stats)
        if counts["rows"]:
            log.info("batch stream=%s id=%d raw=%d quarantined=%d files=%d ms=%d", *stats.as_tuple())
