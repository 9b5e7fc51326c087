"""Background work of ``smartcity up`` (the marts refresher, the lake's upkeep): a daemon thread that
runs a round at a fixed rate until stopped, at a lower CPU priority than the pipeline."""

from __future__ import annotations

import contextlib
import os
import threading
import time

# The rounds have minutes of slack; the Spark job and the live page do not. On Linux a thread has
# its own nice value and the threads it starts (dbt's, DuckDB's, pyiceberg's) inherit it, so the
# background work yields the cores when they are contended.
NICENESS = 10


class Periodic:
    """Subclasses say what a round is (``round``, which handles its own errors: a round that fails must
    not stop the pipeline) and what to set up once in the thread first (``prepare``). A round starts
    every ``every_s`` seconds, not ``every_s`` after the previous one ended."""

    thread_name = "periodic"

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 60) -> bool:
        """True when the thread has ended (a round in progress finishes first)."""
        self._stop.set()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def prepare(self) -> None:
        """Once, in the thread, before the first round."""

    def round(self) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        with contextlib.suppress(AttributeError, OSError):
            thread = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + NICENESS))
        self.prepare()
        next_start = time.monotonic() + self.every_s
        while not self._stop.wait(max(0.0, next_start - time.monotonic())):
            next_start = time.monotonic() + self.every_s
            self.round()
