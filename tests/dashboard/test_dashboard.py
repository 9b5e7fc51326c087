"""The live dashboard: its numbers against independent queries, while dbt rebuilds, and in a real browser."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from contract import lake as layout
from dashboard.data import DashboardData
from ingestion.fleet import FleetConfig
from smartcity.broker import BrokerError, free_port, wait_until_listening
from smartcity.config import Settings
from smartcity.marts import build_and_export
from smartcity.synthetic import fleet_payloads, land
from tests.helpers.cli import command, environment
from tests.helpers.lake import clone, query, relation
from tests.helpers.processes import descendants, listening

START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=50)
BATCH_ROWS = 1234  # rows of each fake batch in the metrics file


@dataclass(frozen=True)
class Site:
    """A lake landed by the job's own landing code, its warehouse built and exported for the page."""

    lake: Path
    settings: Settings
    batches_at: datetime  # when the fixture's latest fake batches committed

    @property
    def data(self) -> DashboardData:
        return DashboardData(self.lake)


def add_batches(
    lake: Path, at: datetime, streams: tuple[str, ...] = ("vehicle", "gps"), rows: int = BATCH_ROWS
) -> None:
    from contract import metrics

    for n, stream in enumerate(streams):
        row = metrics.BatchRow(
            at.isoformat(), stream, n, rows=rows, batch_ms=400 + n, source_lag_records=n, input_rows_per_s=99.5
        )
        metrics.append(layout.metrics_path(str(lake)), row)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    root = tmp_path_factory.mktemp("dashboard")
    lake = root / "lake"
    fleet = FleetConfig(  # a third of it upgraded: both contract versions on the road
        vehicles=12, seed=8, start=START, departure_window_s=60, incidents_per_vehicle_hour=6, upgraded_share=1 / 3
    )
    payloads = fleet_payloads(fleet, duration_s=2400)
    payloads["vehicle"] += [b"{not json", b'{"event_id": "x"}']  # two for the quarantine
    land(lake, payloads, first_offset=0, sent_at=datetime.now(UTC))
    add_batches(lake, datetime.now(UTC) - timedelta(minutes=10))
    batches_at = datetime.now(UTC)
    add_batches(lake, batches_at)
    settings = Settings(None, "", 4, root, str(lake), str(root / "ck"))
    environment_before = dict(os.environ)
    assert build_and_export(settings)
    assert dict(os.environ) == environment_before, "dbt's settings leaked into this process's environment"
    return Site(lake, settings, batches_at)


def raw(site: Site, stream: str, zone: str = layout.RAW) -> str:
    return relation(site.lake, stream, zone)


def test_kpis_equal_independent_queries(site: Site) -> None:
    # A second after the fixture's latest batches, however long its dbt build took: the last minute holds them.
    wall_now = site.batches_at + timedelta(seconds=1)
    kpis = site.data.kpis(wall_now)
    vehicles, speed, newest, sent_at = query(f"""
        with v as (select * from {raw(site, "vehicle")}), n as (select max(event_time) as t from v)
        select count(distinct vehicle_id), avg(speed_kmh), any_value(n.t), max(kafka_timestamp) from v, n
        where event_time > n.t - interval 5 minutes""")[0]
    assert (kpis.vehicles_on_road, kpis.newest_event_time) == (vehicles, newest) and vehicles > 0
    assert kpis.avg_speed_kmh == pytest.approx(speed)
    active, total = query(f"""
        select count(distinct incident_id) filter (where incident_id not in (
                   select incident_id from {raw(site, "emergency")} where status = 'resolved')),
               count(distinct incident_id)
        from {raw(site, "emergency")}""")[0]
    assert (kpis.active_incidents, kpis.total_incidents) == (active, total) and total > 0
    assert kpis.quarantined == 2
    assert kpis.events_landed_per_min == 2 * BATCH_ROWS  # the batches of the last minute only
    assert kpis.newest_sent_at == sent_at
    assert kpis.freshness_s == pytest.approx((wall_now - sent_at).total_seconds()) and kpis.freshness_s > 0


