"""When the checkpoint and the broker disagree, the stream fails with one clear line, or (when the
user chooses so) goes on from the earliest offsets and counts what it could not read. Never silent."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from contract import BY_NAME, metrics, topic_name
from contract.lake import metrics_path
from ingestion.faults import FaultConfig
from ingestion.fleet import FleetConfig
from ingestion.simulate import RunSummary
from smartcity.broker import EmbeddedBroker, ensure_topics
from spark.kafka_source import BrokerView, Offsets, reconcile
from tests.conftest import START
from tests.helpers.kafka import produce, send
from tests.helpers.lake import count_rows
from tests.helpers.launch import Launcher

PREFIX = "loss_"


def produce_fleet(bootstrap: str, vehicles: int, seconds: float, seed: int) -> RunSummary:
    ensure_topics(bootstrap, PREFIX, partitions=2)
    fleet = FleetConfig(vehicles=vehicles, seed=seed, start=START, departure_window_s=30)
    return produce(bootstrap, fleet, FaultConfig(seed=seed), prefix=PREFIX, duration_s=seconds)


def landed(lake: Path) -> Counter:
    counts = Counter()
    for name in BY_NAME:
        rows, distinct = count_rows(lake, name)
        assert rows == distinct, f"{name}: an event landed twice"
        counts[name] = rows
    return counts


def sent(*summaries: RunSummary) -> Counter:
    return Counter({name: sum(s.per_topic[topic_name(et, PREFIX)] for s in summaries) for name, et in BY_NAME.items()})


def test_a_new_broker_under_an_old_checkpoint_fails_clearly_or_lands_everything_once(
    tmp_path: Path, launch: Launcher
) -> None:
    with EmbeddedBroker() as first_broker:
        first = produce_fleet(first_broker.bootstrap, vehicles=8, seconds=240, seed=1)
        assert launch.drain(first_broker.bootstrap, tmp_path, PREFIX).returncode == 0
    lake = tmp_path / "lake"
    assert landed(lake) == sent(first)

    # A new broker (a new data folder: the old one's disk is gone) starts at offset 0 with new topic ids.
    with EmbeddedBroker() as second_broker:
        second = produce_fleet(second_broker.bootstrap, vehicles=3, seconds=60, seed=2)
        refused = launch.drain(second_broker.bootstrap, tmp_path, PREFIX)
        assert refused.returncode == 1
        last = refused.stderr.strip().splitlines()[-1]
        assert last.startswith("smartcity: error: query ")
        assert "topic re-created" in last and "--no-fail-on-data-loss" in last, last
        assert "checkpoint at offset" in last and "broker holds offsets 0.." in last, last
        assert landed(lake) == sent(first), "a refused run landed something"

        resumed = launch.drain(second_broker.bootstrap, tmp_path, PREFIX, "--no-fail-on-data-loss")
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert "WARN smartcity: data loss: topic " in resumed.stderr
    assert landed(lake) == sent(first, second)

    resets = [r for r in metrics.read_all(metrics_path(str(lake))) if isinstance(r, metrics.DataLossRow)]
    assert {(r.topic, r.partition) for r in resets} == {
        (topic_name(et, PREFIX), p) for et in BY_NAME.values() for p in (0, 1)
    }
    assert all(r.cause == "topic re-created" and r.checkpoint_offset >= 0 for r in resets)
    vehicle = [r for r in resets if r.stream == "vehicle"]
    assert sum(r.checkpoint_offset for r in vehicle) == sent(first)["vehicle"]
    assert sum(r.end_offset or 0 for r in vehicle) == sent(second)["vehicle"]


# -- how the source reconciles a checkpoint with what the broker holds (no Spark needed) ----------


def view(earliest: dict, end: dict, ids: dict | None = None) -> BrokerView:
    return BrokerView(earliest, end, ids or {"t": "id-1"})


def test_matching_offsets_are_no_gap_and_a_new_partition_starts_at_its_earliest_offset() -> None:
    checkpoint = Offsets({"t:0": 50, "t:1": 10}, {"t": "id-1"})
    origin, gaps = reconcile(checkpoint, view({"t:0": 0, "t:1": 0, "t:2": 7}, {"t:0": 80, "t:1": 10, "t:2": 9}))
    assert gaps == []
    assert origin == {"t:2": 7}


def test_records_deleted_before_they_were_read_are_counted() -> None:
    checkpoint = Offsets({"t:0": 50}, {"t": "id-1"})
    origin, gaps = reconcile(checkpoint, view({"t:0": 70}, {"t:0": 90}))
    assert origin == {"t:0": 70}
    [gap] = gaps
    assert (gap.cause, gap.lost_offsets) == ("records deleted before they were read", 20)


def test_a_recreated_topic_is_recognised_even_once_it_outgrew_the_checkpoint() -> None:
    checkpoint = Offsets({"t:0": 50}, {"t": "id-1"})
    origin, gaps = reconcile(checkpoint, view({"t:0": 0}, {"t:0": 500}, {"t": "id-2"}))
    assert origin == {"t:0": 0}
    assert [g.cause for g in gaps] == ["topic re-created"]


def test_offsets_behind_the_end_without_topic_ids_and_a_vanished_partition_are_gaps() -> None:
    checkpoint = Offsets.load({"t:0": 50, "t:1": 5})  # the flat form of checkpoints without topic ids
    origin, gaps = reconcile(checkpoint, view({"t:0": 0}, {"t:0": 20}, {}))
    assert origin == {"t:0": 0}
    assert [(g.partition, g.cause) for g in gaps] == [
        (0, "offsets moved back: broker state lost or topic re-created"),
        (1, "partition no longer exists"),
    ]


def test_offsets_round_trip_and_sort_for_spark() -> None:
    offsets = Offsets({"t:1": 3, "t:0": 2}, {"t": "x"}, {"t:1": 0})
    dumped = offsets.dump()
    assert list(dumped["offsets"]) == ["t:0", "t:1"]
    assert Offsets.load(json.loads(json.dumps(dumped))) == offsets


def test_a_planned_range_gone_from_the_broker_fails_or_is_skipped_and_counted(broker: EmbeddedBroker) -> None:
    """A task's offsets vanished between planning and reading (retention, a re-created topic)."""
    from spark.kafka_source import DataLoss, OffsetRange, read_range

    ensure_topics(broker.bootstrap, "gone_", partitions=1)
    send(broker.bootstrap, "gone_vehicle_data", ((b"k", b"v%d" % n) for n in range(10)))
    planned = OffsetRange("gone_vehicle_data", 0, 20, 30)  # the partition now ends at 10
    with pytest.raises(DataLoss, match=r"partition 0: checkpoint at offset 20, broker holds offsets 0\.\.10"):
        list(read_range(broker.bootstrap, planned, timeout_s=60))
    gaps = []
    assert list(read_range(broker.bootstrap, planned, timeout_s=60, on_gap=gaps.append)) == []
    assert [(g.checkpoint_offset, g.end_offset, g.lost_offsets) for g in gaps] == [(20, 10, 10)]


