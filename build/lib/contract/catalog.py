"""The lake's tables in a Hive-style catalog (AWS Glue: Athena, Redshift Spectrum): columns and
types from the one contract, the Parquet storage format, the partition keys and their projection."""

from __future__ import annotations

from dataclasses import dataclass

from contract import lake
from contract.events import BY_NAME
from contract.lake import PARTITION_COLUMNS, QUARANTINE, RAW, STREAMS

HIVE_TYPES = {"string": "string", "double": "double", "integer": "int", "bigint": "bigint", "timestamp": "timestamp"}
ADDED_COLUMNS = tuple((n, HIVE_TYPES[t], d) for n, t, d in lake.ADDED_COLUMNS)
QUARANTINE_COLUMNS = (
    ("raw_value", "string", "The record's value as received."),
    ("quarantine_reason", "string", "Why the record was not accepted: '<check>: <detail>'."),
    *ADDED_COLUMNS,
)
# Partition keys are folder names, never columns of the files (Spectrum refuses a key that is both);
# the date is a string key in Glue, which Athena's date projection reads with its format.
PARTITION_KEYS = (
    ("event_date", "string", "UTC date of event_time, yyyy-MM-dd."),
    ("event_hour", "int", "UTC hour of event_time, 0-23 (not zero-padded)."),
)
assert tuple(name for name, _, _ in PARTITION_KEYS) == PARTITION_COLUMNS
PARQUET_STORAGE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}


@dataclass(frozen=True)
class CatalogTable:
    name: str  # the Glue table: "vehicle", "quarantine_vehicle"
    zone: str
    stream: str
    columns: tuple[tuple[str, str, str], ...]  # (name, Hive type, comment)


def columns(zone: str, stream: str) -> tuple[tuple[str, str, str], ...]:
    if zone == QUARANTINE:
        return QUARANTINE_COLUMNS
    fields = [(f.name, HIVE_TYPES[f.type], f.description) for f in BY_NAME[stream].fields]
    return (*fields, *ADDED_COLUMNS)


def tables() -> list[CatalogTable]:
    """One table per stream and zone."""
    return [
        CatalogTable(stream if zone == RAW else f"{zone}_{stream}", zone, stream, columns(zone, stream))
        for zone in (RAW, QUARANTINE)
        for stream in STREAMS
    ]


def projection(first_date: str) -> dict[str, str]:
    """Athena partition projection: new hours are readable the moment their files land, with no
    partition to register (Redshift Spectrum ignores this and reads registered partitions)."""
    return {
        "projection.enabled": "true",
        "projection.event_date.type": "date",
        "projection.event_date.format": "yyyy-MM-dd",
        "projection.event_date.range": f"{first_date},NOW",
        "projection.event_date.interval": "1",
        "projection.event_date.interval.unit": "DAYS",
        "projection.event_hour.type": "integer",
        "projection.event_hour.range": "0,23",
    }
