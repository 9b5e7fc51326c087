"""Reading the lake the way users do: DuckDB over the data files of each table's current snapshot."""

from __future__ import annotations

from pathlib import Path

import duckdb

from contract import lake as layout
from lakehouse.catalogs import CatalogConfig, default_catalog
from lakehouse.snapshot import lake_relation


def catalog(lake: Path | str) -> CatalogConfig:
    """The catalog of a local lake: its own SQLite file."""
    return CatalogConfig(default_catalog(str(lake)), str(lake))


def relation(lake: Path | str, stream: str, zone: str = layout.RAW) -> str:
    """``read_parquet([...])`` of the files in the table's current snapshot (an empty typed relation if none)."""
    return lake_relation(catalog(lake), zone, stream)


def query(sql: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def count_rows(lake: Path, stream: str, zone: str = layout.RAW) -> tuple[int, int]:
    """(rows, distinct event ids) for a raw stream; (rows, rows) for quarantine."""
    key = "event_id" if zone == layout.RAW else "kafka_offset"
    return query(f"select count(*), count(distinct {key}) from {relation(lake, stream, zone)}")[0]


def clone(source: Path, target: Path, streams: tuple[str, ...] = layout.STREAMS) -> None:
    """A lake at ``target`` whose tables start as those of ``source``: each table's current data
    files appended to a new table (a shallow clone: the files stay where they are, only the
    metadata is new). An Iceberg lake is not copied as a folder: its metadata holds the absolute
    paths of its files, and a copy would point at the original's."""
    from lakehouse.catalogs import ensure_tables
    from lakehouse.snapshot import live_files

    originals = ensure_tables(catalog(source))
    clones = ensure_tables(catalog(target))
    for spec, original in originals.items():
        files = live_files(original) if spec.stream in streams else []
        if files:
            table = clones[spec]
            with table.transaction() as tx, tx.update_snapshot().fast_append() as append:
                for data_file in files:
                    append.append_data_file(data_file)


def committed_files(lake: Path, zone: str = layout.RAW) -> int:
    """Data files in the current snapshots of a zone's tables."""
    from lakehouse.snapshot import current_paths, load_table

    return sum(len(current_paths(load_table(catalog(lake), zone, stream))) for stream in layout.STREAMS)


def first_version_tables(lake: Path | str) -> None:
    """The lake's tables as the contract's first versions made them: without the columns later
    versions added (a lake landed before the fleet's upgrade)."""
    from pyiceberg.schema import Schema

    from contract.events import BY_NAME
    from lakehouse.catalogs import open_catalog, table_location
    from lakehouse.tables import PROPERTIES, lake_tables

    config = catalog(lake)
    iceberg = open_catalog(config)
    iceberg.create_namespace_if_not_exists(config.namespace)
    for spec in lake_tables():
        added = {f.name for f in BY_NAME[spec.stream].added_since_first()} if spec.zone == layout.RAW else set()
        iceberg.create_table(
            (config.namespace, spec.name),
            schema=Schema(*(f for f in spec.schema().fields if f.name not in added)),
            location=table_location(config.warehouse, spec),
            partition_spec=spec.partition_spec(),
            properties=PROPERTIES,
        )
