"""Pacing of event time against wall time: real time, accelerated, or backfill (no waiting)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from ingestion.fleet import Emitted


class Clock:
    """``speedup`` seconds of event time per wall second; ``None`` means as fast as possible."""

    def __init__(self, speedup: float | None) -> None:
        if speedup is not None and speedup <= 0:
            raise ValueError(f"--speedup must be positive, got {speedup}")
        self.speedup = speedup

    def paced(self, events: Iterable[Emitted]) -> Iterator[Emitted]:
        if self.speedup is None:
            yield from events
            return
        wall_start = time.monotonic()
        next_check = 0.0
        for ev in events:
            if ev.event_time_s >= next_check:
                # Sleep in small steps so the producer's progress line and Ctrl-C stay responsive.
                delay = wall_start + ev.event_time_s / self.speedup - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                next_check = ev.event_time_s + 0.05 * self.speedup
            yield ev
