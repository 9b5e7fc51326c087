"""The lake's layout: the one place that spells out where things live under a lake root.

```
<root>/raw/<stream>/                  the Iceberg table of a stream's valid events, by event time (UTC):
                    metadata/         its metadata (snapshots, manifests)
                    data/event_date=YYYY-MM-DD/event_hour=H/*.parquet   its data files
<root>/quarantine/<stream>/           the table of the records it rejected, by Kafka time
<root>/catalog.db                     the local SQLite catalog of the tables (lakehouse/catalogs.py)
<root>/_metrics/progress.jsonl        one JSON object per batch or event
<root>/_marts/<mart>.parquet          the dbt marts, exported for the dashboard
```

Nobody reads a table's folder: readers read the data files of its current snapshot
(lakehouse/snapshot.py). ``root`` is a path or a URI (``file://``, ``s3://``); the helpers only join strings.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import urlparse

from contract.events import BY_NAME

RAW = "raw"
QUARANTINE = "quarantine"
ZONES = (RAW, QUARANTINE)
METRICS_FILE = "_metrics/progress.jsonl"
MARTS = "_marts"
PARTITION_COLUMNS = ("event_date", "event_hour")
# Columns the job adds to every event it lands, as (name, type, description), in the contract's
# types plus bigint and date; each catalog maps them to its own (dbt sources, Glue).
ADDED_COLUMNS = (
    ("kafka_topic", "string", "Kafka topic the event was read from."),
    ("kafka_partition", "integer", "Kafka partition."),
    ("kafka_offset", "bigint", "Offset in the partition: with topic and partition, where the event came from."),
    ("kafka_timestamp", "timestamp", "Kafka record timestamp (producer create time), UTC."),
    ("ingested_at", "timestamp", "When the Spark job wrote the event to the lake, UTC."),
)
PARTITION_COLUMN_TYPES = (
    ("event_date", "date", "Partition column: UTC date of event_time."),
    ("event_hour", "integer", "Partition column: UTC hour of event_time."),
)
QUARANTINE_FIELDS = (
    ("raw_value", "string", "The record's value as received."),
    ("quarantine_reason", "string", "Why the record was not accepted: '<check>: <detail>'."),
)
STREAMS = tuple(BY_NAME)
# The schema of the DuckDB warehouse in which dbt sees each table's current snapshot as a view.
DUCKDB_LAKE = "smartcity_lake"


def table_columns(zone: str, stream: str) -> tuple[tuple[str, str, str], ...]:
    """The columns of a stream's table in ``zone``, (name, type, description), in field-id order:
    the first version's fields (or the raw value and the reason), Kafka coordinates,
    ``ingested_at``, the event hour's partition columns, then the fields later versions added, in
    the order they came: a table gains a version's columns at its end, so no field id moves."""
    if zone == QUARANTINE:
        return (*QUARANTINE_FIELDS, *ADDED_COLUMNS, *PARTITION_COLUMN_TYPES)
    event_type = BY_NAME[stream]
    added = event_type.added_since_first()
    head = tuple((f.name, f.type, f.description) for f in event_type.fields if f not in added)
    tail = tuple((f.name, f.type, f.description) for f in added)
    return (*head, *ADDED_COLUMNS, *PARTITION_COLUMN_TYPES, *tail)


def stream_dir(root: str | Path, zone: str, stream: str) -> str:
    return f"{root}/{zone}/{stream}"


def partition_dir(event_date: date | str, event_hour: int) -> str:
    """``event_date=YYYY-MM-DD/event_hour=H``: Hive-style, hours not zero-padded."""
    day = event_date.isoformat() if isinstance(event_date, date) else event_date
    return f"event_date={day}/event_hour={event_hour}"


def metrics_path(root: str) -> Path | None:
    """The metrics file of a local lake; None for an object store (metrics go to the log there)."""
    parsed = urlparse(str(root))
    if parsed.scheme not in ("", "file"):
        return None
    return Path(parsed.path if parsed.scheme else root) / METRICS_FILE


def mart_path(root: str | Path, name: str) -> Path:
    """The Parquet copy of one dbt mart (local lake), replaced atomically after each build."""
    return Path(root) / MARTS / f"{name}.parquet"
