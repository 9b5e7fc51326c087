"""The marts refresher inside `smartcity up`: its builds yield the cores to the stream."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from smartcity import marts
from smartcity.config import Settings


def niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_builds_run_at_a_lower_priority_and_so_do_the_threads_they_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    built = threading.Event()

    def build(settings: Settings, runner: object) -> bool:
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
    lower = min(19, before + marts.BUILD_NICENESS)
    assert seen[0] == (lower, lower)
    assert niceness() == before  # the rest of the process (the simulator, the status display) keeps its priority
    assert refresher.builds >= 1
