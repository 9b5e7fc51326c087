"""Pacing event time against wall time, and stopping it from another thread (how `smartcity up`
stops the simulator when the Spark job dies: no interrupt raised into the main thread)."""

from __future__ import annotations

import threading
import time

from ingestion.clock import Clock
from ingestion.fleet import Fleet, FleetConfig
from tests.conftest import START


def ticks(seconds: float) -> list:
    return list(Fleet(FleetConfig(vehicles=2, seed=3, start=START)).ticks(seconds))


def test_a_stop_set_by_another_thread_ends_real_time_pacing_within_a_step() -> None:
    minute, stop = ticks(60), threading.Event()
    threading.Timer(0.3, stop.set).start()
    began = time.monotonic()
    handed = list(Clock(10.0).paced(minute, stop))  # 60 s of event time: 6 s of wall time
    assert time.monotonic() - began < 1.0
    assert 0 < len(handed) < 10  # a tick each 0.1 s until the stop


def test_a_backfill_stops_at_the_next_tick_and_without_a_stop_hands_out_every_tick() -> None:
    all_ticks = ticks(30)
    assert len(list(Clock(None).paced(all_ticks))) == len(all_ticks)
    stop = threading.Event()
    handed = []
    for tick in Clock(None).paced(all_ticks, stop):
        handed.append(tick)
        if len(handed) == 5:
            stop.set()
    assert len(handed) == 5
