"""The lake's layout: the one place that spells out where things live under a lake root.

```
<root>/raw/<stream>/event_date=YYYY-MM-DD/event_hour=H/*.parquet         valid events, by event time (UTC)
<root>/quarantine/<stream>/event_date=.../event_hour=.../*.parquet       rejected records, by Kafka time
<root>/_staging/<zone>/<stream>/<task>/event_date=.../event_hour=.../    files a micro-batch has not committed
<root>/_metrics/progress.jsonl                                           one JSON object per batch or event
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
PARTITION_COLUMNS = ("event_date", "event_hour")
STREAMS = tuple(BY_NAME)


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
