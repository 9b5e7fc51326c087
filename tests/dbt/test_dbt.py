"""dbt on the local target over a lake the Spark job wrote; marts checked against raw Parquet."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
import yaml

from ingestion.faults import FaultConfig
from ingestion.fleet import Fleet, FleetConfig
from ingestion.route import Route
from ingestion.serialize import Serializer
from ingestion.simulate import RunSummary
from smartcity.broker import EmbeddedBroker, ensure_topics
from spark.job import StreamOptions
from spark.job import run as run_job
from tests.conftest import START
from tests.helpers.dbt import DBT, PROJECT, dbt
from tests.helpers.drain import drain_options
from tests.helpers.kafka import produce, send
from tests.helpers.lake import clone, query, relation

PREFIX = "dbt_"


@pytest.fixture
def dbt_cli() -> Callable[..., subprocess.CompletedProcess]:
    """dbt as users run it, a process of its own per command (seconds each: dbt parses the project)."""
    return dbt


@dataclass(frozen=True)
class Warehouse:
    """A lake the Spark job landed from the broker, and the DuckDB database `dbt build` made of it."""

    lake: Path
    checkpoints: Path
    database: Path
    summary: RunSummary
    build: subprocess.CompletedProcess
    fleet: FleetConfig
    broker: EmbeddedBroker


@pytest.fixture(scope="module")
def warehouse(broker: EmbeddedBroker, spark_in_process: None, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    root = tmp_path_factory.mktemp("dbt")
    ensure_topics(broker.bootstrap, PREFIX, partitions=2)
    fleet = FleetConfig(
        vehicles=25, seed=5, start=START, departure_window_s=120, camera_spacing_km=3, incidents_per_vehicle_hour=6
    )
    faults = FaultConfig(duplicate_rate=0.02, malformed_rate=0.005, late_rate=0.005, seed=5)
    summary = produce(broker.bootstrap, fleet, faults, prefix=PREFIX, duration_s=5400)
    lake = root / "lake"
    assert run_job(drain(broker, lake, root / "ck")) == 0
    database = root / "smartcity.duckdb"
    built = dbt("build", lake=lake, database=database)
    return Warehouse(lake, root / "ck", database, summary, built, fleet, broker)


def drain(broker: EmbeddedBroker, lake: Path, checkpoints: Path) -> StreamOptions:
    return drain_options(broker.bootstrap, lake, checkpoints, PREFIX)


def mart(database: Warehouse | Path, sql: str) -> list[tuple]:
    import duckdb

    path = database.database if isinstance(database, Warehouse) else database
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def raw(warehouse: Warehouse, stream: str) -> str:
    return relation(warehouse.lake, stream)


def test_dbt_build_from_an_empty_database_runs_every_model_and_test(warehouse: Warehouse) -> None:
    result = warehouse.build
    problems = [line for line in result.stdout.splitlines() if "FAIL" in line or "ERROR" in line]
    assert result.returncode == 0, "\n".join(problems[-20:])
    import re

    done = re.search(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+)", re.sub(r"\x1b\[[0-9;]*m", "", result.stdout))
    assert done is not None and int(done.group(1)) >= 50 and done.group(3) == "0"


def test_staging_removes_the_duplicates_the_lake_holds(warehouse: Warehouse) -> None:
    assert warehouse.summary.duplicates > 100
    rows, distinct = query(f"select count(*), count(distinct event_id) from {raw(warehouse, 'vehicle')}")[0]
    assert rows > distinct
    staged = mart(
        warehouse, "select count(*), count(distinct event_id) from main_staging.stg_smartcity__vehicle_readings"
    )
    assert staged[0] == (distinct, distinct)


def test_average_speed_per_hour_matches_raw(warehouse: Warehouse) -> None:
    expected = query(f"""
        select date_trunc('hour', timezone('UTC', event_time)) as h, avg(speed_kmh), count(*)
        from (select distinct on (event_id) * from {raw(warehouse, "vehicle")}) group by 1 order by 1""")
    got = mart(
        warehouse,
        """
        select hour_start, sum(avg_speed_kmh * readings) / sum(readings), sum(readings)
        from main_marts.fct_vehicle_speed_hourly group by 1 order by 1""",
    )
    assert len(got) == len(expected) >= 2
    for (eh, e_avg, e_n), (gh, g_avg, g_n) in zip(expected, got, strict=True):
        assert (eh, e_n) == (gh, g_n)
        assert g_avg == pytest.approx(e_avg, rel=1e-9)


def test_the_hourly_p95_is_a_percentile_of_the_hours_readings(warehouse: Warehouse) -> None:
    import numpy as np

    readings = query(f"""
        select date_trunc('hour', timezone('UTC', event_time)) as h, speed_kmh
        from (select distinct on (event_id) * from {raw(warehouse, "vehicle")})""")
    by_hour: dict = {}
    for hour, speed in readings:
        by_hour.setdefault(hour, []).append(speed)
    got = mart(warehouse, "select hour_start, readings, p95_speed_kmh, p50_speed_kmh from main_marts.fct_speed_hourly")
    assert len(got) == len(by_hour) >= 2
    for hour, n, p95, p50 in got:
        speeds = np.array(by_hour[hour])
        assert n == len(speeds)
        assert p95 == pytest.approx(np.percentile(speeds, 95), rel=1e-9)  # both interpolate linearly
        assert p50 == pytest.approx(np.percentile(speeds, 50), rel=1e-9)
    # Not what averaging the per-vehicle, per-segment p95s gives (the number the page used to show).
    averaged = dict(
        mart(
            warehouse,
            """select hour_start, sum(p95_speed_kmh * readings) / sum(readings)
               from main_marts.fct_vehicle_speed_hourly group by 1""",
        )
    )
    assert any(abs(averaged[hour] - p95) > 0.1 for hour, _, p95, _ in got)


def test_the_dashboard_shows_marts_that_dbt_build_made(warehouse: Warehouse) -> None:
    """After `dbt build` alone (no `make stream`, so no Parquet copies) the page reads the warehouse."""
    from dashboard.data import DashboardData

    assert not (warehouse.lake / "_marts").exists()
    data = DashboardData(warehouse.lake, warehouse.database)
    speed = data.speed_over_time()
    expected = mart(warehouse, "select hour_start, readings from main_marts.fct_speed_hourly order by 1")
    assert speed is not None and list(zip(speed["hour_start"], speed["readings"], strict=True)) == expected
    for panel in (data.segments_last_hour, data.incidents_over_time, data.weather, data.heatmap):
        assert panel() is not None and len(panel()) > 0, panel.__name__
    assert data.marts_as_of() is not None
    # Another process holding the warehouse for writing (as `make stream`'s refresher does): the page
    # reads the Parquet copies instead, of which there are none here.
    writer = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, sys; c = duckdb.connect({str(warehouse.database)!r}); "
         "print('open', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert writer.stdout.readline().strip() == "open"
        assert DashboardData(warehouse.lake, warehouse.database).speed_over_time() is None
    finally:
        writer.communicate("", timeout=30)


def test_incident_counts_match_raw(warehouse: Warehouse) -> None:
    expected = query(f"""
        select count(distinct incident_id), count(distinct case when status = 'resolved' then incident_id end)
        from {raw(warehouse, "emergency")}""")[0]
    got = mart(
        warehouse,
        """
        select count(*), count(resolved_at) from main_marts.fct_incidents""",
    )[0]
    assert got == expected and expected[0] >= 5


def test_freshness_mart_counts_every_table(warehouse: Warehouse) -> None:
    rows = dict(mart(warehouse, "select raw_table, entries from main_marts.fct_pipeline_freshness"))
    for stream in ("vehicle", "gps", "traffic", "weather", "emergency"):
        assert rows[stream] == query(f"select count(distinct event_id) from {raw(warehouse, stream)}")[0][0]


def test_source_freshness_passes_on_a_lake_that_just_landed(warehouse: Warehouse) -> None:
    result = dbt("source", "freshness", lake=warehouse.lake, database=warehouse.database)
    # Freshness is on ingested_at (when the job landed a row), not on the fleet's event times: the lake
    # was landed minutes ago, well within every source's warn_after.
    assert result.returncode == 0, result.stdout[-2000:]
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    fresh = set(re.findall(r"PASS freshness of smartcity\.(\w+)", text))
    assert fresh == {"vehicle", "gps", "traffic", "weather", "emergency"}, text[-2000:]


def test_empty_lake_gives_one_clear_message(
    tmp_path: Path, dbt_cli: Callable[..., subprocess.CompletedProcess]
) -> None:
    (tmp_path / "lake").mkdir()
    result = dbt_cli("run", lake=tmp_path / "lake", database=tmp_path / "x.duckdb")
    assert result.returncode != 0
    assert "has no data yet for: vehicle, gps, traffic, weather, emergency" in result.stdout
    assert "Run the stream first" in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_route_box_in_dbt_matches_the_simulator() -> None:
    variables = yaml.safe_load((PROJECT / "dbt_project.yml").read_text())["vars"]
    box = Route().bounding_box()
    got = (
        variables["route_min_lat"],
        variables["route_max_lat"],
        variables["route_min_lon"],
        variables["route_max_lon"],
    )
    assert got == pytest.approx(box, abs=1e-3)


@pytest.mark.parametrize("target", ["athena", "redshift"])
def test_every_model_compiles_offline_and_parses_in_the_warehouse_dialect(
    target: str, tmp_path: Path, dbt_cli: Callable[..., subprocess.CompletedProcess]
) -> None:
    result = dbt_cli(
        "compile",
        "--target",
        target,
        "--no-populate-cache",
        "--vars",
        "{offline_compile: true}",
        "--target-path",
        str(tmp_path / "target"),
        lake=tmp_path,
        database=tmp_path / "x.duckdb",
        target=target,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    warnings = [line for line in result.stdout.splitlines() if "WARNING" in line]
    assert warnings == [], "dbt warns about the project (a stale YAML entry, a config path that matches nothing)"
    models = tmp_path / "target" / "compiled" / "smartcity" / "models"
    compiled = sorted(p for p in models.rglob("*.sql") if p.parent.suffix != ".yml")  # not the data tests
    assert len(compiled) == len(list((PROJECT / "models").rglob("*.sql")))  # every model compiled
    import sqlfluff
    from sqlfluff.api.simple import APIParsingError

    for path in compiled:
        try:
            sqlfluff.parse(path.read_text(), dialect=target)
        except APIParsingError as exc:  # an unparsable section in the warehouse's dialect
            pytest.fail(f"{path.name}: {exc}")
    if target == "redshift":
        import json

        nodes = json.loads((tmp_path / "target" / "manifest.json").read_text())["nodes"].values()
        views = [n for n in nodes if n["config"].get("materialized") == "view"]
        bound = [n["name"] for n in views if n["config"].get("bind", True)]
        assert bound == [], f"views over the Spectrum schema must be late-binding (bind: false): {bound}"


@pytest.mark.usefixtures("dbt_cli")  # sqlfluff's dbt templater runs dbt
def test_sqlfluff_lint_passes_with_the_committed_config(tmp_path: Path) -> None:
    """The committed .sqlfluff: dbt templater on the local target (it needs a live connection,
    which DuckDB gives without any data)."""
    env = {
        **os.environ,
        "SMARTCITY_LAKE_ROOT": str(tmp_path),
        "SMARTCITY_DUCKDB_PATH": str(tmp_path / "lint.duckdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    sqlfluff = str(Path(sys.executable).with_name("sqlfluff"))
    result = subprocess.run(
        [sqlfluff, "lint", "dbt_project/models", "dbt_project/tests"],
        cwd=PROJECT.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "All Finished" in result.stdout


def test_docs_generate_and_serve_offline(warehouse: Warehouse, tmp_path: Path) -> None:
    """`dbt docs generate && dbt docs serve`: the catalog holds every mart with its columns, and
    the served page is self-contained (no script, style or font fetched from another host)."""
    import json
    import re
    import time
    import urllib.request

    from smartcity.broker import free_port

    generated = dbt("docs", "generate", lake=warehouse.lake, database=warehouse.database)
    assert generated.returncode == 0, generated.stdout[-2000:]
    catalog = json.loads((PROJECT / "target" / "catalog.json").read_text())
    marts = {n["metadata"]["name"]: n for n in catalog["nodes"].values() if n["metadata"]["schema"] == "main_marts"}
    assert {"fct_vehicle_speed_hourly", "fct_route_heatmap", "fct_pipeline_freshness", "dim_vehicles"} <= set(marts)
    assert "avg_speed_kmh" in marts["fct_vehicle_speed_hourly"]["columns"]
    manifest = json.loads((PROJECT / "target" / "manifest.json").read_text())
    undocumented = []
    for unique_id, built in catalog["nodes"].items():
        node = manifest["nodes"][unique_id]
        if not node["description"].strip():
            undocumented.append(node["name"])
        documented = {name for name, column in node["columns"].items() if column["description"].strip()}
        undocumented += [f"{node['name']}.{name}" for name in built["columns"] if name not in documented]
    assert undocumented == [], f"models or columns without a description: {undocumented}"

    port = free_port()
    env = {
        **os.environ,
        "SMARTCITY_LAKE_ROOT": str(warehouse.lake),
        "SMARTCITY_DUCKDB_PATH": str(warehouse.database),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }
    server = subprocess.Popen(
        [DBT, "docs", "serve", "--port", str(port), "--no-browser", "--profiles-dir", str(PROJECT)],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "dbt docs serve did not come up"
                time.sleep(0.5)
        manifest = urllib.request.urlopen(f"http://127.0.0.1:{port}/manifest.json", timeout=5).read()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "dbt" in page and json.loads(manifest)["metadata"]["project_name"] == "smartcity"
    external = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["'](https?://[^"']+)""", page)
    assert external == [], external


