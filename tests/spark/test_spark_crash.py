"""Exactly once under failure: SIGKILL the Spark driver mid-batch, twice, restart from the checkpoint."""

from __future__ import annotations

import subprocess
from pathlib import Path

from contract import BY_NAME, topic_name
from ingestion.fleet import FleetConfig
from smartcity.broker import EmbeddedBroker, ensure_topics
from smartcity.pipeline import batch_in_flight
from tests.conftest import START
from tests.helpers.kafka import produce
from tests.helpers.lake import committed_files, count_rows
from tests.helpers.launch import Launcher

PREFIX = "crash_"
STREAMS = ("vehicle", "gps")


def _stream(launch: Launcher, bootstrap: str, root: Path) -> subprocess.Popen:
    return launch.start(
        "stream", "--bootstrap", bootstrap, "--master", "local[2]", "--available-now",
        "--streams", ",".join(STREAMS), "--max-offsets-per-trigger", "30000",
        data_dir=root, SMARTCITY_TOPIC_PREFIX=PREFIX, SMARTCITY_TOPIC_PARTITIONS="3",
    )  # fmt: skip


def test_sigkill_mid_batch_twice_then_every_event_is_in_raw_exactly_once(
    broker: EmbeddedBroker, tmp_path: Path, launch: Launcher
) -> None:
    ensure_topics(broker.bootstrap, PREFIX, partitions=3)
    fleet = FleetConfig(vehicles=60, seed=77, start=START, departure_window_s=30)
    summary = produce(broker.bootstrap, fleet, prefix=PREFIX, duration_s=1500)
    produced = {s: summary.per_topic[topic_name(BY_NAME[s], PREFIX)] for s in STREAMS}
    assert min(produced.values()) > 80_000

    lake = tmp_path / "lake"
    first = _stream(launch, broker.bootstrap, tmp_path)
    launch.kill_when(first, lambda: batch_in_flight(lake), what="a batch in flight")
    after_first = sum(count_rows(lake, s)[0] for s in STREAMS)
    second = _stream(launch, broker.bootstrap, tmp_path)
    committed = committed_files(lake)
    launch.kill_when(second, lambda: batch_in_flight(lake, committed + 2), what="a later batch in flight")
    after_second = sum(count_rows(lake, s)[0] for s in STREAMS)
    assert 0 < after_first < after_second < sum(produced.values()), "both kills happened mid-stream"

    final = _stream(launch, broker.bootstrap, tmp_path)
    assert final.wait(300) == 0
    for stream, n in produced.items():
        rows, distinct = count_rows(lake, stream)  # DuckDB over the current snapshots, as dbt reads them
        assert (rows, distinct) == (n, n), stream