def test_a_replayed_batch_planned_on_a_topic_since_recreated_reads_nothing_of_it(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """After a restart Spark replays the last planned batch as it stands in the offset log: when
    its topic has been re-created since, those offsets name other records and must not be read."""
    from spark.kafka_source import DataLoss, KafkaStreamReader

    ensure_topics(broker.bootstrap, "replay_", partitions=1)
    options = {"kafka.bootstrap.servers": broker.bootstrap, "subscribe": "replay_gps_data", "landAs": "gps"}
    start = Offsets({"replay_gps_data:0": 0}, {"replay_gps_data": "an-earlier-topic-id"}).dump()
    end = Offsets({"replay_gps_data:0": 40}, {"replay_gps_data": "an-earlier-topic-id"}).dump()

    strict = KafkaStreamReader({**options, "lakeRoot": str(tmp_path)})
    with pytest.raises(DataLoss, match="topic re-created before a planned batch was read; 40 offsets lost"):
        strict.partitions(start, end)
    lenient = KafkaStreamReader({**options, "lakeRoot": str(tmp_path), "failOnDataLoss": "false"})
    assert lenient.partitions(start, end) == []
    rows = metrics.read_all(metrics_path(str(tmp_path)))
    assert [(type(r), getattr(r, "lost_offsets", None)) for r in rows] == [(metrics.DataLossRow, 40)]
    strict.stop()
    lenient.stop()