def test_incremental_run_after_more_data_equals_a_full_rebuild(warehouse: Warehouse, tmp_path: Path) -> None:
    """New traffic (with its own late and duplicate events) plus producer-retry copies of events
    already built, landed by the Spark job from its checkpoint; then `dbt run` on the built
    database must give the same intermediates and marts as `dbt run --full-refresh` from scratch."""
    import collections
    import shutil

    import duckdb

    from contract import BY_NAME, topic_name

    lake, checkpoints, database = tmp_path / "lake", tmp_path / "ck", tmp_path / "incremental.duckdb"
    clone(warehouse.lake, lake)
    shutil.copytree(warehouse.checkpoints, checkpoints)
    shutil.copy(warehouse.database, database)

    broker = warehouse.broker
    topics = {name: topic_name(et, PREFIX) for name, et in BY_NAME.items()}
    retried = collections.deque(Serializer(validate=False).records(Fleet(warehouse.fleet).run(5400)), maxlen=400)
    for stream in BY_NAME:
        send(broker.bootstrap, topics[stream], ((r.key, r.value) for r in retried if r.stream == stream))
    # Two devices with impossible clocks: quarantined by the job, they must not hold anything back.
    template = next(e for e in Fleet(later_fleet(0)).run(120) if e.event_type.name == "vehicle").body
    clocks = ("2099-01-01T00:00:00Z", "1970-01-01T00:00:00Z")
    bad = [{**template, "event_id": f"clock-{n}", "event_time": clock} for n, clock in enumerate(clocks)]
    send(broker.bootstrap, topics["vehicle"], ((b"bad-clock", orjson.dumps(event)) for event in bad))
    faults = FaultConfig(duplicate_rate=0.05, late_rate=0.05, seed=6)
    more = produce(broker.bootstrap, later_fleet(80), faults, prefix=PREFIX, duration_s=1200)
    # A vehicle uploading the buffer it kept while offline: readings six hours older than the newest hour.
    buffered = produce(broker.bootstrap, later_fleet(-6 * 60), FaultConfig(seed=7), prefix=PREFIX, duration_s=600)
    assert more.duplicates > 0 and more.late > 0 and buffered.per_topic[topics["vehicle"]] > 0
    assert run_job(drain(broker, lake, checkpoints)) == 0
    reasons = query(
        f"select quarantine_reason from {relation(lake, 'vehicle', 'quarantine')} where raw_value like '%clock-%'"
    )
    assert sorted(re.sub(r"\d+ days", "N days", r[0]) for r in reasons) == [
        "event_time: N days after the broker received it",
        "event_time: before 2000-01-01",
    ]

    incremental = dbt("run", lake=lake, database=database)
    assert incremental.returncode == 0, incremental.stdout[-3000:]
    rebuilt = dbt("run", "--full-refresh", lake=lake, database=tmp_path / "full.duckdb")
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:]

    con = duckdb.connect()
    con.execute(f"attach '{database}' as inc (read_only)")
    con.execute(f"attach '{tmp_path / 'full.duckdb'}' as rebuilt (read_only)")
    tables = con.execute("""
        select schema_name, table_name from duckdb_tables()
        where database_name = 'inc' and schema_name in ('main_intermediate', 'main_marts')""").fetchall()
    assert {"int_vehicle_readings_segmented", "int_gps_fixes_deduplicated", "fct_vehicle_speed_hourly"} <= {
        name for _, name in tables
    }
    for schema, name in tables:
        columns = con.execute(
            "select column_name, data_type from duckdb_columns() where database_name = 'inc' "
            "and schema_name = ? and table_name = ? and column_name <> 'seconds_since_last_ingest'",
            [schema, name],
        ).fetchall()
        # Sums taken in another order differ in the last bits (and rounding both to a fixed number of
        # decimals still differs where a value sits on a rounding boundary): rows are paired in an order
        # of coarsely rounded values, then compared with a tolerance.
        listed = ", ".join(c for c, _ in columns)
        order = ", ".join(f"round({c}, 2)" if kind == "DOUBLE" else c for c, kind in columns)
        inc, rebuilt = (
            con.execute(f"select {listed} from {db}.{schema}.{name} order by {order}").fetchall()
            for db in ("inc", "rebuilt")
        )
        assert len(inc) == len(rebuilt), f"{name}: {len(inc)} rows incrementally, {len(rebuilt)} rebuilt"
        for a, b in zip(inc, rebuilt, strict=True):
            same = all(
                math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9) if isinstance(x, float) and y is not None else x == y
                for x, y in zip(a, b, strict=True)
            )
            assert same, f"{name}: {a} incrementally, {b} rebuilt"
    grew = con.execute(
        "select (select count(*) from inc.main_intermediate.int_vehicle_readings_segmented), "
        f"(select count(distinct event_id) from {raw(warehouse, 'vehicle')})"
    ).fetchone()
    assert grew[0] > grew[1], "the new minutes of traffic did not reach the incremental table"
    late_hour, newest_hour = con.execute(
        "select min(hour_start), max(hour_start) from inc.main_marts.fct_vehicle_speed_hourly"
    ).fetchone()
    assert late_hour == (START - timedelta(hours=6)).replace(tzinfo=None), "the buffered readings missed the mart"
    assert newest_hour < (START + timedelta(hours=3)).replace(tzinfo=None)