def test_marts_as_of_is_the_newest_landing_they_include(site: Site) -> None:
    newest = " union all ".join(f"select max(ingested_at) as t from {raw(site, s)}" for s in layout.STREAMS)
    landed = query(f"select max(t) from ({newest})")[0][0]
    assert site.data.marts_as_of() == landed


def test_panels_about_now_equal_independent_queries(site: Site) -> None:
    positions = site.data.positions()
    latest = query(f"""
        select vehicle_id, arg_max(lat, event_time), arg_max(lon, event_time)
        from {raw(site, "gps")} group by 1 order by 1""")
    assert [tuple(r) for r in positions[["vehicle_id", "lat", "lon"]].itertuples(index=False)] == latest
    reasons = site.data.quarantine_reasons()
    assert dict(zip(reasons["reason"], reasons["records"], strict=True)) == {
        "invalid JSON": 1,
        "schema_version": 1,
    }
    health = site.data.pipeline_health()
    assert list(health["stream"]) == ["gps", "vehicle"] and list(health["batch_ms"]) == [401, 400]


def test_history_panels_equal_the_warehouse(site: Site) -> None:
    con = duckdb.connect(str(site.settings.duckdb_path))  # dbt ran in this process: same configuration
    try:
        expected = con.execute("""
            select hour_start, sum(avg_speed_kmh * readings) / sum(readings), sum(readings)
            from main_marts.fct_vehicle_speed_hourly group by 1 order by 1""").fetchall()
        incidents = con.execute("select sum(incident_events) from main_marts.fct_incidents_hourly").fetchone()[0]
        cells = con.execute("select count(*) from main_marts.fct_route_heatmap").fetchone()[0]
    finally:
        con.close()
    speed = site.data.speed_over_time()
    assert len(speed) == len(expected) >= 1
    for (hour, avg, readings), row in zip(expected, speed.itertuples(index=False), strict=True):
        assert (row.hour_start, row.readings) == (hour, readings)
        assert row.avg_speed_kmh == pytest.approx(avg)
    assert site.data.incidents_over_time()["incident_events"].sum() == incidents > 0
    assert len(site.data.heatmap()) == cells > 0
    assert site.data.segments_last_hour()["readings"].sum() > 0


def test_the_data_layer_keeps_answering_while_dbt_rebuilds_the_marts(site: Site) -> None:
    errors: list[BaseException] = []
    done = threading.Event()

    def rebuild() -> None:
        try:
            for _ in range(2):
                assert build_and_export(site.settings)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            done.set()

    builder = threading.Thread(target=rebuild)
    builder.start()
    reads = 0
    while not done.is_set():
        assert len(site.data.speed_over_time()) > 0
        assert len(site.data.heatmap()) > 0
        assert site.data.kpis().vehicles_on_road > 0
        reads += 1
    builder.join()
    assert not errors, errors
    assert reads >= 3
    assert not list((site.lake / layout.MARTS).glob(".*")), "a hidden export was left behind"


def test_fleet_panels_equal_independent_queries(site: Site) -> None:
    versions = site.data.fleet_versions()
    expected = query(f"""
        select version, count(*) from (select vehicle_id, max(schema_version) as version from {raw(site, "vehicle")}
        group by 1) group by 1 order by 1""")
    assert [tuple(r) for r in versions.itertuples(index=False)] == expected == [(1, 8), (2, 4)]
    hottest = site.data.hottest_engines(limit=3)
    expected = query(f"""
        select vehicle_id, max(engine_temp_c) from {raw(site, "vehicle")} where engine_temp_c is not null
        group by 1 order by 2 desc, 1 limit 3""")
    assert [tuple(r) for r in hottest[["vehicle_id", "max_engine_temp_c"]].itertuples(index=False)] == expected
    assert list(hottest["overheating"]) == [t > 105 for _, t in expected]


