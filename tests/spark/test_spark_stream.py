"""The Spark job end to end: real broker, real Spark in local mode, DuckDB reading the lake."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from contract import BY_NAME, topic_name
from ingestion.faults import FaultConfig
from ingestion.fleet import FleetConfig
from ingestion.simulate import RunSummary
from smartcity.broker import EmbeddedBroker, ensure_topics
from spark.errors import QueryFailed
from spark.job import StreamOptions
from spark.job import run as run_job
from tests.conftest import START
from tests.helpers.drain import drain_options
from tests.helpers.kafka import produce
from tests.helpers.lake import catalog, count_rows, query, relation

PREFIX = "e2e_"


def produce_fleet(
    bootstrap: str, duration_s: float, start_offset_s: float = 0, malformed: float = 0.0, seed: int = 31
) -> RunSummary:
    fleet = FleetConfig(
        vehicles=20,
        seed=seed,
        start=START + timedelta(seconds=start_offset_s),
        departure_window_s=60,
        camera_spacing_km=2,
        incidents_per_vehicle_hour=8,
    )
    faults = FaultConfig(malformed_rate=malformed, seed=int(start_offset_s) + 1)
    summary = produce(bootstrap, fleet, faults, prefix=PREFIX, duration_s=duration_s)
    assert summary.failed == 0
    return summary


@dataclass
class StreamedLake:
    """A lake the job landed from the broker, the options it ran with, and what was produced."""

    root: Path
    options: StreamOptions
    summaries: list[RunSummary]

    @property
    def path(self) -> Path:
        return self.root / "lake"


@pytest.fixture(scope="module")
def lake(broker: EmbeddedBroker, spark_in_process: None, tmp_path_factory: pytest.TempPathFactory) -> StreamedLake:
    ensure_topics(broker.bootstrap, PREFIX, partitions=3)
    root = tmp_path_factory.mktemp("lake")
    first = produce_fleet(broker.bootstrap, 600, malformed=0.01)
    options = drain_options(broker.bootstrap, root / "lake", root / "checkpoints", PREFIX, max_offsets_per_trigger=8000)
    assert run_job(options) == 0
    return StreamedLake(root, options, [first])


def expected_valid(summaries: list[RunSummary]) -> Counter:
    """Per stream: events produced minus those sent malformed (which must be in quarantine instead)."""
    return Counter({name: sum(s.per_topic[topic_name(et, PREFIX)] for s in summaries) for name, et in BY_NAME.items()})


def test_every_event_lands_once_and_malformed_ones_in_quarantine(lake: StreamedLake) -> None:
    summary = lake.summaries[0]
    malformed = sum(summary.malformed.values())
    assert malformed > 50
    landed, quarantined = Counter(), Counter()
    for name in BY_NAME:
        rows, distinct = count_rows(lake.path, name)
        assert rows == distinct, f"{name}: duplicate event ids in raw"
        landed[name] = rows
        quarantined[name] = count_rows(lake.path, name, "quarantine")[0]
    assert sum(quarantined.values()) == malformed
    assert sum(landed.values()) + malformed == summary.sent
    for name, produced in expected_valid([summary]).items():
        assert landed[name] + quarantined[name] == produced, name
        assert landed[name] > 0


def test_quarantine_keeps_the_raw_value_the_reason_and_kafka_coordinates(lake: StreamedLake) -> None:
    rows = query(
        f"select raw_value, quarantine_reason, kafka_topic, kafka_partition, kafka_offset "
        f"from {relation(lake.path, 'vehicle', 'quarantine')}"
    )
    assert rows
    reasons = Counter(r[1].split(":")[0] for r in rows)
    assert set(reasons) <= {"invalid JSON", "vehicle_id", "schema_version", "event_time"}
    assert len(reasons) >= 3, reasons
    for raw_value, _, topic, partition, offset in rows:
        assert raw_value and topic == f"{PREFIX}vehicle_data" and partition >= 0 and offset >= 0


def test_raw_is_typed_partitioned_by_event_hour_and_carries_kafka_coordinates(lake: StreamedLake) -> None:
    rows = query(f"""
        select typeof(event_time), typeof(speed_kmh), typeof(model_year),
               bool_and(event_date = cast(event_time as date) and event_hour = hour(event_time)),
               count(distinct (kafka_partition, kafka_offset)) = count(*),
               max(ingested_at) between now() - interval 1 hour and now()
        from {relation(lake.path, "vehicle")}
        group by all""")
    assert rows == [("TIMESTAMP WITH TIME ZONE", "DOUBLE", "INTEGER", True, True, True)]
    assert query(f"select distinct event_hour from {relation(lake.path, 'gps')}") == [(8,)]


def test_metrics_file_reports_each_batch(lake: StreamedLake) -> None:
    from contract import metrics
    from contract.lake import metrics_path

    landed = [r for r in metrics.MetricsReader(metrics_path(str(lake.path))).batches() if r.input_rows]
    assert {r.stream for r in landed} == set(BY_NAME)
    assert sum(r.quarantined for r in landed) == sum(lake.summaries[0].malformed.values())
    assert all(r.batch_ms > 0 and r.processed_rows_per_s > 0 for r in landed)
    # maxOffsetsPerTrigger=8000 split the vehicle backlog into several batches.
    assert sum(1 for r in landed if r.stream == "vehicle") >= 2


@pytest.fixture(scope="module")
def grown(lake: StreamedLake, broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> StreamedLake:
    """A lake of its own, landed like ``lake`` by a first run, then after an hour more of events by a
    second run of the job: the tests of ``lake`` keep their lake as the first run left it, in any order.
    (An Iceberg lake is not copied as a folder: its metadata holds the absolute paths of its files.)"""
    root = tmp_path_factory.mktemp("grown")
    options = replace(lake.options, lake_root=(root / "lake").as_uri(), checkpoint_root=(root / "checkpoints").as_uri())
    assert run_job(options) == 0
    second = produce_fleet(broker.bootstrap, 300, start_offset_s=3600, seed=32)
    assert run_job(options) == 0
    return StreamedLake(root, options, [*lake.summaries, second])


def test_restart_resumes_where_it_stopped_when_topics_grow(grown: StreamedLake) -> None:
    lake = grown
    for name, produced in expected_valid(lake.summaries).items():
        rows, distinct = count_rows(lake.path, name)
        quarantined = count_rows(lake.path, name, "quarantine")[0]
        assert rows == distinct and rows + quarantined == produced, name
    hours = query(f"select distinct event_hour from {relation(lake.path, 'vehicle')} order by 1")
    assert hours == [(8,), (9,)]


def test_a_failing_query_stops_the_app_with_its_error(lake: StreamedLake, tmp_path: Path) -> None:
    blocked = tmp_path / "lake" / "raw" / "weather" / "data"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the weather table's data files should go")
    options = replace(
        lake.options,
        lake_root=(tmp_path / "lake").as_uri(),
        checkpoint_root=(tmp_path / "ck").as_uri(),
        streams=("weather", "gps"),
    )
    with pytest.raises(QueryFailed, match=r"query weather failed"):
        run_job(options)


def test_compact_rewrites_closed_hours_into_one_file_and_a_replayed_batch_stays_out(grown: StreamedLake) -> None:
    from lakehouse.rewrite import compact_lake
    from lakehouse.snapshot import current_paths, load_table

    lake = grown
    catalog_ = catalog(lake.path)
    before = {name: count_rows(lake.path, name) for name in BY_NAME}
    open_hour = {name: current_paths(load_table(catalog_, "raw", name), hour_filter(9)) for name in BY_NAME}
    at_hour_9 = START + timedelta(hours=1, minutes=59)  # hour 8 is closed, hour 9 is not
    done = compact_lake(catalog_, grace=timedelta(minutes=30), now=at_hour_9)

    # (quarantine is partitioned by when Kafka got the record: the wall clock, not the fleet's)
    raw = [h for h in done if not h.table.startswith("quarantine_")]
    assert {h.event_hour for h in raw} == {8} and all(h.committed for h in raw)
    assert {h.table for h in raw} == set(BY_NAME)
    for name in BY_NAME:
        assert count_rows(lake.path, name) == before[name], name
        table = load_table(catalog_, "raw", name)
        (compacted,) = current_paths(table, hour_filter(8))
        assert compacted.rsplit("/", 1)[1].startswith("compacted-")
        assert current_paths(table, hour_filter(9)) == open_hour[name]
    # The job again on the same checkpoint: nothing new, nothing appended twice.
    assert run_job(lake.options) == 0
    assert {name: count_rows(lake.path, name) for name in BY_NAME} == before
    typed = query(f"select typeof(event_time), typeof(kafka_partition) from {relation(lake.path, 'gps')} limit 1")
    assert typed == [("TIMESTAMP WITH TIME ZONE", "INTEGER")]


def hour_filter(hour: int):
    from pyiceberg.expressions import EqualTo

    return EqualTo("event_hour", hour)
