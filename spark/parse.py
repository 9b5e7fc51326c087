"""Contract -> Spark/Arrow schemas, and the split of Kafka records into valid rows and quarantine.

Validation is the contract's own validator (the one the simulator runs), applied per row
in ``mapInArrow``: a record is either a fully typed raw row or a quarantine row carrying
its raw value, the reason and its Kafka coordinates. Never a null-filled raw row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from contract.events import BY_NAME, EventType
from contract.validate import validator_for

_ARROW = {
    "string": pa.string(),
    "double": pa.float64(),
    "integer": pa.int32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
_SPARK = {"string": "string", "double": "double", "integer": "int", "timestamp": "timestamp"}

KAFKA_COLUMNS = (
    ("kafka_topic", "string"),
    ("kafka_partition", "int"),
    ("kafka_offset", "bigint"),
    ("kafka_timestamp", "timestamp"),
)
PARTITION_COLUMNS = ("event_date", "event_hour")
QUARANTINE_COLUMNS = ("raw_value", "quarantine_reason")


def parsed_arrow_schema(et: EventType) -> pa.Schema:
    return pa.schema(
        [(f.name, _ARROW[f.type]) for f in et.fields]
        + [
            ("kafka_topic", pa.string()),
            ("kafka_partition", pa.int32()),
            ("kafka_offset", pa.int64()),
            ("kafka_timestamp", pa.timestamp("us", tz="UTC")),
            ("event_date", pa.date32()),
            ("event_hour", pa.int32()),
            ("raw_value", pa.string()),
            ("quarantine_reason", pa.string()),
        ]
    )


def parsed_spark_schema(et: EventType) -> str:
    """DDL of the rows ``mapInArrow`` returns (contract fields, Kafka coordinates, partitions, quarantine)."""
    columns = [f"{f.name} {_SPARK[f.type]}" for f in et.fields]
    columns += [f"{name} {kind}" for name, kind in KAFKA_COLUMNS]
    columns += ["event_date date", "event_hour int", "raw_value string", "quarantine_reason string"]
    return ", ".join(columns)


def raw_columns(et: EventType) -> list[str]:
    return [*et.field_names, *(n for n, _ in KAFKA_COLUMNS), "ingested_at", *PARTITION_COLUMNS]


def _to_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text)


QUARANTINE_SCHEMA = pa.schema(
    [
        ("raw_value", pa.string()),
        ("quarantine_reason", pa.string()),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("kafka_timestamp", pa.timestamp("us", tz="UTC")),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)


class QuarantineWriter:
    """Writes rejected records to ``<root>/<stream>/event_date=/event_hour=/`` from the Python worker.

    Doing it here saves Spark a second pass over every micro-batch. File names come from the
    Kafka coordinates of the first record of the input batch, which a replayed micro-batch
    reads again with the same boundaries: a replay overwrites, it never adds. Files are
    written under a hidden name and renamed, so readers never see a partial file.
    """

    def __init__(self, root: str, stream: str) -> None:
        import pyarrow.fs as pafs

        uri = root.replace("s3a://", "s3://", 1)
        self.fs, base = pafs.FileSystem.from_uri(uri)
        self.base = f"{base.rstrip('/')}/{stream}"

    def write(self, rows: pa.Table, first: tuple[str, int, int]) -> None:
        import pyarrow.parquet as pq

        topic, partition, offset = first
        keys = pa.TableGroupBy(rows, ["event_date", "event_hour"]).aggregate([]).to_pylist()
        for key in keys:
            part = rows.filter(
                (pc.field("event_date") == key["event_date"]) & (pc.field("event_hour") == key["event_hour"])
            )
            folder = f"{self.base}/event_date={key['event_date'].isoformat()}/event_hour={key['event_hour']}"
            name = f"q-{topic}-{partition}-{offset:012d}.parquet"
            self.fs.create_dir(folder, recursive=True)
            hidden = f"{folder}/.{name}.tmp"
            with self.fs.open_output_stream(hidden) as out:
                pq.write_table(part.select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA), out)
            self.fs.move(hidden, f"{folder}/{name}")


def splitter(
    stream: str, quarantine_root: str | None = None
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function that turns Kafka record batches into parsed rows for one stream.

    Rejected records are kept in the output (contract columns null, ``quarantine_reason``
    set) so the job can count them, and, with ``quarantine_root``, written to the quarantine."""
    et = BY_NAME[stream]
    schema = parsed_arrow_schema(et)
    field_names = et.field_names
    field_types = {f.name: f.type for f in et.fields}

    def split(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        validator = validator_for(stream)
        quarantine = QuarantineWriter(quarantine_root, stream) if quarantine_root else None
        for batch in batches:
            values = batch.column("value").to_pylist()
            kafka_ts = batch.column("timestamp")
            columns: dict[str, list] = {name: [] for name in field_names}
            raw_values, reasons = [], []
            for payload in values:
                if payload is None:
                    event, reason = None, "empty Kafka record (null value)"
                else:
                    event, reason = validator.parse(payload)
                if event is None:
                    for col in columns.values():
                        col.append(None)
                    raw_values.append(payload.decode("utf-8", "backslashreplace") if payload is not None else None)
                    reasons.append(reason)
                else:
                    for name in field_names:
                        columns[name].append(event[name])
                    raw_values.append(None)
                    reasons.append(None)
            arrays = []
            for name in field_names:
                kind = field_types[name]
                if kind == "timestamp":
                    arrays.append(
                        pa.array([None if v is None else _to_datetime(v) for v in columns[name]], _ARROW["timestamp"])
                    )
                else:
                    arrays.append(pa.array(columns[name], _ARROW[kind]))
            # Valid rows are partitioned by event time; quarantined rows by when Kafka got them.
            event_time = pc.coalesce(arrays[field_names.index("event_time")], kafka_ts)
            arrays += [
                batch.column("topic"),
                batch.column("partition"),
                batch.column("offset"),
                kafka_ts,
                pc.cast(event_time, pa.date32()),
                pc.cast(pc.hour(event_time), pa.int32()),
                pa.array(raw_values, pa.string()),
                pa.array(reasons, pa.string()),
            ]
            out = pa.RecordBatch.from_arrays(arrays, schema=schema)
            if quarantine is not None and any(r is not None for r in reasons):
                rejected = pa.Table.from_batches([out]).filter(pc.is_valid(out.column("quarantine_reason")))
                now = pa.array([datetime.now(UTC)] * rejected.num_rows, pa.timestamp("us", tz="UTC"))
                first = (
                    batch.column("topic")[0].as_py(),
                    batch.column("partition")[0].as_py(),
                    batch.column("offset")[0].as_py(),
                )
                quarantine.write(rejected.append_column("ingested_at", now), first)
            yield out

    return split
