"""`make stream` (= `smartcity up`) as users run it: broker, Spark job and simulator started
together, the lake readable by DuckDB, and everything the command started stopped at exit."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from contract import BY_NAME
from tests.lake_helpers import query

pytestmark = [pytest.mark.spark, pytest.mark.broker]


def up(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    environ |= {"SMARTCITY_DATA_DIR": str(data_dir), **env}
    return subprocess.run(
        [sys.executable, "-m", "ingestion.cli", "up", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=environ,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_lands_every_stream_readable_by_duckdb_and_stops_what_it_started(tmp_path: Path) -> None:
    result = up(tmp_path, "--vehicles", "20", "--speedup", "20", "--duration", "30")
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stderr
    produced = json.loads(re.search(r"\[up\] simulator done: (\{.*\})", log).group(1))["per_topic"]
    job_pid = int(re.search(r"\[up\] spark job pid (\d+)", log).group(1))
    broker_port = int(re.search(r"\[up\] embedded broker \(tansu\) at 127\.0\.0\.1:(\d+)", log).group(1))

    lake = tmp_path / "lake"
    landed = {}
    for name, event_type in BY_NAME.items():
        if produced.get(event_type.topic):
            landed[name] = query(
                f"select count(*), count(distinct event_id), min(event_hour) >= 0 from read_parquet("
                f"'{lake}/raw/{name}/**/*.parquet', hive_partitioning = true)"
            )[0]
    # Four streams always flow; incidents are random (seeded) and usually do too.
    assert {"vehicle", "gps", "traffic", "weather"} <= set(landed)
    for name, (rows, distinct, partitioned) in landed.items():
        assert rows == distinct > 0 and partitioned, name
    # The job stops after its current batch, a few triggers after the simulator: what was sent landed.
    assert sum(rows for rows, _, _ in landed.values()) == sum(produced.values())

    assert not alive(job_pid), "the Spark job outlived `smartcity up`"
    probe = subprocess.run(
        [sys.executable, "-c", f"import socket; socket.create_connection(('127.0.0.1', {broker_port}), 1)"],
        capture_output=True,
    )
    assert probe.returncode != 0, "the embedded broker outlived `smartcity up`"


def test_up_stops_at_once_when_the_spark_job_dies(tmp_path: Path) -> None:
    """A job that cannot start (here: a lake URI with an unknown scheme) ends the whole command
    with the job's error, instead of simulating for the rest of the 10 minutes asked for."""
    began = time.monotonic()
    result = up(tmp_path, "--vehicles", "2", "--duration", "600", SMARTCITY_LAKE_ROOT="nowhere://lake")
    assert result.returncode == 1, result.stderr[-2000:]
    assert time.monotonic() - began < 120
    assert "smartcity: error: SMARTCITY_LAKE_ROOT: unsupported scheme 'nowhere'" in result.stderr
    assert re.search(r"\[up\] the Spark job exited with code 1; stopping", result.stderr)
    assert "Traceback" not in result.stderr
