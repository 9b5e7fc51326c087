"""What a reader reads: the data files of a table's current snapshot, never a folder listing."""

from __future__ import annotations

from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from lakehouse.catalogs import CatalogConfig, ensure_tables
from lakehouse.tables import LakeTable


def live_files(table: Table, row_filter: BooleanExpression | None = None) -> list[DataFile]:
    """The data files of the current snapshot (pruned by ``row_filter`` on partitions and column bounds)."""
    if table.current_snapshot() is None:
        return []
    return [task.file for task in table.scan(row_filter=row_filter or AlwaysTrue()).plan_files()]


def current_paths(table: Table, row_filter: BooleanExpression | None = None) -> list[str]:
    """Paths as DuckDB and pyarrow open them: a local file without its ``file://``."""
    return sorted(local_path(f.file_path) for f in live_files(table, row_filter))


def local_path(path: str) -> str:
    return path.removeprefix("file://")


DUCKDB_TYPES = {
    "string": "varchar",
    "double": "double",
    "int": "integer",
    "long": "bigint",
    "timestamptz": "timestamptz",
    "date": "date",
}


def duckdb_relation(table: Table) -> str:
    """A DuckDB relation over the table's current snapshot: its data files, read with the hour
    folders as partitions (so filters on event_date and event_hour skip files unopened), with the
    table's columns in its order; a table with no rows yet is an empty relation of them.

    Files written before a schema evolution lack the columns added since: the manifest says which
    field ids each file holds, so files are read in groups of one set of columns each, a missing
    column null, and the groups unioned (DuckDB's own ``union_by_name`` would read every footer at
    every bind, about a second per refresh at 10M rows; its ``schema`` option cannot be combined
    with hive partitioning)."""
    fields = table.schema().fields
    groups: dict[frozenset[int], list[str]] = {}
    for data_file in live_files(table):
        groups.setdefault(frozenset(data_file.value_counts or ()), []).append(local_path(data_file.file_path))
    every = frozenset(f.field_id for f in fields)
    if len(groups) == 1 and next(iter(groups)) >= every:
        return f"read_parquet({sorted(next(iter(groups.values())))!r}, hive_partitioning = true)"
    if not groups:
        return "(" + _select(fields, frozenset(), "") + " where false)"
    parts = []
    for ids, paths in sorted(groups.items(), key=lambda item: sorted(item[1])):
        if not ids:  # a file with no column statistics: let DuckDB read its columns by name
            relation = f"read_parquet({sorted(paths)!r}, hive_partitioning = true, union_by_name = true)"
            parts.append(_select(fields, every, f" from {relation}"))
            continue
        parts.append(_select(fields, ids, f" from read_parquet({sorted(paths)!r}, hive_partitioning = true)"))
    return "(" + " union all ".join(parts) + ")"


def _select(fields: list, present: frozenset[int], source: str) -> str:
    columns = ", ".join(
        f.name if f.field_id in present else f"cast(null as {DUCKDB_TYPES[str(f.field_type)]}) as {f.name}"
        for f in fields
    )
    return f"select {columns}{source}"


def load_table(config: CatalogConfig, zone: str, stream: str) -> Table:
    """One table of the lake (made, with its stream's other zone, if the lake has none yet)."""
    return ensure_tables(config, (stream,))[LakeTable(zone, stream)]


def lake_relation(config: CatalogConfig, zone: str, stream: str) -> str:
    """The DuckDB relation of one table's current snapshot (see ``duckdb_relation``)."""
    return duckdb_relation(load_table(config, zone, stream))


def added_files(table: Table, since_ms: int = 0) -> list[tuple[int, DataFile]]:
    """(commit time in ms, data file) of every file a snapshot committed at or after ``since_ms``
    added (appends and compactions alike), from the table's snapshot history."""
    from pyiceberg.manifest import ManifestEntryStatus

    found = []
    for snapshot in table.metadata.snapshots:
        if snapshot.timestamp_ms < since_ms:
            continue
        for manifest in snapshot.manifests(table.io):
            if manifest.added_snapshot_id != snapshot.snapshot_id:
                continue
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                if entry.status == ManifestEntryStatus.ADDED and entry.snapshot_id == snapshot.snapshot_id:
                    found.append((snapshot.timestamp_ms, entry.data_file))
    return found


def added_partitions(table: Table, since_ms: int) -> dict[str, set[int]]:
    """{event_date: {event_hour, ...}} of the files snapshots committed at or after ``since_ms``
    added (a rewritten hour holds a new file)."""
    found: dict[str, set[int]] = {}
    for _, data_file in added_files(table, since_ms):
        found.setdefault(iso_day(data_file.partition[0]), set()).add(int(data_file.partition[1]))
    return found


def iso_day(day: object) -> str:
    from datetime import date, timedelta

    if isinstance(day, int):  # Iceberg keeps dates as days since the epoch
        day = date(1970, 1, 1) + timedelta(days=day)
    assert isinstance(day, date)
    return day.isoformat()


def uncommitted_files(table: Table, modified_after: float) -> list[str]:
    """Data files in the table's folder that its current snapshot does not list, written after
    ``modified_after`` (epoch seconds): a batch's files before its commit (local lakes)."""
    from pathlib import Path

    committed = set(current_paths(table))
    folder = Path(local_path(table.location())) / "data"
    found = []
    for path in folder.rglob("*.parquet"):
        try:
            fresh = path.stat().st_mtime > modified_after
        except FileNotFoundError:  # orphan removal took it meanwhile
            continue
        if fresh and str(path) not in committed:
            found.append(str(path))
    return found


def lake_union(config: CatalogConfig, zone: str, columns: str, streams: tuple[str, ...]) -> str:
    """One DuckDB relation of ``columns`` over several streams' tables of a zone (current snapshots)."""
    parts = [f"select {columns} from {lake_relation(config, zone, stream)}" for stream in streams]
    return "(" + " union all ".join(parts) + ")"
