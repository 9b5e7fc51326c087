"""The task side of a micro-batch: Kafka records -> Parquet data files of the lake's Iceberg tables.

A Spark task that reads a Kafka range also parses it (spark/parse.py) and writes what it got
with pyarrow, one file per zone (raw, quarantine) and hour, into the table's ``data/`` folder
under a name no other attempt uses, in the table's schema (Iceberg field ids included). It
returns one small row per file; the driver then appends the batch's files to the tables in one
snapshot each (lakehouse/commit.py, where the exactly-once protocol is explained). Until then the
files are in no snapshot, and no reader sees them.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from contract import lake
from spark.filesystems import filesystem

if TYPE_CHECKING:
    import pyarrow.parquet as pq
from spark.parse import EventTimeBounds, RecordSplitter

STAGED_SCHEMA = pa.schema(
    [
        ("zone", pa.string()),
        ("file", pa.string()),  # relative to the table's location
        ("event_date", pa.date32()),
        ("event_hour", pa.int32()),
        ("rows", pa.int64()),
        ("newest_event_us", pa.int64()),  # raw files: the newest event time, microseconds since the epoch
        ("reasons", pa.string()),  # quarantine files: {"<reason class>": rows} as JSON
    ]
)
STAGED_DDL = (
    "zone string, file string, event_date date, event_hour int, rows bigint, newest_event_us bigint, reasons string"
)
# Rows buffered per file before they go out as one row group.
ROW_GROUP_ROWS = 200_000
_TIMESTAMP = pa.timestamp("us", tz="UTC")


ARROW_TYPES = {
    "string": pa.string(),
    "double": pa.float64(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


def table_schema(zone: str, stream: str) -> pa.Schema:
    """The columns of a data file of the stream's table in ``zone`` (``contract.lake.table_columns``),
    with the Iceberg field ids the table gives them (lakehouse/tables.py: their position, from 1).
    The tasks do not import pyiceberg: a Python worker starts faster without it."""
    return pa.schema(
        [
            pa.field(name, ARROW_TYPES[kind], metadata={b"PARQUET:field_id": str(i).encode()})
            for i, (name, kind, _) in enumerate(lake.table_columns(zone, stream), start=1)
        ]
    )


class _StagedFiles:
    """One open Parquet file per zone and event hour of a task, fed in row groups."""

    def __init__(self, lake_root: str, stream: str) -> None:
        self.fs, self.base = filesystem(lake_root)
        self.stream = stream
        self.schemas = {zone: table_schema(zone, stream) for zone in lake.ZONES}
        self.attempt = uuid.uuid4().hex[:12]
        self.task_key: str | None = None
        self._pending: dict[tuple, list[pa.Table]] = {}
        self._pending_rows: dict[tuple, int] = {}
        self._writers: dict[tuple, pq.ParquetWriter] = {}
        self.rows: dict[tuple, int] = {}
        self.newest: dict[tuple, int] = {}
        self.reasons: dict[tuple, Counter] = {}

    def relative_path(self, key: tuple) -> str:
        """Within the table's location. The task's first Kafka coordinates say where the rows came
        from; the attempt's id keeps a retried or replayed task off every earlier attempt's files."""
        _, day, hour = key
        return f"data/{lake.partition_dir(day, hour)}/{self.task_key}-{self.attempt}.parquet"

    def add(self, zone: str, table: pa.Table) -> None:
        schema = self.schemas[zone]
        for (day, hour), part in _by_hour(table):
            key = (zone, day, hour)
            self._pending.setdefault(key, []).append(part.select(schema.names).cast(schema))
            self._pending_rows[key] = self._pending_rows.get(key, 0) + part.num_rows
            self.rows[key] = self.rows.get(key, 0) + part.num_rows
            if zone == lake.RAW:
                newest = pc.max(part.column("event_time").cast(_TIMESTAMP).cast(pa.int64())).as_py()
                self.newest[key] = max(self.newest.get(key, newest), newest)
            else:
                counts = self.reasons.setdefault(key, Counter())
                for item in pc.value_counts(part.column("quarantine_reason")).to_pylist():
                    counts[reason_class(item["values"])] += item["counts"]
            if self._pending_rows[key] >= ROW_GROUP_ROWS:
                self._flush(key)

    def _flush(self, key: tuple) -> None:
        import pyarrow.parquet as pq

        tables = self._pending.pop(key, [])
        self._pending_rows.pop(key, None)
        if not tables:
            return
        writer = self._writers.get(key)
        if writer is None:
            path = f"{lake.stream_dir(self.base, key[0], self.stream)}/{self.relative_path(key)}"
            if self.fs.type_name == "local":  # object stores have no folders to make
                self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
            writer = pq.ParquetWriter(
                self.fs.open_output_stream(path), self.schemas[key[0]], compression="snappy", coerce_timestamps="us"
            )
            self._writers[key] = writer
        writer.write_table(pa.concat_tables(tables), row_group_size=ROW_GROUP_ROWS)

    def close(self) -> pa.RecordBatch:
        for key in list(self._pending):
            self._flush(key)
        for writer in self._writers.values():
            writer.close()
        keys = sorted(self._writers)
        return pa.RecordBatch.from_pydict(
            {
                "zone": [zone for zone, _, _ in keys],
                "file": [self.relative_path(key) for key in keys],
                "event_date": [day for _, day, _ in keys],
                "event_hour": [hour for _, _, hour in keys],
                "rows": [self.rows[key] for key in keys],
                "newest_event_us": [self.newest.get(key) for key in keys],
                "reasons": [json.dumps(self.reasons[key]) if key in self.reasons else None for key in keys],
            },
            schema=STAGED_SCHEMA,
        )


def reason_class(reason: str | None) -> str:
    """What a quarantine reason is about, for counting: the field or check before its first colon
    ("speed_kmh", "event_time", "invalid JSON"), a bounded set."""
    return (reason or "unknown").split(":", 1)[0].strip()[:40] or "unknown"


def stager(
    stream: str, lake_root: str, bounds: EventTimeBounds | None = None
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """Kafka record batches of one task -> staged Parquet files; yields one STAGED_SCHEMA batch.

    Used by the Python Kafka source inside its reader and by ``mapInArrow`` after the native
    connector, so both paths stage the same files."""
    splitter = RecordSplitter(stream, bounds)

    def stage(records: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        files = _StagedFiles(lake_root, stream)
        for batch in records:
            if batch.num_rows == 0:
                continue
            if files.task_key is None:
                topic, partition, offset = (batch.column(c)[0].as_py() for c in ("topic", "partition", "offset"))
                files.task_key = f"{topic}-{partition}-{offset:012d}"
            parsed = pa.Table.from_batches([splitter.split(batch)])
            now = pa.repeat(pa.scalar(datetime.now(UTC), _TIMESTAMP), parsed.num_rows)
            parsed = parsed.append_column("ingested_at", now)
            rejected = pc.is_valid(parsed.column("quarantine_reason"))
            if pc.any(rejected).as_py():
                files.add(lake.QUARANTINE, parsed.filter(rejected))
                parsed = parsed.filter(pc.invert(rejected))
            if parsed.num_rows:
                files.add(lake.RAW, parsed)
        yield files.close()

    return stage


def _by_hour(table: pa.Table) -> Iterator[tuple[tuple, pa.Table]]:
    """Split rows by (event_date, event_hour). A batch of a live feed spans one or two hours."""
    dates, hours = table.column("event_date"), table.column("event_hour")
    if pc.count_distinct(hours).as_py() == 1 and pc.count_distinct(dates).as_py() == 1:
        yield (dates[0].as_py(), hours[0].as_py()), table
        return
    keys = pa.TableGroupBy(table.select(["event_date", "event_hour"]), ["event_date", "event_hour"]).aggregate([])
    for day, hour in zip(keys.column("event_date").to_pylist(), keys.column("event_hour").to_pylist(), strict=True):
        mask = pc.and_(pc.equal(dates, pa.scalar(day, pa.date32())), pc.equal(hours, pa.scalar(hour, pa.int32())))
        yield (day, hour), table.filter(mask)
