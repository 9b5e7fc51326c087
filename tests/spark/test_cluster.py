"""The job on a real Spark standalone cluster (`smartcity cluster start`: a master and two one-core
workers from the installed pyspark), reading the embedded broker: exactly once, through the loss of a
worker, and nothing left running after `smartcity cluster stop`."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract import BY_NAME, topic_name
from ingestion.faults import FaultConfig
from ingestion.fleet import FleetConfig
from smartcity.broker import EmbeddedBroker, ensure_topics
from smartcity.cluster import ClusterState, cluster_dir, master_json, read_state
from smartcity.config import Settings
from smartcity.pipeline import batch_in_flight
from tests.conftest import START
from tests.helpers.cli import smartcity
from tests.helpers.kafka import produce
from tests.helpers.lake import count_rows
from tests.helpers.launch import Launcher
from tests.helpers.processes import descendants, listening


@pytest.fixture(scope="module")
def cluster_home(module_launch: Launcher, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data folder with a running two-worker cluster; stopped at the end whatever happened."""
    home = tmp_path_factory.mktemp("cluster")
    started = module_launch.run("cluster", "start", "--workers", "2", "--memory", "1g", data_dir=home, timeout=180)
    assert started.returncode == 0, started.stderr
    yield home
    module_launch.run("cluster", "stop", data_dir=home)


def settings(home: Path) -> Settings:
    return Settings(None, "", 3, home, str(home / "lake"), str(home / "checkpoints"))


def state(home: Path) -> ClusterState:
    found = read_state(settings(home))
    assert found is not None
    return found


def stream_on(
    launch: Launcher, master: str, bootstrap: str, home: Path, prefix: str, *streams: str, per_trigger: int = 20_000
) -> subprocess.Popen:
    return launch.start(
        "stream", "--bootstrap", bootstrap, "--master", master, "--available-now",
        "--max-offsets-per-trigger", str(per_trigger), *(["--streams", ",".join(streams)] if streams else []),
        data_dir=home, log=home / "stream.out", SMARTCITY_TOPIC_PREFIX=prefix,
    )  # fmt: skip


def test_the_cluster_listens_on_loopback_and_runs_two_workers(cluster_home: Path) -> None:
    running = state(cluster_home)
    view = master_json(running.master.ui_url)
    assert [w["state"] for w in view["workers"]] == ["ALIVE", "ALIVE"]
    assert view["cores"] == 2
    pids = set().union(*(descendants(d.pid) for d in running.daemons()))
    assert listening(pids) and listening(pids) <= {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
    status = smartcity("cluster", "status", data_dir=cluster_home)
    assert status.returncode == 0 and "workers alive: 2 of 2" in status.stdout


def test_a_backlog_drains_on_the_cluster_exactly_once(
    cluster_home: Path, broker: EmbeddedBroker, launch: Launcher
) -> None:
    prefix = "cluster_drain_"
    ensure_topics(broker.bootstrap, prefix, partitions=3)
    fleet = FleetConfig(vehicles=10, seed=10, start=START, departure_window_s=60)
    summary = produce(broker.bootstrap, fleet, FaultConfig(malformed_rate=0.002, seed=5), prefix=prefix, duration_s=600)
    assert len(summary.per_topic) == len(BY_NAME), "this seed must send every stream"
    job = stream_on(launch, state(cluster_home).master_url, broker.bootstrap, cluster_home, prefix)
    assert job.wait(300) == 0, (cluster_home / "stream.out").read_text()[-3000:]
    lake, quarantined = cluster_home / "lake", 0
    for stream, event_type in BY_NAME.items():
        rows, distinct = count_rows(lake, stream)
        bad, _ = count_rows(lake, stream, zone="quarantine")
        assert rows == distinct > 0, stream
        assert rows + bad == summary.per_topic[topic_name(event_type, prefix)], stream
        quarantined += bad
    assert quarantined == sum(summary.malformed.values()) > 0
    # The tasks ran in executors on both workers (each has a folder per application and executor).
    assert len(list((cluster_dir(settings(cluster_home)) / "work").glob("app-*/*"))) == 2


def test_losing_a_worker_mid_drain_still_lands_every_event_once(
    cluster_home: Path, broker: EmbeddedBroker, launch: Launcher
) -> None:
    prefix = "cluster_kill_"
    streams = ("vehicle", "gps")
    ensure_topics(broker.bootstrap, prefix, partitions=3)
    fleet = FleetConfig(vehicles=60, seed=78, start=START, departure_window_s=30)
    summary = produce(broker.bootstrap, fleet, prefix=prefix, duration_s=900)
    produced = {s: summary.per_topic[topic_name(BY_NAME[s], prefix)] for s in streams}
    running = state(cluster_home)
    home = cluster_home / "kill"
    home.mkdir()
    # Six batches a stream: the first batch in flight after a commit is early in the drain, whichever
    # of the two queries runs ahead (with three, one could be staging its last while the kill comes).
    job = stream_on(launch, running.master_url, broker.bootstrap, home, prefix, *streams, per_trigger=10_000)
    # The worker's executor ends with it, once a batch is committed and the next one is being staged.
    launch.wait_until(job, lambda: batch_in_flight(home / "lake"), what="a batch in flight")
    os.kill(running.workers[0].pid, signal.SIGKILL)
    landed_at_kill = sum(count_rows(home / "lake", s)[0] for s in streams)
    assert job.wait(400) == 0, (home / "stream.out").read_text()[-3000:]  # Spark re-ran the lost tasks elsewhere
    assert 0 < landed_at_kill < sum(produced.values()), "the kill happened mid-drain"
    for stream, n in produced.items():
        assert count_rows(home / "lake", stream) == (n, n), stream  # DuckDB reads every file


def test_stop_leaves_no_process_behind(cluster_home: Path) -> None:
    running = state(cluster_home)
    work = str(cluster_dir(settings(cluster_home)) / "work")
    stopped = smartcity("cluster", "stop", data_dir=cluster_home)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    left = [d.name for d in running.daemons() if _running(Path(f"/proc/{d.pid}"))]
    executors = [p.name for p in Path("/proc").glob("[0-9]*") if _running(p) and _cwd(p).startswith(work)]
    assert (left, executors) == ([], [])
    assert smartcity("cluster", "status", data_dir=cluster_home).returncode == 3


def _running(proc: Path) -> bool:
    """A process that exists and is not a zombie waiting for init to reap it."""
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cwd(proc: Path) -> str:
    try:
        return os.readlink(proc / "cwd")
    except OSError:
        return ""