def test_a_fleet_all_on_version_1_gets_a_message_instead_of_engine_temperatures(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq
    from streamlit.testing.v1 import AppTest

    lake = tmp_path / "lake"
    clone(site.lake, lake)
    shutil.copytree(site.lake / layout.MARTS, lake / layout.MARTS)
    vehicles = pq.read_table(layout.mart_path(lake, "dim_vehicles"))
    for column in ("latest_odometer_km", "max_engine_temp_c"):  # what version 1 telemetry gives
        at = vehicles.schema.get_field_index(column)
        vehicles = vehicles.set_column(at, column, pa.nulls(len(vehicles), pa.float64()))
    at = vehicles.schema.get_field_index("schema_version")
    vehicles = vehicles.set_column(at, "schema_version", pa.array([1] * len(vehicles), pa.int32()))
    pq.write_table(vehicles, layout.mart_path(lake, "dim_vehicles"))
    monkeypatch.setenv("SMARTCITY_LAKE_ROOT", str(lake))
    monkeypatch.delenv("SMARTCITY_DUCKDB_PATH", raising=False)
    app = AppTest.from_file(str(Path(__file__).parents[2] / "dashboard" / "app.py"), default_timeout=60)
    app.query_params["refresh"] = "off"
    app.run()
    assert not app.exception
    assert "No engine temperatures yet: every vehicle is on contract version 1." in [i.value for i in app.info]
    assert DashboardData(lake).fleet_versions().values.tolist() == [[1, 12]]


def test_an_empty_lake_shows_a_short_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SMARTCITY_LAKE_ROOT", str(tmp_path))
    app = AppTest.from_file(str(Path(__file__).parents[2] / "dashboard" / "app.py"), default_timeout=60)
    app.query_params["refresh"] = "off"
    app.run()
    assert not app.exception
    assert [i.value for i in app.info] == ["No data yet: run `make stream`."]


@pytest.fixture(scope="module")
def served(site: Site, tmp_path_factory: pytest.TempPathFactory):
    """`smartcity dashboard` as users start it, on a free loopback port."""
    port = free_port()
    log = tmp_path_factory.mktemp("served") / "dashboard.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command("dashboard", "--port", str(port)),
            env=environment(site.settings.data_dir, SMARTCITY_LAKE_ROOT=str(site.lake)),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_listening("127.0.0.1", port, timeout_s=60)
    except BrokerError:
        pytest.fail(f"the dashboard did not start:\n{log.read_text()[-2000:]}")
    yield f"http://127.0.0.1:{port}", process
    process.terminate()
    process.wait(20)
    with pytest.raises(OSError):  # SIGTERM to `smartcity dashboard` stopped the server, not only the command
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield chromium
        chromium.close()


def settled(page, metrics: int = 7) -> None:
    """Wait until the script ran and every element is drawn (Streamlit scrolls an inner container)."""
    page.wait_for_selector('[data-test-script-state="notRunning"]', timeout=60_000)
    page.wait_for_function(
        f"""() => document.querySelectorAll('[data-testid="stMetric"]').length === {metrics}
            && document.querySelectorAll('[data-stale="true"]').length === 0""",
        timeout=60_000,
    )


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]', has_text=label)
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def test_every_panel_renders_in_a_real_browser_from_loopback(site: Site, served, browser, tmp_path: Path) -> None:
    url, process = served
    assert listening(descendants(process.pid)) <= {"127.0.0.1", "::1"}
    page = browser.new_page(viewport={"width": 1600, "height": 3200})
    outside: list[str] = []
    local = (url, f"blob:{url}", "data:")
    page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
    page.goto(f"{url}/?refresh=off")
    settled(page)
    kpis = site.data.kpis()
    assert metric(page, "Vehicles on the road") == f"{kpis.vehicles_on_road:,}"
    assert metric(page, "Incidents in total") == f"{kpis.total_incidents:,}"
    assert metric(page, "Quarantined records") == "2"
    sent = f"{kpis.newest_sent_at:%Y-%m-%d %H:%M:%S.%f}"[:-3]
    assert (
        f"Newest event on screen: sent {sent} UTC"
        in page.locator('[data-testid="stCaptionContainer"]').first.inner_text()
    )
    page.wait_for_selector('.st-key-route_map [data-testid="stVegaLiteChart"] svg.marks', timeout=30_000)
    counts = page.evaluate(
        """() => Object.fromEntries(['stVegaLiteChart', 'stTable'].map(
            id => [id, document.querySelectorAll(`[data-testid="${id}"]`).length]))"""
    )
    # the map and four charts; versions, hottest engines, pipeline health, quarantine
    assert counts == {"stVegaLiteChart": 5, "stTable": 4}
    drawn = page.evaluate(
        """() => Object.fromEntries(['shape', 'symbol'].map(mark => [mark,
            document.querySelectorAll(`.st-key-route_map svg .mark-${mark} path`).length]))"""
    )
    # The route and one square per heat-map cell; one dot per vehicle.
    assert drawn == {"shape": 1 + len(site.data.heatmap()), "symbol": len(site.data.positions())}
    assert drawn["symbol"] == kpis.vehicles_on_road > 0
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    assert outside == [], f"the page loaded from other hosts: {outside[:5]}"
    page.close()


