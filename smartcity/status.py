"""What `make stream` shows: one table redrawn in place on a terminal, a short line every few seconds
elsewhere (CI, pipes). The job's and the refresher's logs go to a file the screen names."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from contract import metrics
from contract.events import BY_NAME, topic_name


@dataclass
class StreamState:
    landed: int = 0
    quarantined: int = 0
    lag: int | None = None
    last_batch_at: datetime | None = None
    last_batch_ms: int | None = None


@dataclass
class StatusBoard:
    """Per stream: sent (the simulator's live counter), landed, quarantined, lag in records, the last
    batch and how long ago it landed; plus the simulator's rate, the marts and where to look."""

    topic_prefix: str
    sent: Counter  # per topic, updated by the simulator as it sends
    log_path: str
    dashboard_url: str | None = None
    started: float = field(default_factory=time.monotonic)
    streams: dict[str, StreamState] = field(default_factory=lambda: {s: StreamState() for s in BY_NAME})
    marts: str = "not built yet"

    def update(self, rows: list[metrics.MetricsRow]) -> None:
        """Rows of the job's metrics file, in the order they were written."""
        for row in rows:
            if not isinstance(row, metrics.BatchRow) or row.stream not in self.streams:
                continue
            state = self.streams[row.stream]
            state.landed += row.rows
            state.quarantined += row.quarantined
            if row.source_lag_records is not None:
                state.lag = row.source_lag_records
            state.last_batch_at = datetime.fromisoformat(row.at)
            state.last_batch_ms = row.batch_ms

    def sent_to(self, stream: str) -> int:
        return self.sent.get(topic_name(BY_NAME[stream], self.topic_prefix), 0)

    def rate(self) -> float:
        return sum(self.sent.values()) / max(time.monotonic() - self.started, 1e-9)

    @staticmethod
    def _ago(at: datetime | None, now: datetime) -> str:
        return "-" if at is None else f"{max((now - at).total_seconds(), 0):.1f} s ago"

    def line(self, now: datetime | None = None) -> str:
        """The non-terminal form: one short line."""
        now = now or datetime.now(UTC)
        states = self.streams.values()
        lags = [s.lag for s in states if s.lag is not None]
        newest = max((s.last_batch_at for s in states if s.last_batch_at), default=None)
        return (
            f"[status] sent {sum(self.sent.values()):,} ({self.rate():,.0f} ev/s), "
            f"landed {sum(s.landed for s in states):,} rows this run, "
            f"quarantined {sum(s.quarantined for s in states):,}, lag {sum(lags) if lags else '-'}, "
            f"last batch {self._ago(newest, now)}, marts {self.marts}"
        )

    def table(self, now: datetime | None = None):
        """The terminal form: a rich table, one row per stream."""
        from rich.table import Table

        now = now or datetime.now(UTC)
        caption = f"simulator {self.rate():,.0f} ev/s · marts {self.marts} · logs {self.log_path}"
        if self.dashboard_url:
            caption += f" · dashboard {self.dashboard_url} (smartcity dashboard)"
        table = Table(title="smartcity: Boston to New York", caption=caption, caption_justify="left")
        for header in ("stream", "sent", "landed", "quarantined", "lag", "last batch", "batch time"):
            table.add_column(header, justify="left" if header == "stream" else "right")
        for stream, state in self.streams.items():
            table.add_row(
                stream,
                f"{self.sent_to(stream):,}",
                f"{state.landed:,}",
                f"{state.quarantined:,}",
                "-" if state.lag is None else f"{state.lag:,}",
                self._ago(state.last_batch_at, now),
                "-" if state.last_batch_ms is None else f"{state.last_batch_ms / 1000:.1f} s",
            )
        return table
