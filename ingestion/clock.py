"""Pacing of event time against wall time: real time, accelerated, or backfill (no waiting)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator

from contract.errors import InvalidSetting
from ingestion.fleet import Tick


class Clock:
    """``speedup`` seconds of event time per wall second; ``None`` means as fast as possible."""

    def __init__(self, speedup: float | None) -> None:
        if speedup is not None and speedup <= 0:
            raise InvalidSetting(f"--speedup must be positive, got {speedup}")
        self.speedup = speedup
        self.behind_s = 0.0  # the most a tick was handed out after its time: 0 when keeping up

    def paced(self, ticks: Iterable[Tick], *stops: threading.Event | None) -> Iterator[Tick]:
        """Each tick once its last event has happened: a tick's events are sent together, never
        before their event time. Ends early once any of ``stops`` is set (the first wakes a wait at
        once, the others within a step)."""
        events = [s for s in stops if s is not None] or [threading.Event()]
        wall_start = time.monotonic()
        for tick in ticks:
            if self.speedup is not None:
                due = wall_start + (tick.t + tick.tick_s) / self.speedup
                # Wait in small steps so the producer's progress line and the other stops stay responsive.
                while (delay := due - time.monotonic()) > 0:
                    events[0].wait(min(delay, 0.25))
                    if any(e.is_set() for e in events):
                        return
                self.behind_s = max(self.behind_s, -delay)
            if any(e.is_set() for e in events):
                return
            yield tick
