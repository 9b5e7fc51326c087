"""A fleet upgraded while it streams: a lake landed by the contract's first versions, then half the
fleet on version 2, then all of it, and devices ahead of the contract; the real job, the real
broker, dbt over the result."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from contract import BY_NAME, topic_name
from ingestion.fleet import FleetConfig
from ingestion.simulate import RunSummary
from smartcity.broker import EmbeddedBroker, ensure_topics
from spark.job import run as run_job
from tests.conftest import START
from tests.helpers.dbt import dbt, warehouse_query
from tests.helpers.drain import drain_options
from tests.helpers.kafka import produce, send
from tests.helpers.lake import count_rows, first_version_tables, query, relation

PREFIX = "upgrade_"
LATER = timedelta(hours=1)  # the second fleet drives an hour after the first
AHEAD = 30  # events declaring a version the contract does not know yet
VERSION_2 = {"vehicle": ("odometer_km", "engine_temp_c"), "gps": ("satellites",)}


@dataclass(frozen=True)
class Upgraded:
    lake: Path
    database: Path
    summaries: list[RunSummary]
    builds: list
    old_files: set[str]


def fleet(seed: int, share: float, offset: timedelta = timedelta(0)) -> FleetConfig:
    return FleetConfig(
        vehicles=20, seed=seed, start=START + offset, departure_window_s=60, camera_spacing_km=3, upgraded_share=share
    )


def drain(broker: EmbeddedBroker, root: Path) -> int:
    return run_job(drain_options(broker.bootstrap, root / "lake", root / "ck", PREFIX))


def ahead_of_the_contract() -> list[tuple[bytes, bytes]]:
    body = {
        "event_id": "",
        "schema_version": 3,
        "vehicle_id": "vehicle-09999",
        "event_time": (START + LATER).isoformat().replace("+00:00", "Z"),
        "lat": 42.0,
        "lon": -72.0,
        "route_km": 100.0,
        "speed_kmh": 90.0,
        "heading_deg": 200.0,
        "fuel_level_pct": 50.0,
        "make": "Ford",
        "model": "Transit",
        "model_year": 2025,
        "fuel_type": "diesel",
        "odometer_km": 1000.0,
        "engine_temp_c": 90.0,
        "tyre_pressure_kpa": 230.0,  # what version 3 would add
    }
    return [(b"vehicle-09999", orjson.dumps({**body, "event_id": f"ahead-{i}"})) for i in range(AHEAD)]


@pytest.fixture(scope="module")
def upgraded(broker: EmbeddedBroker, spark_in_process: None, tmp_path_factory: pytest.TempPathFactory) -> Upgraded:
    root = tmp_path_factory.mktemp("upgrade")
    lake, database = root / "lake", root / "smartcity.duckdb"
    ensure_topics(broker.bootstrap, PREFIX, partitions=2)
    first_version_tables(lake)

    # Half the fleet upgraded: both versions in every batch of vehicle and gps.
    first = produce(broker.bootstrap, fleet(41, 0.5), prefix=PREFIX, duration_s=1200)
    assert drain(broker, root) == 0
    old_files = {p for s in VERSION_2 for p in query_files(lake, s)}
    builds = [dbt("build", lake=lake, database=database)]
    # An older project made the incremental copies: they lack the version 2 columns.
    import duckdb

    con = duckdb.connect(str(database))
    for table, columns in {
        "int_vehicle_readings_segmented": ("odometer_km", "engine_temp_c"),
        "int_gps_fixes_deduplicated": ("satellite_count",),
    }.items():
        for column in columns:
            con.execute(f"alter table main_intermediate.{table} drop column {column}")
    con.close()

    # Then all of it, and a few devices a version ahead.
    second = produce(broker.bootstrap, fleet(42, 1.0, LATER), prefix=PREFIX, duration_s=1200)
    send(broker.bootstrap, topic_name(BY_NAME["vehicle"], PREFIX), ahead_of_the_contract())
    assert drain(broker, root) == 0
    builds.append(dbt("build", lake=lake, database=database))
    return Upgraded(lake, database, [first, second], builds, old_files)


def query_files(lake: Path, stream: str) -> list[str]:
    from lakehouse.snapshot import current_paths, load_table
    from tests.helpers.lake import catalog

    return current_paths(load_table(catalog(lake), "raw", stream))


def test_every_event_of_both_versions_lands_once(upgraded: Upgraded) -> None:
    produced = Counter()
    for summary in upgraded.summaries:
        assert summary.failed == 0
        for name, et in BY_NAME.items():
            produced[name] += summary.per_topic[topic_name(et, PREFIX)]
    for name in BY_NAME:
        rows, distinct = count_rows(upgraded.lake, name)
        assert rows == distinct == produced[name], name
    assert count_rows(upgraded.lake, "gps", "quarantine")[0] == 0


def test_older_rows_read_the_new_columns_as_null_and_no_file_was_rewritten(upgraded: Upgraded) -> None:
    for stream, columns in VERSION_2.items():
        counts = ", ".join(f"count({c})" for c in columns)
        rows = query(
            f"select schema_version, count(*), {counts} from {relation(upgraded.lake, stream)} group by 1 order by 1"
        )
        (v1, n1, *set1), (v2, n2, *set2) = rows
        assert (v1, v2) == (1, 2)
        assert set1 == [0] * len(columns), f"{stream}: version 1 rows have no version 2 values"
        assert set2 == [n2] * len(columns), f"{stream}: every version 2 row has them"
        assert n1 > 0 and n2 > n1
        assert upgraded.old_files <= {p for s in VERSION_2 for p in query_files(upgraded.lake, s)}


def test_events_of_an_unknown_version_are_quarantined_with_their_reason(upgraded: Upgraded) -> None:
    reasons = query(
        f"select quarantine_reason, count(*) from {relation(upgraded.lake, 'vehicle', 'quarantine')} group by 1"
    )
    assert reasons == [("schema_version: 3 not supported (known: 1, 2)", AHEAD)]


def test_dbt_builds_before_and_after_the_upgrade_and_the_copies_gain_the_columns(upgraded: Upgraded) -> None:
    for build in upgraded.builds:
        assert build.returncode == 0, build.stdout[-3000:]
    columns = warehouse_query(
        upgraded.database,
        "select column_name from information_schema.columns where table_name = 'int_vehicle_readings_segmented'",
    )
    assert {"odometer_km", "engine_temp_c"} <= {c for (c,) in columns}


def test_the_vehicle_dimension_equals_a_recomputation_from_raw(upgraded: Upgraded) -> None:
    # The copies made before the upgrade of the project lost their version 2 values (the columns
    # were appended since): the newest odometer reading and the second fleet's temperatures are whole.
    second_start = (START + LATER).isoformat()
    expected = query(
        f"""
        with raw as (select distinct on (event_id) * from {relation(upgraded.lake, "vehicle")})
        select
            vehicle_id,
            max(schema_version),
            arg_max(odometer_km, event_time) filter (where odometer_km is not null),
            max(engine_temp_c) filter (where event_time >= '{second_start}')
        from raw
        group by vehicle_id
        order by vehicle_id
        """
    )
    marts = warehouse_query(
        upgraded.database,
        "select vehicle_id, schema_version, latest_odometer_km, max_engine_temp_c "
        "from main_marts.dim_vehicles order by vehicle_id",
    )
    assert marts == expected
    assert {version for _, version, _, _ in marts} == {2}
    assert all(odometer is not None for _, _, odometer, _ in marts)