def later_fleet(minutes_after_start: int) -> FleetConfig:
    return FleetConfig(vehicles=8, seed=6, start=START + timedelta(minutes=minutes_after_start), departure_window_s=60)


def test_a_stream_with_no_events_yet_builds_empty_marts_beside_full_ones(warehouse: Warehouse, tmp_path: Path) -> None:
    """Incidents are rare: a lake where four streams landed and emergencies have not yet."""
    from contract import BY_NAME

    lake = tmp_path / "lake"
    clone(warehouse.lake, lake, streams=tuple(s for s in BY_NAME if s != "emergency"))
    assert query(f"select count(*) from {relation(lake, 'emergency')}") == [(0,)]
    database = tmp_path / "quiet.duckdb"
    built = dbt("build", lake=lake, database=database)
    assert built.returncode == 0, built.stdout[-3000:]
    counts = dict(
        mart(
            database,
            """
            select 'incidents', count(*) from main_marts.fct_incidents
            union all select 'incidents_over_time', count(*) from main_marts.fct_incidents_hourly
            union all select 'speed', count(*) from main_marts.fct_vehicle_speed_hourly
            union all select 'heatmap', count(*) from main_marts.fct_route_heatmap
            union all select 'weather', count(*) from main_marts.fct_weather_hourly""",
        )
    )
    assert counts["incidents"] == counts["incidents_over_time"] == 0
    assert min(counts["speed"], counts["heatmap"], counts["weather"]) > 0
    freshness = dict(mart(database, "select raw_table, entries from main_marts.fct_pipeline_freshness"))
    assert freshness["emergency"] == 0 and freshness["vehicle"] > 0


