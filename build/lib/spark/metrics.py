"""Per-batch progress of every query: to the log and to the metrics file (a local lake's
``_metrics/progress.jsonl``, or the data folder's for a lake on an object store).

Spark's own progress (batch duration, source lag) is joined with what the writer counted
(records read, rows landed, rows quarantined, files written), from which the rates come. The file is
one JSON object per line so a dashboard and the Prometheus endpoint can tail it.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql.streaming import StreamingQueryListener

from contract import metrics

log = logging.getLogger("smartcity.stream")


@dataclass(frozen=True)
class BatchStats:
    stream: str
    batch_id: int
    rows: int
    quarantined: int
    files: int
    write_ms: int  # the whole foreachBatch call: the tasks (read, parse, stage) and the commit
    commit_ms: int = 0  # the commit alone (driver side)
    newest_event_time: str | None = None  # of the rows landed, ISO-8601 UTC
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def as_tuple(self) -> tuple:
        return (self.stream, self.batch_id, self.rows, self.quarantined, self.files, self.write_ms)


def source_lag(source: Any) -> int | None:
    """Records between the batch's end offset and the newest offset the source saw."""
    try:
        end = json.loads(source.endOffset) if source.endOffset else {}
        latest = json.loads(source.latestOffset) if source.latestOffset else {}
    except (TypeError, ValueError, AttributeError):
        return None
    if not latest:
        return None
    flat_end, flat_latest = _flatten(end), _flatten(latest)
    return sum(max(v - flat_end.get(k, 0), 0) for k, v in flat_latest.items())


def _flatten(offsets: dict) -> dict[str, int]:
    """Both offset shapes: the Python source's {"offsets": {"topic:p": n}, ...} and the native
    {"topic": {"p": n}}."""
    if isinstance(offsets.get("offsets"), dict):
        offsets = offsets["offsets"]
    flat = {}
    for key, value in offsets.items():
        if isinstance(value, dict):
            flat.update({f"{key}:{p}": int(n) for p, n in value.items()})
        else:
            flat[key] = int(value)
    return flat


class MetricsSink:
    def __init__(self, metrics_file: str | Path | None) -> None:
        self.metrics_file = metrics_file
        self._batches: dict[tuple[str, int], BatchStats] = {}
        self._last_trigger: dict[str, float] = {}
        self._lock = threading.Lock()

    def record_batch(self, stats: BatchStats) -> None:
        with self._lock:
            self._batches[(stats.stream, stats.batch_id)] = stats

    def record_progress(self, progress: Any) -> metrics.BatchRow:
        with self._lock:
            batch = self._batches.pop((progress.name, progress.batchId), None)
        lag = source_lag(progress.sources[0]) if progress.sources else None
        # Spark counts the rows the source returned, which are staged files (spark/stage.py): the
        # Kafka records behind them are what the writer counted.
        records = batch.rows + batch.quarantined if batch else 0
        batch_ms = (progress.durationMs or {}).get("triggerExecution") or 0
        started = datetime.fromisoformat(progress.timestamp.replace("Z", "+00:00")).timestamp()
        previous = self._last_trigger.get(progress.name)
        self._last_trigger[progress.name] = started
        since_previous = started - previous if previous is not None else batch_ms / 1000
        row = metrics.BatchRow(
            at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            stream=progress.name,
            batch_id=progress.batchId,
            input_rows=records,
            input_rows_per_s=round(records / since_previous, 1) if since_previous > 0 else 0.0,
            processed_rows_per_s=round(records * 1000 / batch_ms, 1) if batch_ms else 0.0,
            batch_ms=batch_ms,
            source_lag_records=lag,
            **({k: v for k, v in asdict(batch).items() if k not in ("stream", "batch_id")} if batch else {}),
        )
        with self._lock:
            metrics.append(self.metrics_file, row)
        return row

    def listener(self) -> StreamingQueryListener:
        sink = self

        class _Listener(StreamingQueryListener):
            def onQueryStarted(self, event: Any) -> None:
                log.info("query started name=%s id=%s", event.name, event.id)

            def onQueryProgress(self, event: Any) -> None:
                row = sink.record_progress(event.progress)
                if row.input_rows:
                    log.info("progress %s", metrics.encode(row))

            def onQueryIdle(self, event: Any) -> None:
                pass

            def onQueryTerminated(self, event: Any) -> None:
                if event.exception:  # the application reports the failure itself, in one line
                    log.debug("query terminated id=%s error=%s", event.id, event.exception)

        return _Listener()
