"""Reading the lake the way users do: DuckDB over the Parquet files, Hive partitions."""

from __future__ import annotations

from pathlib import Path

import duckdb


def raw_glob(lake: Path, stream: str, zone: str = "raw") -> str:
    return f"{lake}/{zone}/{stream}/*/*/*.parquet"


def query(sql: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def count_rows(lake: Path, stream: str, zone: str = "raw") -> tuple[int, int]:
    """(rows, distinct event ids) for a raw stream; (rows, rows) for quarantine."""
    if not list((lake / zone / stream).glob("*/*/*.parquet")):
        return 0, 0
    key = "event_id" if zone == "raw" else "kafka_offset"
    return query(
        f"select count(*), count(distinct {key}) from read_parquet('{raw_glob(lake, stream, zone)}', "
        "hive_partitioning = true)"
    )[0]
