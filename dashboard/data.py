"""What the dashboard shows, as plain data: one method per panel, DuckDB over files only.

Panels about now (KPIs, positions, pipeline health) read the newest hours of the raw tables'
current Iceberg snapshots (the files the catalog lists, never a folder) and the job's metrics file.
Panels about history read the marts from the warehouse, read-only, however
they were built (`dbt run`, `dbt build`, `make stream`); while a writer holds the warehouse (DuckDB
lets one process write a database file or several read it, never both: `make stream`'s refresher
keeps it open), they read the Parquet copies the refresher writes after each build (smartcity/marts.py),
so a build in progress never locks the page out.
"Now" is the newest event time in the lake: an accelerated simulation runs ahead of the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contract import lake, metrics

RECENT_HOURS = 2  # raw partitions read for the panels about now
WINDOW = timedelta(minutes=5)  # "vehicles on the road", "average speed (last 5 minutes)"
METRICS_TAIL = 2000  # lines of the metrics file read for pipeline health
HOT_ENGINE_C = 105.0  # coolant above this: a thermostat or a cooling fan failing


@dataclass(frozen=True)
class Kpis:
    vehicles_on_road: int
    avg_speed_kmh: float | None  # last 5 minutes of event time
    active_incidents: int
    total_incidents: int
    events_landed_per_min: int  # rows landed in the last 60 s of wall time
    quarantined: int
    freshness_s: float | None  # age of the newest event on screen: now minus when it was sent
    newest_event_time: datetime | None
    newest_sent_at: datetime | None  # its Kafka record time (the producer's clock)


class DashboardData:
    def __init__(self, lake_root: str | Path, warehouse: str | Path | None = None, catalog: str | None = None) -> None:
        from lakehouse.catalogs import CatalogConfig, default_catalog

        self.root = Path(lake_root)
        self.warehouse = Path(warehouse) if warehouse else None
        self.catalog = CatalogConfig(catalog or default_catalog(str(lake_root)), str(lake_root))

    # -- helpers ---------------------------------------------------------------------------

    def _files(self, stream: str, zone: str = lake.RAW, hours: int | None = RECENT_HOURS) -> list[str]:
        """The data files of the newest ``hours`` event hours in the table's current snapshot."""
        from lakehouse.snapshot import iso_day, live_files, load_table, local_path

        by_hour: dict[tuple[str, int], list[str]] = {}
        for data_file in live_files(load_table(self.catalog, zone, stream)):
            hour = (iso_day(data_file.partition[0]), int(data_file.partition[1]))
            by_hour.setdefault(hour, []).append(local_path(data_file.file_path))
        newest = sorted(by_hour)[-hours:] if hours is not None else sorted(by_hour)
        return [path for hour in newest for path in sorted(by_hour[hour])]

    def _query(self, sql: str, params: list | None = None, **tables: pa.Table) -> pd.DataFrame:
        con = duckdb.connect()
        try:
            con.execute("set time zone 'UTC'")
            for name, table in tables.items():
                con.register(name, table)
            return con.execute(sql, params or []).df()
        finally:
            con.close()

    def _scan(self, files: list[str]) -> str:
        return f"read_parquet({files!r}, hive_partitioning = true, union_by_name = true)"

    def _mart_table(self, name: str) -> pa.Table | None:
        """A mart from the warehouse when it can be read, else its Parquet copy."""
        table, readable = self._warehouse_table(name)
        if readable:
            return table
        # The copy is read through one open file: the refresher replaces it by rename, and a reader
        # that opened it twice could mix the old footer with the new data.
        try:
            return pq.read_table(lake.mart_path(self.root, name))
        except FileNotFoundError:
            return None

    def _warehouse_table(self, name: str) -> tuple[pa.Table | None, bool]:
        """(the mart or None if the warehouse has no such mart, True) when the warehouse can be read;
        (None, False) when there is none, or a writer holds it ("Could not set lock on file")."""
        if self.warehouse is None or not self.warehouse.exists():
            return None, False
        try:
            con = duckdb.connect(str(self.warehouse), read_only=True)
        except duckdb.Error:
            return None, False
        try:
            found = con.execute(
                "select schema_name from duckdb_tables() where schema_name like '%marts' and table_name = ?", [name]
            ).fetchone()
            if found is None:
                return None, True
            return con.execute(f'select * from "{found[0]}"."{name}"').to_arrow_table(), True
        finally:
            con.close()

    def mart(self, name: str) -> pd.DataFrame | None:
        table = self._mart_table(name)
        return None if table is None else table.to_pandas()

    def has_data(self) -> bool:
        return any(self._files(stream, hours=1) for stream in lake.STREAMS)

    # -- panels about now ------------------------------------------------------------------

    def kpis(self, wall_now: datetime | None = None) -> Kpis:
        wall_now = wall_now or datetime.now(UTC)
        vehicles: Any = 0
        speed: Any = None
        newest: Any = None
        sent_at: Any = None
        files = self._files("vehicle")
        if files:
            row = self._query(
                f"""
                with recent as (select * from {self._scan(files)}),
                newest as (select max(event_time) as t from recent)
                select count(distinct vehicle_id), avg(speed_kmh), any_value(newest.t), max(kafka_timestamp)
                from recent, newest where event_time > newest.t - ?::interval""",
                [f"{WINDOW.seconds} seconds"],
            )
            vehicles, speed, newest, sent_at = row.iloc[0].tolist()
        incidents = self._files("emergency", hours=None)
        active = total = 0
        if incidents:
            active, total = (
                self._query(f"""
                select count(*) filter (where not resolved), count(*) from (
                    select incident_id, bool_or(status = 'resolved') as resolved
                    from {self._scan(incidents)} group by incident_id)""")
                .iloc[0]
                .tolist()
            )
        quarantine = [f for s in lake.STREAMS for f in self._files(s, lake.QUARANTINE, hours=None)]
        quarantined = int(self._query(f"select count(*) from {self._scan(quarantine)}").iloc[0, 0]) if quarantine else 0
        batches = self.batches()
        # The minute up to wall_now: a batch after it had not landed by then.
        recent = (
            batches[(batches["at"] > wall_now - timedelta(seconds=60)) & (batches["at"] <= wall_now)]
            if len(batches)
            else batches
        )
        return Kpis(
            vehicles_on_road=int(vehicles),
            avg_speed_kmh=None if pd.isna(speed) else float(speed),
            active_incidents=int(active),
            total_incidents=int(total),
            events_landed_per_min=int(recent["rows"].sum()) if len(recent) else 0,
            quarantined=quarantined,
            freshness_s=None if sent_at is None or pd.isna(sent_at) else (wall_now - sent_at).total_seconds(),
            newest_event_time=None if newest is None or pd.isna(newest) else newest.to_pydatetime(),
            newest_sent_at=None if sent_at is None or pd.isna(sent_at) else sent_at.to_pydatetime(),
        )

    def positions(self) -> pd.DataFrame:
        """Each vehicle's latest GPS fix in the recent partitions."""
        files = self._files("gps")
        if not files:
            return pd.DataFrame(columns=["vehicle_id", "lat", "lon", "speed_kmh", "event_time"])
        return self._query(f"""
            select vehicle_id, arg_max(lat, event_time) as lat, arg_max(lon, event_time) as lon,
                   arg_max(speed_kmh, event_time) as speed_kmh, max(event_time) as event_time
            from {self._scan(files)} group by vehicle_id order by vehicle_id""")

    def batches(self) -> pd.DataFrame:
        """The last batches of every stream from the job's metrics file."""
        columns = ["at", "stream", "rows", "quarantined", "batch_ms", "source_lag_records", "input_rows_per_s"]
        rows = metrics.last_rows(lake.metrics_path(str(self.root)), METRICS_TAIL)
        batches = [{c: getattr(r, c) for c in columns} for r in rows if isinstance(r, metrics.BatchRow)]
        frame = pd.DataFrame(batches, columns=columns)
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame

    def pipeline_health(self) -> pd.DataFrame:
        """Per stream: rows/s into the job, last batch duration, lag in records (latest batch)."""
        batches = self.batches()
        if not len(batches):
            return pd.DataFrame(columns=["stream", "input_rows_per_s", "batch_ms", "source_lag_records"])
        latest = batches.sort_values("at").groupby("stream").tail(1)
        return latest[["stream", "input_rows_per_s", "batch_ms", "source_lag_records"]].sort_values("stream")

    def quarantine_reasons(self) -> pd.DataFrame:
        files = [f for s in lake.STREAMS for f in self._files(s, lake.QUARANTINE, hours=None)]
        if not files:
            return pd.DataFrame(columns=["reason", "records"])
        return self._query(f"""
            select split_part(quarantine_reason, ':', 1) as reason, count(*) as records
            from {self._scan(files)} group by 1 order by 2 desc, 1""")

    # -- panels about history (marts) ------------------------------------------------------

    def speed_over_time(self) -> pd.DataFrame | None:
        """Average and 95th-percentile speed per hour, over every reading of the hour."""
        speed = self._mart_table("fct_speed_hourly")
        if speed is None:
            return None
        return self._query(
            "select hour_start, avg_speed_kmh, p95_speed_kmh, readings from speed order by 1", speed=speed
        )

    def segments_last_hour(self) -> pd.DataFrame | None:
        """Average speed per route segment in the newest hour: where the jams are."""
        speed = self._mart_table("fct_vehicle_speed_hourly")
        if speed is None:
            return None
        return self._query(
            """select segment_id, min(segment_start_km) as segment_start_km,
                      sum(avg_speed_kmh * readings) / sum(readings) as avg_speed_kmh, sum(readings) as readings
               from speed where hour_start = (select max(hour_start) from speed)
               group by 1 order by 1""",
            speed=speed,
        )

    def marts_as_of(self) -> datetime | None:
        """The landing time of the newest row the marts include: how far the marts on screen trail the lake."""
        freshness = self._mart_table("fct_pipeline_freshness")
        if freshness is None or not len(freshness):
            return None
        newest = self._query("select max(latest_ingested_at) from freshness", freshness=freshness).iloc[0, 0]
        if pd.isna(newest):
            return None
        newest = newest.to_pydatetime()
        return newest if newest.tzinfo else newest.replace(tzinfo=UTC)  # marts keep UTC in plain timestamps

    def incidents_over_time(self) -> pd.DataFrame | None:
        return self.mart("fct_incidents_hourly")

    def weather(self) -> pd.DataFrame | None:
        return self.mart("fct_weather_hourly")

    def heatmap(self) -> pd.DataFrame | None:
        return self.mart("fct_route_heatmap")

    # -- the fleet's contract versions and what version 2 sensors report --------------------

    def fleet_versions(self) -> pd.DataFrame | None:
        """Vehicles per contract version their telemetry is written with: how far an upgrade got.
        None while the marts are not built, or were built by a project without versions."""
        vehicles = self._mart_table("dim_vehicles")
        if vehicles is None or "schema_version" not in vehicles.column_names:
            return None
        return self._query(
            "select schema_version as contract_version, count(*) as vehicles from vehicles group by 1 order by 1",
            vehicles=vehicles,
        )

    def hottest_engines(self, limit: int = 10) -> pd.DataFrame | None:
        """The vehicles with the hottest engines (version 2 telemetry), flagged above HOT_ENGINE_C;
        None when no vehicle reported an engine temperature (a fleet on version 1)."""
        vehicles = self._mart_table("dim_vehicles")
        if vehicles is None or "max_engine_temp_c" not in vehicles.column_names:
            return None
        hottest = self._query(
            f"""select vehicle_id, make, model, max_engine_temp_c, max_engine_temp_c > {HOT_ENGINE_C} as overheating
                from vehicles where max_engine_temp_c is not null
                order by max_engine_temp_c desc, vehicle_id limit {int(limit)}""",
            vehicles=vehicles,
        )
        return hottest if len(hottest) else None
