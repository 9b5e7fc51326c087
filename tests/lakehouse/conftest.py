"""Iceberg tables on a real pyiceberg SQL catalog (a SQLite file), with files written as the job's tasks write them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.table import Table

from lakehouse.catalogs import CatalogConfig, ensure_tables
from lakehouse.commit import append_batch
from lakehouse.snapshot import current_paths
from lakehouse.tables import LakeTable
from spark.stage import table_schema

GPS = LakeTable("raw", "gps")
DAY = date(2026, 3, 1)


def stage_file(table: Table, offsets: range, day: date = DAY, hour: int = 5, partition: int = 0) -> str:
    """A Parquet file in the table's data folder, as a task stages it: in no snapshot yet."""
    schema = table_schema(GPS.zone, GPS.stream)
    n = len(offsets)
    columns = {
        "event_id": pa.array([f"e-{partition}-{o}" for o in offsets]),
        "kafka_topic": pa.array(["smartcity.gps"] * n),
        "kafka_partition": pa.array([partition] * n, pa.int32()),
        "kafka_offset": pa.array(list(offsets), pa.int64()),
        "ingested_at": pa.array([datetime.now(UTC)] * n, pa.timestamp("us", tz="UTC")),
        "event_date": pa.array([day] * n, pa.date32()),
        "event_hour": pa.array([hour] * n, pa.int32()),
    }
    rows = pa.table({f.name: columns.get(f.name, pa.nulls(n, f.type)) for f in schema}, schema=schema)
    path = f"{table.location()}/data/event_date={day}/event_hour={hour}/{uuid.uuid4().hex}.parquet"
    with table.io.new_output(path).create() as out:  # a local folder or an object store alike
        pq.write_table(rows, out)
    return path


def append_batches(table: Table, batches: int, rows: int = 10, query: str = "q") -> None:
    """Batches 0..batches-1 of the stream `query`, one staged file each, offsets following on; each lands."""
    for batch in range(batches):
        assert append_batch(table, [stage_file(table, range(batch * rows, batch * rows + rows))], query, batch)


def counts(table: Table) -> tuple[int, int]:
    """(rows, distinct Kafka coordinates) of the current snapshot, read by DuckDB from the files it lists."""
    table.refresh()
    paths = current_paths(table)
    if not paths:
        return (0, 0)
    return duckdb.execute(
        f"select count(*), count(distinct (kafka_partition, kafka_offset)) from read_parquet({paths!r})"
    ).fetchone()  # type: ignore[return-value]


@dataclass
class Lake:
    root: Path
    config: CatalogConfig

    def table(self, spec: LakeTable = GPS) -> Table:
        """A fresh handle: each one is what one process (the stream, compaction) holds."""
        return ensure_tables(self.config, (spec.stream,))[spec]


@pytest.fixture
def iceberg_lake(tmp_path: Path) -> Lake:
    root = tmp_path / "lake"
    return Lake(root, CatalogConfig(f"sqlite:///{tmp_path}/catalog.db", str(root)))


@pytest.fixture
def staged() -> Callable[..., str]:
    return stage_file
