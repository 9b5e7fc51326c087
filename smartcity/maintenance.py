"""The lake's upkeep inside `smartcity up`: every few minutes, compact the closed hours of every table,
expire old snapshots and delete orphan files (`smartcity compact` does the same once).

Compaction commits like the stream does (Iceberg snapshots, retried on conflict), so it runs beside
the job; a failure is logged and the next round tries again: upkeep never stops the pipeline."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from smartcity.periodic import Periodic

if TYPE_CHECKING:
    from lakehouse.catalogs import CatalogConfig


log = logging.getLogger("smartcity.maintain")

GRACE = timedelta(minutes=60)  # an hour is compacted once it ended this long ago


class LakeMaintainer(Periodic):
    thread_name = "lake-maintainer"

    def __init__(self, catalog: CatalogConfig, every_s: float) -> None:
        super().__init__(every_s)
        self.catalog = catalog
        self.rounds = 0

    def round(self) -> None:
        try:
            self.run_once()
        except Exception:
            log.exception("lake upkeep failed; the next round tries again")

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
