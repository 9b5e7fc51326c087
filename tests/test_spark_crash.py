"""Exactly once under failure: SIGKILL the Spark driver mid-batch, twice, restart from the checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contract import BY_NAME, topic_name
from ingestion.broker import EmbeddedBroker, ensure_topics
from ingestion.faults import FaultConfig
from ingestion.fleet import FleetConfig
from ingestion.producer import make_producer
from ingestion.simulate import run
from tests.conftest import START
from tests.lake_helpers import count_rows

pytestmark = [pytest.mark.spark, pytest.mark.broker]

PREFIX = "crash_"
STREAMS = ("vehicle", "gps")


def _stream(bootstrap: str, root: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "SMARTCITY_DATA_DIR": str(root),
        "SMARTCITY_TOPIC_PREFIX": PREFIX,
        "SMARTCITY_TOPIC_PARTITIONS": "3",
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ingestion.cli",
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
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _kill_after_batches(process: subprocess.Popen, staging: Path, committed_files: int, lake: Path) -> None:
    """Wait until ``committed_files`` raw files exist and a batch is being staged, then SIGKILL."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        done = len(list(lake.glob("raw/*/*/*/*.parquet")))
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
    producer = make_producer("confluent", broker.bootstrap)
    fleet = FleetConfig(vehicles=60, seed=77, start=START, departure_window_s=30)
    summary = run(producer, fleet, FaultConfig(), topic_prefix=PREFIX, duration_s=1500, progress=None)
    producer.close()
    produced = {s: summary.per_topic[topic_name(BY_NAME[s], PREFIX)] for s in STREAMS}
    assert min(produced.values()) > 80_000

    lake, staging = tmp_path / "lake", tmp_path / "lake" / "_staging"
    first = _stream(broker.bootstrap, tmp_path)
    _kill_after_batches(first, staging, committed_files=1, lake=lake)
    after_first = sum(count_rows(lake, s)[0] for s in STREAMS)
    second = _stream(broker.bootstrap, tmp_path)
    _kill_after_batches(second, staging, committed_files=len(list(lake.glob("raw/*/*/*/*.parquet"))) + 2, lake=lake)
    after_second = sum(count_rows(lake, s)[0] for s in STREAMS)
    assert 0 < after_first < after_second < sum(produced.values()), "both kills happened mid-stream"

    final = _stream(broker.bootstrap, tmp_path)
    assert final.wait(300) == 0
    for stream, n in produced.items():
        rows, distinct = count_rows(lake, stream)  # DuckDB globbing the folder, as dbt does
        assert (rows, distinct) == (n, n), stream