def test_coverage_test_holds_while_the_lake_grows_and_fails_on_a_gap(warehouse: Warehouse, tmp_path: Path) -> None:
    """`smartcity up` builds while the stream lands: readings newer than the mart are not a gap."""
    import shutil
    from datetime import UTC, datetime

    import duckdb

    from smartcity.synthetic import fleet_payloads, land

    lake, database = tmp_path / "lake", tmp_path / "growing.duckdb"
    clone(warehouse.lake, lake)
    shutil.copy(warehouse.database, database)
    later = FleetConfig(vehicles=3, seed=77, start=datetime.now(UTC))  # lands (event time + 3 s) after the build
    newer = {"vehicle": fleet_payloads(later, duration_s=600)["vehicle"]}
    assert land(lake, newer, first_offset=10**9, sent_at=datetime.now(UTC)) > 0
    views = dbt("run", "--select", "staging", lake=lake, database=database)  # the views point at this lake
    assert views.returncode == 0, views.stdout[-3000:]
    check = ("test", "--select", "assert_speed_mart_covers_every_reading")
    holds = dbt(*check, lake=lake, database=database)
    assert holds.returncode == 0, holds.stdout[-3000:]
    con = duckdb.connect(str(database))
    try:  # a reading the mart lost, among those it was built from
        con.execute("update main_marts.fct_vehicle_speed_hourly set readings = readings - 1 where readings > 1")
    finally:
        con.close()
    gap = dbt(*check, lake=lake, database=database)
    assert gap.returncode == 1 and "FAIL 1 assert_speed_mart_covers_every_reading" in gap.stdout


