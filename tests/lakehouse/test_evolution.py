"""A table made by an older contract gains the newer versions' columns by name, in metadata only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.schema import Schema

from contract.events import BY_NAME
from lakehouse.catalogs import SchemaMismatch, ensure_tables, open_catalog, table_location
from lakehouse.commit import append_batch
from lakehouse.snapshot import current_paths, duckdb_relation
from lakehouse.tables import PROPERTIES
from spark.stage import table_schema
from tests.lakehouse.conftest import DAY, GPS, Lake


def first_version_table(lake: Lake):
    """The gps table as the first version of the contract made it: without the columns added since."""
    added = {f.name for f in BY_NAME["gps"].added_since_first()}
    full = GPS.schema()
    catalog = open_catalog(lake.config)
    catalog.create_namespace(lake.config.namespace)
    return catalog.create_table(
        (lake.config.namespace, GPS.name),
        schema=Schema(*(f for f in full.fields if f.name not in added)),
        location=table_location(lake.config.warehouse, GPS),
        partition_spec=GPS.partition_spec(),
        properties=PROPERTIES,
    )


def write(table, version: int, offsets: range, satellites: int | None = None) -> str:
    """A data file as a task writes it with the table's schema of the time (``version``)."""
    schema = table_schema(GPS.zone, GPS.stream)
    if version == 1:
        schema = pa.schema([f for f in schema if f.name != "satellites"])
    n = len(offsets)
    given = {
        "event_id": pa.array([f"e-{o}" for o in offsets]),
        "schema_version": pa.array([version] * n, pa.int32()),
        "kafka_partition": pa.array([0] * n, pa.int32()),
        "kafka_offset": pa.array(list(offsets), pa.int64()),
        "ingested_at": pa.array([datetime.now(UTC)] * n, pa.timestamp("us", tz="UTC")),
        "event_date": pa.array([DAY] * n, pa.date32()),
        "event_hour": pa.array([5] * n, pa.int32()),
        "satellites": pa.array([satellites] * n, pa.int32()),
    }
    rows = pa.table({f.name: given.get(f.name, pa.nulls(n, f.type)) for f in schema}, schema=schema)
    path = f"{table.location()}/data/event_date={DAY}/event_hour=5/{uuid.uuid4().hex}.parquet"
    with table.io.new_output(path).create() as out:
        pq.write_table(rows, out)
    return path


def test_an_old_table_gains_the_new_columns_and_old_rows_read_them_as_null(iceberg_lake: Lake) -> None:
    old = first_version_table(iceberg_lake)
    assert append_batch(old, [write(old, 1, range(0, 100))], "q", 0)
    before = current_paths(old.refresh())

    table = iceberg_lake.table()  # what the job does at start: ensure_tables
    assert [f.name for f in table.schema().fields][-1] == "satellites"
    assert {f.name: f.field_id for f in table.schema().fields} == {f.name: f.field_id for f in GPS.schema().fields}
    assert current_paths(table) == before, "no data file rewritten"

    assert append_batch(table, [write(table, 2, range(100, 150), satellites=9)], "q", 1)
    rows = (
        duckdb.connect()
        .execute(
            "select schema_version, count(*), count(satellites), min(satellites) "
            f"from {duckdb_relation(table.refresh())} group by 1 order by 1"
        )
        .fetchall()
    )
    assert rows == [(1, 100, 0, None), (2, 50, 50, 9)]
    # the files' columns come from the manifest's statistics: no footer read to find them
    assert "union_by_name" not in duckdb_relation(table)
    scanned = table.scan().to_arrow()  # an Iceberg reader agrees
    assert scanned.num_rows == 150 and scanned.column("satellites").null_count == 100


def test_a_second_start_changes_nothing(iceberg_lake: Lake) -> None:
    first_version_table(iceberg_lake)
    evolved = iceberg_lake.table()
    metadata = evolved.metadata_location
    assert iceberg_lake.table().metadata_location == metadata


def test_a_table_changed_outside_the_contract_is_refused_with_its_column(iceberg_lake: Lake) -> None:
    old = first_version_table(iceberg_lake)
    with old.update_schema() as update:  # someone added a column by hand: it took the next field id
        from pyiceberg.types import StringType

        update.add_column("note", StringType())
    with pytest.raises(SchemaMismatch, match="column satellites is missing; the contract gives field id 19"):
        ensure_tables(iceberg_lake.config, ("gps",))
