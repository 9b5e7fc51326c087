"""dbt as users run it: a process of its own per command, on the local target over a lake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
DBT = str(Path(sys.executable).with_name("dbt"))


def dbt(*args: str, lake: Path, database: Path, target: str = "local") -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "SMARTCITY_LAKE_ROOT": str(lake),
        "SMARTCITY_DUCKDB_PATH": str(database),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_TARGET": target,
    }
    return subprocess.run(
        [DBT, *args, "--profiles-dir", str(PROJECT)], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600
    )


def warehouse_query(database: Path, sql: str) -> list[tuple]:
    """Rows from the DuckDB warehouse dbt built (read-only, closed after)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
