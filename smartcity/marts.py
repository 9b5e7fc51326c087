"""Keep the marts current while the stream runs, and hand them to the dashboard as files.

Every ``SMARTCITY_MARTS_EVERY`` seconds ``smartcity up`` runs an incremental ``dbt build`` in this
process (dbtRunner: dbt's ~3 s start-up is paid once), its data tests over what arrived since the
previous good build (the first build of a run tests every row), then copies every mart to
``<lake>/_marts/<mart>.parquet`` under a hidden name and renames it into place. DuckDB lets one
process write a database file or several read it, never both: the dashboard reads only these
Parquet copies, so a build in progress can never lock it out or show it a half-written table.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from contract import lake
from smartcity.config import Settings
from smartcity.exporter import RunMetrics
from smartcity.periodic import Periodic

log = logging.getLogger("smartcity.marts")

# How far before the previous build's start the tests look again: a row landed just before it may
# have become visible to readers after it.
TESTS_LOOKBACK = timedelta(minutes=5)


def dbt_environment(settings: Settings) -> dict[str, str]:
    """What the local dbt target needs, as absolute paths (dbt may run from any folder)."""
    return {
        "SMARTCITY_LAKE_ROOT": str(Path(settings.lake_root).resolve()),
        "SMARTCITY_DUCKDB_PATH": str(settings.duckdb_path),
        "DBT_PROFILES_DIR": str(settings.dbt_project_dir),
        # dbt's own files go to the data folder: the project may be inside a read-only wheel, and a
        # person's `dbt run` in dbt_project/ keeps its target/ to itself.
        "DBT_TARGET_PATH": str(settings.data_dir / "dbt" / "target"),
        "DBT_LOG_PATH": str(settings.data_dir / "dbt" / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }


def export_marts(database: Path, lake_root: str) -> list[str]:
    """Copy every table of the marts schema to its Parquet file, each replaced atomically."""
    import duckdb

    # Not read-only: dbt-duckdb, run in this process, keeps the database open, and DuckDB shares one
    # instance per file and process only between connections of the same configuration.
    con = duckdb.connect(str(database))
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name like '%marts' order by 2"
        ).fetchall()
        for schema, table in tables:
            target = lake.mart_path(lake_root, table)
            target.parent.mkdir(parents=True, exist_ok=True)
            hidden = target.with_name(f".{table}.parquet.tmp")
            con.execute(f'copy (select * from "{schema}"."{table}") to \'{hidden}\' (format parquet)')
            os.replace(hidden, target)
    finally:
        con.close()
    return [table for _, table in tables]


@contextlib.contextmanager
def _environment(updates: dict[str, str]) -> Iterator[None]:
    """dbt reads its settings from the process environment: set them for one invocation only, so
    nothing this process starts later inherits them."""
    saved = {name: os.environ.get(name) for name in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def new_partitions(settings: Settings, since: datetime) -> dict[str, dict[str, list[int]]]:
    """Per stream, the raw partitions {event_date: [event_hour, ...]} to which a snapshot committed
    at or after ``since`` added a file (an append, or a compaction's new file), from each table's
    snapshot history."""
    from lakehouse.snapshot import added_partitions, load_table

    found: dict[str, dict[str, list[int]]] = {}
    for stream in lake.STREAMS:
        hours = added_partitions(load_table(settings.lake_catalog(), lake.RAW, stream), int(since.timestamp() * 1000))
        found[stream] = {day: sorted(h) for day, h in sorted(hours.items())}
    return found


def refresh_dbt_lake_views(settings: Settings) -> None:
    """dbt-duckdb keeps one DuckDB environment per process across invocations (it closes it at exit
    only), and the plugin makes the views of the lake's snapshots (lakehouse/dbt_duckdb.py) when it
    opens: a later build of this process refreshes them on that connection first, so it reads the
    newest snapshots without opening the warehouse again."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    from lakehouse.dbt_duckdb import refresh_lake_views

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        connection = getattr(env, "conn", None)
        if connection is not None:
            refresh_lake_views(connection, settings.lake_catalog())


def build_and_export(settings: Settings, runner: Any = None, tests_since: datetime | None = None) -> bool:
    """One incremental build of the warehouse and an export of its marts; False (and one log
    line) when dbt failed, e.g. before the stream landed anything. With ``tests_since`` (the start of
    the refresher's previous good build), the data tests read only what arrived since then
    (dbt_project/macros/tests_window.sql): their cost follows the arrivals, not what is stored."""
    from dbt.cli.main import dbtRunner

    runner = runner or dbtRunner()
    # Unit tests check the SQL, not the data: CI runs them; a refresh every minute need not.
    # dbt's console output would break into the status display: its log file keeps every line.
    build = ["build", "--project-dir", str(settings.dbt_project_dir), "--exclude", "resource_type:unit_test"]
    build += ["--log-level", "none", "--log-level-file", "debug"]
    since = tests_since - TESTS_LOOKBACK if tests_since else None
    window = new_partitions(settings, since) if since else None
    window_file = settings.data_dir / "dbt" / "tests_window.json"
    environment = dbt_environment(settings)
    if since and window is not None:
        window_file.parent.mkdir(parents=True, exist_ok=True)
        window_file.write_text(json.dumps({"since": since.isoformat(), "partitions": window}))
        environment["SMARTCITY_TESTS_WINDOW"] = str(window_file)
    else:
        environment["SMARTCITY_TESTS_WINDOW"] = ""  # every row (the variable's value is part of dbt's parse)
    refresh_dbt_lake_views(settings)
    with _environment(environment):
        result = runner.invoke(build)
    if not result.success:
        where = f"see {settings.data_dir / 'dbt' / 'logs' / 'dbt.log'}"
        log.warning("dbt build failed: %s", str(result.exception or where).splitlines()[0])
        return False
    export_marts(settings.duckdb_path, settings.lake_root)
    return True


class MartsRefresher(Periodic):
    """A thread that starts a build and export of the marts every ``every_s`` seconds until stopped.
    Builds start at a fixed rate (not ``every_s`` after the previous one ended), so the marts trail
    the lake by at most ``every_s`` plus one build."""

    thread_name = "marts-refresher"

    def __init__(self, settings: Settings, every_s: float, observer: RunMetrics | None = None) -> None:
        super().__init__(every_s)
        self.settings = settings
        self.observer = observer  # the run's Prometheus metrics
        self.builds = 0
        self.last_built: float | None = None  # time.monotonic() of the last good build
        self.last_failed = False
        self.tested_since: datetime | None = None  # start of the last good build
        self._runner: Any = None

    def prepare(self) -> None:
        from dbt.cli.main import dbtRunner

        self._runner = dbtRunner()

    def round(self) -> None:
        started, started_at = time.monotonic(), datetime.now(UTC)
        includes = self.observer.marts_started() if self.observer else None
        try:
            # The first build of a run tests every row; each later one what arrived since the
            # previous good build started.
            if build_and_export(self.settings, self._runner, tests_since=self.tested_since):
                self.tested_since = started_at
                self.builds += 1
                self.last_built, self.last_failed = time.monotonic(), False
                log.info("marts rebuilt and exported in %.1f s", time.monotonic() - started)
            else:
                self.last_failed = True
        except Exception as exc:  # a refresh that fails must not stop the stream
            self.last_failed = True
            log.warning("marts refresh failed: %s", exc)
        if self.observer is not None:
            self.observer.marts_built(time.monotonic() - started, not self.last_failed, includes)

    def last_round(self) -> bool:
        """After ``stop()``, one more build in the calling thread (at its priority, not the
        refresher's), so the marts hold everything the run landed; True when it succeeded."""
        self.round()
        return not self.last_failed

    def describe(self) -> str:
        """For the status display: when the marts were last built, or why not."""
        if self.last_failed:
            return "last build failed (see the log)"
        if self.last_built is None:
            return f"first build within {self.every_s:.0f} s"
        return f"built {time.monotonic() - self.last_built:.0f} s ago"
