"""The lake's layout: the one place that spells out where things live under a lake root.

```
<root>/raw/<stream>/event_date=YYYY-MM-DD/event_hour=H/*.parquet         valid events, by event time (UTC)
<root>/quarantine/<stream>/event_date=.../event_hour=.../*.parquet       rejected records, by Kafka time
<root>/_staging/<zone>/<stream>/<task>/event_date=.../event_hour=.../    files a micro-batch has not committed
<root>/_metrics/progress.jsonl                                           one JSON object per batch or event
<root>/_marts/<mart>.parquet                                             the dbt marts, exported for the dashboard
```

Readers that glob the lake (DuckDB, dbt, Athena, Spectrum) ignore names starting with ``_`` or
``.``: staging and metrics are never read as data. ``root`` is a path or a URI (``file://``,
``s3://``); the helpers only join strings.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import urlparse

from contract.events import BY_NAME

RAW = "raw"
QUARANTINE = "quarantine"
ZONES = (RAW, QUARANTINE)
STAGING = "_staging"
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
STREAMS = tuple(BY_NAME)
# The schema of the DuckDB warehouse in which dbt sees each table's current snapshot as a view.
DUCKDB_LAKE = "smartcity_lake"


def stream_dir(root: str | Path, zone: str, stream: str) -> str:
    return f"{root}/{zone}/{stream}"


def partition_dir(event_date: date | str, event_hour: int) -> str:
    """``event_date=YYYY-MM-DD/event_hour=H``: Hive-style, hours not zero-padded."""
    day = event_date.isoformat() if isinstance(event_date, date) else event_date
    return f"event_date={day}/event_hour={event_hour}"


def files_glob(root: str | Path, zone: str = RAW, stream: str = "*") -> str:
    """Every data file of a stream (or of all streams, ``*``) in a zone."""
    return f"{stream_dir(root, zone, stream)}/*/*/*.parquet"


def staging_dir(zone: str, stream: str) -> str:
    """Relative to the lake root."""
    return f"{STAGING}/{zone}/{stream}"


def metrics_path(root: str) -> Path | None:
    """The metrics file of a local lake; None for an object store (metrics go to the log there)."""
    parsed = urlparse(str(root))
    if parsed.scheme not in ("", "file"):
        return None
    return Path(parsed.path if parsed.scheme else root) / METRICS_FILE


def mart_path(root: str | Path, name: str) -> Path:
    """The Parquet copy of one dbt mart (local lake), replaced atomically after each build."""
    return Path(root) / MARTS / f"{name}.parquet"


def partition_folders(root: str | Path, zone: str, stream: str) -> list[Path]:
    """The partition folders of a stream in a local lake, oldest hour first."""

    def hour_key(folder: Path) -> tuple[str, int]:
        return folder.parent.name.split("=", 1)[1], int(folder.name.split("=", 1)[1])

    return sorted(Path(stream_dir(root, zone, stream)).glob("event_date=*/event_hour=*"), key=hour_key)
