"""Reading the lake the way users do: DuckDB over the Parquet files, Hive partitions."""

from __future__ import annotations

from pathlib import Path

import duckdb

from contract import lake as layout


def raw_glob(lake: Path, stream: str, zone: str = layout.RAW) -> str:
    return layout.files_glob(lake, zone, stream)


def query(sql: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def count_rows(lake: Path, stream: str, zone: str = layout.RAW) -> tuple[int, int]:
    """(rows, distinct event ids) for a raw stream; (rows, rows) for quarantine."""
    if not list(Path(layout.stream_dir(lake, zone, stream)).glob("*/*/*.parquet")):
        return 0, 0
    key = "event_id" if zone == layout.RAW else "kafka_offset"
    return query(
        f"select count(*), count(distinct {key}) from read_parquet('{raw_glob(lake, stream, zone)}', "
        "hive_partitioning = true)"
    )[0]
