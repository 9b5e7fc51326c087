"""What a reader reads: the data files of a table's current snapshot, never a folder listing."""

from __future__ import annotations

from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table


def live_files(table: Table, row_filter: BooleanExpression | None = None) -> list[DataFile]:
    """The data files of the current snapshot (pruned by ``row_filter`` on partitions and column bounds)."""
    if table.current_snapshot() is None:
        return []
    return [task.file for task in table.scan(row_filter=row_filter or AlwaysTrue()).plan_files()]


def current_paths(table: Table, row_filter: BooleanExpression | None = None) -> list[str]:
    return sorted(f.file_path for f in live_files(table, row_filter))
