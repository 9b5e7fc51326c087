"""`--source native` (Spark's Kafka connector, as in docker-compose.yml) up to where the connector takes
over: rows shaped as the connector yields them go through the job's own `stage_native` in a real Spark
session, and stage the same files, rows and quarantine as the Python source's reader does."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from contract import BY_NAME
from ingestion.fleet import FleetConfig
from smartcity.synthetic import fleet_payloads
from spark.job import StreamOptions, build_session, stage_native
from spark.kafka_source import RECORD_SCHEMA
from spark.stage import stager
from tests.conftest import START

# The schema of Spark's Kafka source (spark-sql-kafka-0-10), timestampType included.
CONNECTOR_DDL = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp, timestampType int"
)
STREAM = "vehicle"


def records() -> pa.Table:
    values = fleet_payloads(FleetConfig(vehicles=5, seed=9, start=START), 1800)[STREAM][:3000]
    values += [b"{not json", b'{"schema_version": 99}', b"[]"]  # for the quarantine
    n = len(values)
    return pa.table(
        {
            "key": pa.array([None] * n, pa.binary()),
            "value": pa.array(values, pa.binary()),
            "topic": pa.array([BY_NAME[STREAM].topic] * n),
            "partition": pa.array([0] * n, pa.int32()),
            "offset": pa.array(range(n), pa.int64()),
            "timestamp": pa.array([datetime.now(UTC)] * n, pa.timestamp("us", tz="UTC")),
        },
        schema=RECORD_SCHEMA,
    )


def staged_rows(lake: Path, staged: list[dict]) -> dict[tuple, list[dict]]:
    """The staged files' rows by (zone, event_date, event_hour), without the landing time."""
    found = {}
    for row in staged:
        table = pq.read_table(lake / row["zone"] / STREAM / row["file"]).drop_columns(["ingested_at"])
        assert table.num_rows == row["rows"]
        found[(row["zone"], row["event_date"], row["event_hour"])] = table.sort_by("kafka_offset").to_pylist()
    return found


def test_connector_rows_stage_what_the_python_source_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spark_in_process: None
) -> None:
    table = records()
    python_lake, native_lake = tmp_path / "python", tmp_path / "native"
    by_reader = stager(STREAM, str(python_lake))(iter(table.to_batches(max_chunksize=1000)))
    python_staged = pa.Table.from_batches(list(by_reader)).to_pylist()

    options = StreamOptions(
        bootstrap="unused:9092", lake_root=str(native_lake), checkpoint_root=str(tmp_path), master="local[2]"
    )
    for variable in ("PYSPARK_PYTHON", "SPARK_LOCAL_IP"):  # build_session sets them for its workers
        monkeypatch.setenv(variable, os.environ.get(variable, ""))
        monkeypatch.delenv(variable)
    spark = build_session(options)  # the job's own session: its workers' Python, UTC, settings
    try:
        rows = table.append_column("timestampType", pa.array([0] * table.num_rows, pa.int32())).to_pandas()
        connector = spark.createDataFrame(rows, CONNECTOR_DDL).coalesce(1)  # one Kafka partition, one task
        native_staged = [r.asDict() for r in stage_native(connector, STREAM, options).collect()]
    finally:
        spark.stop()

    python_files = staged_rows(python_lake, python_staged)
    assert python_files == staged_rows(native_lake, native_staged)
    quarantined = sum(len(rows) for (zone, *_), rows in python_files.items() if zone == "quarantine")
    landed = sum(len(rows) for (zone, *_), rows in python_files.items() if zone == "raw")
    assert (landed, quarantined) == (table.num_rows - 3, 3)
    # Named by the task's first Kafka coordinates (then an id of the attempt, its own each time).
    assert sorted(task_file(r) for r in native_staged) == sorted(task_file(r) for r in python_staged)


def task_file(row: dict) -> str:
    return row["file"].rsplit("-", 1)[0]
