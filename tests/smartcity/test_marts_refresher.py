"""The marts refresher inside `smartcity up`: its builds yield the cores to the stream, and each one
tests what arrived since the previous good build."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from smartcity import marts
from smartcity.config import Settings
from smartcity.periodic import NICENESS


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_builds_run_at_a_lower_priority_and_so_do_the_threads_they_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    built = threading.Event()

    def build(settings: Settings, runner: object, tests_since: object = None) -> bool:
        started: list[int] = []  # as dbt's and DuckDB's worker threads are started by the build
        worker = threading.Thread(target=lambda: started.append(niceness()))
        worker.start()
        worker.join()
        seen.append((niceness(), started[0]))
        built.set()
        return True

    monkeypatch.setattr(marts, "build_and_export", build)
    settings = Settings(None, "", 3, tmp_path, str(tmp_path / "lake"), str(tmp_path / "ck"))
    before = niceness()
    refresher = marts.MartsRefresher(settings, every_s=0.05)
    refresher.start()
    try:
        assert built.wait(60)
    finally:
        refresher.stop()
    lower = min(19, before + NICENESS)
    assert seen[0] == (lower, lower)
    assert niceness() == before  # the rest of the process (the simulator, the status display) keeps its priority
    assert refresher.builds >= 1


def test_each_build_tests_what_arrived_since_the_previous_good_one_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    calls: list[tuple[datetime, object]] = []
    outcomes = iter([True, False, True, True])
    done = threading.Event()

    def build(settings: Settings, runner: object, tests_since: object = None) -> bool:
        calls.append((datetime.now(UTC), tests_since))
        if len(calls) == 4:
            done.set()
        return next(outcomes, True)

    monkeypatch.setattr(marts, "build_and_export", build)
    refresher = marts.MartsRefresher(Settings(None, "", 3, tmp_path, str(tmp_path / "l"), str(tmp_path / "c")), 0.05)
    refresher.start()
    try:
        assert done.wait(60)
    finally:
        refresher.stop()
    (_, since_1), (second, since_2), (_, since_3), (_, since_4) = calls[:4]
    assert since_1 is None  # the first build of a run tests every row
    assert isinstance(since_2, datetime) and since_2 <= second and (second - since_2).total_seconds() < 1
    assert since_3 == since_2  # the second build failed: what it would have tested is tested again
    assert isinstance(since_4, datetime) and since_4 > since_3


def test_new_partitions_are_the_hours_a_snapshot_added_a_file_to_since(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from ingestion.fleet import FleetConfig
    from smartcity.config import Settings
    from smartcity.synthetic import fleet_payloads, land

    def fleet(start: str, streams: tuple[str, ...]) -> dict[str, list[bytes]]:
        config = FleetConfig(vehicles=1, seed=4, start=datetime.fromisoformat(start), departure_window_s=1)
        return {s: v for s, v in fleet_payloads(config, 60).items() if s in streams}

    lake = tmp_path / "lake"
    land(lake, fleet("2026-11-23T08:10:00+00:00", ("vehicle", "gps")), 0, datetime.now(UTC))
    since = datetime.now(UTC)
    land(lake, fleet("2026-11-23T09:10:00+00:00", ("vehicle",)), 10**6, datetime.now(UTC))
    land(lake, fleet("2026-11-22T23:10:00+00:00", ("vehicle",)), 2 * 10**6, datetime.now(UTC))  # late, own hour
    found = marts.new_partitions(Settings(None, "", 4, tmp_path, str(lake), str(tmp_path / "ck")), since)
    assert found["vehicle"] == {"2026-11-22": [23], "2026-11-23": [9]}
    assert found["gps"] == {} and found["emergency"] == {}
