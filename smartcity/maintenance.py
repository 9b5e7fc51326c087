"""The lake's upkeep inside `smartcity up`: every few minutes, compact the closed hours of every table,
expire old snapshots and delete orphan files (`smartcity compact` does the same once).

Compaction commits like the stream does (Iceberg snapshots, retried on conflict), so it runs beside
the job; a failure is logged and the next round tries again: upkeep never stops the pipeline."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lakehouse.catalogs import CatalogConfig


log = logging.getLogger("smartcity.maintain")

NICENESS = 10  # background work, like the marts refresher
GRACE = timedelta(minutes=60)  # an hour is compacted once it ended this long ago


class LakeMaintainer:
    def __init__(self, catalog: CatalogConfig, every_s: float) -> None:
        self.catalog, self.every_s = catalog, every_s
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lake-maintainer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 60) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def run_once(self) -> None:
        from lakehouse.maintain import maintain_lake
        from lakehouse.rewrite import compact_lake

        compacted = compact_lake(self.catalog, grace=GRACE)
        kept = maintain_lake(self.catalog)
        self.rounds += 1
        log.info(
            "lake upkeep: %d hours compacted, %d snapshots expired, %d orphan files deleted",
            sum(1 for c in compacted if c.committed),
            sum(m.snapshots_expired for m in kept),
            sum(m.orphans_deleted for m in kept),
        )

    def _loop(self) -> None:
        with contextlib.suppress(AttributeError, OSError):
            thread = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + NICENESS))
        while not self._stop.wait(self.every_s):
            try:
                self.run_once()
            except Exception:
                log.exception("lake upkeep failed; the next round tries again")
