"""`smartcity up`'s lake upkeep: compaction, snapshot expiry and orphan removal on a schedule."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingestion.fleet import FleetConfig
from lakehouse.catalogs import CatalogConfig
from smartcity.maintenance import LakeMaintainer
from smartcity.synthetic import catalog, fleet_payloads, land, raw_files
from tests.helpers.lake import count_rows


def test_upkeep_compacts_closed_hours_on_its_schedule(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    fleet = FleetConfig(vehicles=3, seed=9, start=datetime(2026, 11, 23, 6, 10, tzinfo=UTC), departure_window_s=1)
    for n in range(3):  # three batches (other Kafka offsets each) into the same, long closed, hours
        land(lake, {"vehicle": fleet_payloads(fleet, 120)["vehicle"]}, n * 10**6, datetime.now(UTC))
    before, files = count_rows(lake, "vehicle"), len(raw_files(lake))
    upkeep = LakeMaintainer(catalog(lake), every_s=0.2)
    upkeep.start()
    deadline = time.monotonic() + 60
    while upkeep.rounds < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    upkeep.stop()
    assert upkeep.rounds >= 1
    assert count_rows(lake, "vehicle") == before  # nothing lost, nothing doubled
    assert len(raw_files(lake)) < files  # the hours' files, one each now


def test_a_failing_round_is_logged_and_the_next_one_still_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "not-a-folder"
    broken.write_text("")
    upkeep = LakeMaintainer(CatalogConfig(f"sqlite:///{broken}/catalog.db", str(broken)), every_s=0.1)
    upkeep.start()
    time.sleep(0.5)
    alive = upkeep._thread.is_alive()
    upkeep.stop()
    assert alive and upkeep.rounds == 0
    assert sum("lake upkeep failed" in r.message for r in caplog.records) >= 2