def test_the_page_refreshes_itself(site: Site, served, browser) -> None:
    url, _ = served
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.goto(url)
    page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .some(m => m.innerText.includes('Events landed'))""",
        timeout=60_000,
    )
    before = int(metric(page, "Events landed / min").replace(",", ""))
    # More rows in one batch than the page can have shown: seeing them proves a refresh, whichever of the
    # fixture's batches have left the last minute since.
    late_rows = before + 10 * BATCH_ROWS
    add_batches(site.lake, datetime.now(UTC), streams=("weather",), rows=late_rows)
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('[data-testid="stMetric"]')]
            .filter(m => m.innerText.includes('Events landed'))
            .some(m => parseInt(m.querySelector('[data-testid="stMetricValue"]').innerText.replace(/,/g, ''))
                       >= {late_rows})""",
        timeout=30_000,
    )
    page.close()


def test_after_dbt_build_alone_every_marts_panel_is_drawn(site: Site, browser, tmp_path: Path) -> None:
    """The README's own path: land data, `dbt build` in dbt_project/, `make dashboard`; no refresher ran,
    so there are no Parquet copies, and the page reads the warehouse dbt built."""
    import sys

    lake = tmp_path / "lake"
    clone(site.lake, lake)  # the tables without the marts' Parquet copies
    warehouse = tmp_path / "smartcity.duckdb"
    project = Path(__file__).resolve().parents[2] / "dbt_project"
    built = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "build", "--profiles-dir", str(project)],
        cwd=project,
        env=environment(tmp_path, SMARTCITY_LAKE_ROOT=str(lake), SMARTCITY_DUCKDB_PATH=str(warehouse)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stdout[-3000:]
    port = free_port()
    process = subprocess.Popen(
        command("dashboard", "--port", str(port)),
        env=environment(tmp_path, SMARTCITY_LAKE_ROOT=str(lake), SMARTCITY_DUCKDB_PATH=str(warehouse)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_listening("127.0.0.1", port, timeout_s=60)
        page = browser.new_page(viewport={"width": 1600, "height": 3200})
        page.goto(f"http://127.0.0.1:{port}/?refresh=off")
        settled(page)
        page.wait_for_selector('.st-key-route_map [data-testid="stVegaLiteChart"] svg.marks', timeout=30_000)
        assert page.locator('[data-testid="stVegaLiteChart"]').count() == 5  # the map and the four mart charts
        assert "The marts are not built yet" not in page.inner_text("body")
        page.close()
    finally:
        process.terminate()
        process.wait(20)
    assert not (lake / layout.MARTS).exists()
