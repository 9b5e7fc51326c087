"""Exactly once under failure: SIGKILL the Spark driver mid-batch, twice, restart from the checkpoint."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from contract import BY_NAME, topic_name
from contract.lake import files_glob
from ingestion.fleet import FleetConfig
from smartcity.broker import EmbeddedBroker, ensure_topics
from tests.conftest import START
from tests.helpers.cli import command, environment
from tests.helpers.kafka import produce
from tests.helpers.lake import count_rows

pytestmark = [pytest.mark.spark, pytest.mark.broker]

PREFIX = "crash_"
STREAMS = ("vehicle", "gps")


def _stream(bootstrap: str, root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command(
            "stream",
            "--bootstrap",
            bootstrap,
            "--master",
            "local[2]",
            "--available-now",
            "--streams",
            ",".join(STREAMS),
            "--max-offsets-per-trigger",
            "30000",
        ),
        env=environment(root, SMARTCITY_TOPIC_PREFIX=PREFIX, SMARTCITY_TOPIC_PARTITIONS="3"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _kill_after_batches(process: subprocess.Popen, staging: Path, committed_files: int, lake: Path) -> None:
    """Wait until ``committed_files`` raw files exist and a batch is being staged, then SIGKILL."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        done = len(glob.glob(files_glob(lake)))
        try:
            in_flight = any(staging.glob("**/*.parquet"))
        except FileNotFoundError:  # the job removed a staging folder while we walked it
            in_flight = False
        if done >= committed_files and in_flight:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)
            return
        assert process.poll() is None, "job ended before it could be killed"
        time.sleep(0.02)
    pytest.fail("no batch was in flight within 240 s")


def test_sigkill_mid_batch_twice_then_every_event_is_in_raw_exactly_once(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    ensure_topics(broker.bootstrap, PREFIX, partitions=3)
    fleet = FleetConfig(vehicles=60, seed=77, start=START, departure_window_s=30)
    summary = produce(broker.bootstrap, fleet, prefix=PREFIX, duration_s=1500)
    produced = {s: summary.per_topic[topic_name(BY_NAME[s], PREFIX)] for s in STREAMS}
    assert min(produced.values()) > 80_000

    lake, staging = tmp_path / "lake", tmp_path / "lake" / "_staging"
    first = _stream(broker.bootstrap, tmp_path)
    _kill_after_batches(first, staging, committed_files=1, lake=lake)
    after_first = sum(count_rows(lake, s)[0] for s in STREAMS)
    second = _stream(broker.bootstrap, tmp_path)
    _kill_after_batches(second, staging, committed_files=len(glob.glob(files_glob(lake))) + 2, lake=lake)
    after_second = sum(count_rows(lake, s)[0] for s in STREAMS)
    assert 0 < after_first < after_second < sum(produced.values()), "both kills happened mid-stream"

    final = _stream(broker.bootstrap, tmp_path)
    assert final.wait(300) == 0
    for stream, n in produced.items():
        rows, distinct = count_rows(lake, stream)  # DuckDB globbing the folder, as dbt does
        assert (rows, distinct) == (n, n), stream
