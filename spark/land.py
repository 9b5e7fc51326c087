"""The task side of a micro-batch: parsed Kafka records -> Parquet files in the batch's staging area.

A Spark task that reads a Kafka range also parses it (spark/parse.py) and writes the valid
rows with pyarrow, one file per event hour, under ``<lake>/_staging/raw/<stream>/``. It
returns one small row per file (its staging path, partition and row count) plus the number
of rows it quarantined; the driver then commits the batch by renaming the files into place
(spark/lake.py). This is the task-writes / driver-commits protocol of Spark's own file sinks,
minus the trip of every row from the Python worker into the JVM and back out as Parquet,
which cost more than reading and parsing it.

Staging names come from the Kafka coordinates of the task's first record, so a replayed
task overwrites its earlier attempt. Staging is never read by anyone but the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from contract.events import BY_NAME
from spark.parse import PARTITION_COLUMNS, EventTimeBounds, parsed_arrow_schema, splitter
from spark.storage import filesystem

STAGED_SCHEMA = pa.schema(
    [
        ("file", pa.string()),  # relative to the lake root; null on the row that only counts quarantined rows
        ("event_date", pa.date32()),
        ("event_hour", pa.int32()),
        ("rows", pa.int64()),
        ("quarantined", pa.int64()),
    ]
)
STAGED_DDL = "file string, event_date date, event_hour int, rows bigint, quarantined bigint"
# Rows buffered per event hour before they go out as one row group.
ROW_GROUP_ROWS = 200_000


def raw_arrow_schema(stream: str) -> pa.Schema:
    """The columns of a raw Parquet file: contract fields, Kafka coordinates, ``ingested_at``
    (the partition columns live in the folder names)."""
    parsed = parsed_arrow_schema(BY_NAME[stream])
    fields = [f for f in parsed if f.name not in (*PARTITION_COLUMNS, "raw_value", "quarantine_reason")]
    return pa.schema([*fields, pa.field("ingested_at", pa.timestamp("us", tz="UTC"))])


def staging_dir(stream: str) -> str:
    return f"_staging/raw/{stream}"


class _HourFiles:
    """One open Parquet file per event hour of a task, fed in row groups of ``ROW_GROUP_ROWS``."""

    def __init__(self, lake_root: str, stream: str, schema: pa.Schema) -> None:
        self.fs, self.base = filesystem(lake_root)
        self.stream, self.schema = stream, schema
        self.task_key: str | None = None
        self._pending: dict[tuple, list[pa.Table]] = {}
        self._pending_rows: dict[tuple, int] = {}
        self._writers: dict[tuple, object] = {}
        self.rows: dict[tuple, int] = {}

    def relative_path(self, hour: tuple) -> str:
        day, h = hour
        return f"{staging_dir(self.stream)}/{self.task_key}/event_date={day.isoformat()}/event_hour={h}/data.parquet"

    def add(self, hour: tuple, rows: pa.Table) -> None:
        self._pending.setdefault(hour, []).append(rows)
        self._pending_rows[hour] = self._pending_rows.get(hour, 0) + rows.num_rows
        self.rows[hour] = self.rows.get(hour, 0) + rows.num_rows
        if self._pending_rows[hour] >= ROW_GROUP_ROWS:
            self._flush(hour)

    def _flush(self, hour: tuple) -> None:
        import pyarrow.parquet as pq

        tables = self._pending.pop(hour, [])
        self._pending_rows.pop(hour, None)
        if not tables:
            return
        writer = self._writers.get(hour)
        if writer is None:
            path = f"{self.base}/{self.relative_path(hour)}"
            self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
            writer = pq.ParquetWriter(
                self.fs.open_output_stream(path), self.schema, compression="snappy", coerce_timestamps="us"
            )
            self._writers[hour] = writer
        writer.write_table(pa.concat_tables(tables), row_group_size=ROW_GROUP_ROWS)

    def close(self) -> list[tuple[str, tuple, int]]:
        for hour in list(self._pending):
            self._flush(hour)
        for writer in self._writers.values():
            writer.close()
        return [(self.relative_path(hour), hour, self.rows[hour]) for hour in sorted(self._writers)]


def lander(
    stream: str, lake_root: str, bounds: EventTimeBounds | None = None
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """Kafka record batches of one task -> staged Parquet files; yields one STAGED_SCHEMA batch.

    Used by the Python Kafka source inside its reader and by ``mapInArrow`` after the native
    connector, so both paths land the same files."""
    split = splitter(stream, f"{lake_root}/quarantine", bounds)
    schema = raw_arrow_schema(stream)

    def land(records: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        files = _HourFiles(lake_root, stream, schema)
        quarantined = 0
        for batch in split(records):
            if batch.num_rows == 0:
                continue
            if files.task_key is None:
                first = (batch.column("kafka_topic")[0], batch.column("kafka_partition")[0])
                offset = batch.column("kafka_offset")[0].as_py()
                files.task_key = f"{first[0].as_py()}-{first[1].as_py()}-{offset:012d}"
            rejected = pc.is_valid(batch.column("quarantine_reason"))
            n_rejected = pc.sum(rejected).as_py() or 0
            quarantined += n_rejected
            table = pa.Table.from_batches([batch])
            if n_rejected:
                table = table.filter(pc.invert(rejected))
            if table.num_rows == 0:
                continue
            now = pa.repeat(pa.scalar(datetime.now(UTC), pa.timestamp("us", tz="UTC")), table.num_rows)
            table = table.append_column("ingested_at", now)
            for hour, part in _by_hour(table):
                files.add(hour, part.select(schema.names).cast(schema))
        staged = files.close()
        out = {
            "file": [path for path, _, _ in staged] + [None],
            "event_date": [hour[0] for _, hour, _ in staged] + [None],
            "event_hour": [hour[1] for _, hour, _ in staged] + [None],
            "rows": [n for _, _, n in staged] + [0],
            "quarantined": [0] * len(staged) + [quarantined],
        }
        yield pa.RecordBatch.from_pydict(out, schema=STAGED_SCHEMA)

    return land


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
