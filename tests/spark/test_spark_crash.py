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
        "--streams", ",".join(STREAMS), "--max-offsets-per-trigger", "12000",
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


def test_a_batch_in_the_table_but_not_in_sparks_commit_log_is_not_appended_again(
    broker: EmbeddedBroker, tmp_path: Path, launch: Launcher
) -> None:
    """A driver killed between its Iceberg commit and Spark's commit log leaves exactly this: the
    batch's snapshot in the table, the batch missing from the checkpoint's commits. The restart
    replays the batch (same id, same offsets) and must recognise it from the snapshot history."""
    from lakehouse.commit import BATCH_ID
    from lakehouse.snapshot import load_table
    from tests.helpers.lake import catalog

    prefix = "replay_"
    ensure_topics(broker.bootstrap, prefix, partitions=2)
    summary = produce(broker.bootstrap, FleetConfig(vehicles=5, seed=78, start=START), prefix=prefix, duration_s=300)
    produced = summary.per_topic[topic_name(BY_NAME["vehicle"], prefix)]
    drain = ("stream", "--bootstrap", broker.bootstrap, "--available-now", "--streams", "vehicle")
    assert launch.run(*drain, data_dir=tmp_path, SMARTCITY_TOPIC_PREFIX=prefix).returncode == 0
    lake = tmp_path / "lake"
    table = load_table(catalog(lake), "raw", "vehicle")
    snapshots = len(table.metadata.snapshots)
    last = max(int(s.summary[BATCH_ID]) for s in table.metadata.snapshots if s.summary and BATCH_ID in s.summary)
    checkpoint = tmp_path / "checkpoints" / "vehicle"
    commit_log = checkpoint / "commits" / str(last)
    assert commit_log.exists()
    # As the kill leaves it: the batch is the newest in the offset log, absent from the commit log.
    for log, newer_than in (("offsets", last), ("commits", last - 1)):
        for entry in (checkpoint / log).iterdir():
            batch = entry.name.lstrip(".").split(".", 1)[0]
            if batch.isdigit() and int(batch) > newer_than:
                entry.unlink()

    again = launch.run(*drain, data_dir=tmp_path, SMARTCITY_TOPIC_PREFIX=prefix)
    assert again.returncode == 0, again.stderr[-3000:]
    assert count_rows(lake, "vehicle") == (produced, produced)
    assert commit_log.exists(), "Spark replayed the batch and committed it this time"
    assert len(load_table(catalog(lake), "raw", "vehicle").metadata.snapshots) == snapshots