def test_a_refresh_after_new_data_tests_only_the_partitions_that_received_rows(
    warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refresher's build (smartcity.marts.build_and_export with the previous build's start): the
    data tests of sources and staging read the new partitions only, those of the intermediate tables
    the rows copied since, and all of them pass; dbt's run results show the SQL each one ran."""
    import json
    import shutil
    import time as clock
    from datetime import UTC, datetime

    from smartcity import marts
    from smartcity.config import Settings
    from smartcity.synthetic import fleet_payloads, land

    lake, database = tmp_path / "lake", tmp_path / "smartcity.duckdb"
    clone(warehouse.lake, lake)  # built and tested before the previous build
    shutil.copy(warehouse.database, database)
    # (the refresher looks a few minutes further back than its previous build; the clone is seconds old)
    monkeypatch.setattr(marts, "TESTS_LOOKBACK", timedelta(0))
    clock.sleep(0.01)
    started = clock.time()
    previous_build = datetime.now(UTC)
    # Landed after everything the job landed (ingested_at is when a row landed: event time + 3 s here).
    start = previous_build.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    fleet = FleetConfig(vehicles=5, seed=51, start=start, departure_window_s=10)
    payloads = {s: v for s, v in fleet_payloads(fleet, 120).items() if s in ("vehicle", "gps")}
    land(lake, payloads, 10**9, sent_at=start + timedelta(minutes=3))  # Kafka got them after they happened
    new_hours = {p.parent.name for p in (lake / "raw" / "vehicle").rglob("*.parquet") if p.stat().st_mtime > started}
    assert len(new_hours) == 1

    settings = Settings(None, PREFIX, 2, tmp_path, str(lake), str(tmp_path / "ck"), duckdb_file=database)
    assert marts.build_and_export(settings, tests_since=previous_build)
    results = json.loads((tmp_path / "dbt" / "target" / "run_results.json").read_text())["results"]
    tests = {r["unique_id"].split(".")[2]: r for r in results if r["unique_id"].startswith("test.")}
    failed = {n: r["status"] for n, r in tests.items() if r["status"] not in ("pass", "warn")}
    assert len(tests) > 30 and not failed, failed
    hour = int(new_hours.pop().split("=")[1])
    vehicle = tests["unique_stg_smartcity__vehicle_readings_event_id"]["compiled_code"]
    assert f"event_hour in ({hour})" in vehicle and " or " not in vehicle.split("dbt_subquery")[0]
    assert "1 = 0" in tests["unique_stg_smartcity__weather_observations_event_id"]["compiled_code"]  # nothing new
    assert "ingested_at >= cast(" in tests["unique_int_vehicle_readings_segmented_event_id"]["compiled_code"]
    # By hand (and in CI) the same tests read every row.
    assert marts.build_and_export(settings)
    results = json.loads((tmp_path / "dbt" / "target" / "run_results.json").read_text())["results"]
    whole = next(
        r for r in results if r["unique_id"].split(".")[2] == "unique_stg_smartcity__vehicle_readings_event_id"
    )
    assert "dbt_subquery" not in whole["compiled_code"]
