"""Table maintenance: expire old snapshots, then delete the files no snapshot needs any more.

Expiry keeps every snapshot younger than ``retention``, the current one, and the newest
snapshot of each streaming query: that one is how a replayed batch is recognised
(lakehouse/commit.py), so it stays until a newer batch of the same query replaces it.
Orphan removal deletes files under the table's location that no kept snapshot and no kept
metadata version references, and only those older than ``orphan_age``: longer than any batch or
compaction in flight, whose files are in no snapshot until they commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow.fs as pafs
from pyiceberg.table import Table

from lakehouse.catalogs import CatalogConfig, ensure_tables
from lakehouse.commit import QUERY_ID, with_retries

log = logging.getLogger("smartcity.maintain")

# Snapshots a reader or a time-travel query may still want; files written for a commit not made yet.
RETENTION = timedelta(minutes=10)
ORPHAN_AGE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Maintenance:
    table: str
    snapshots_expired: int
    snapshots_kept: int
    orphans_deleted: int


def expire_snapshots(table: Table, retention: timedelta, now: datetime | None = None) -> int:
    expired: list[int] = []

    def commit() -> bool:
        expired.clear()
        cutoff = int(((now or datetime.now(UTC)) - retention).timestamp() * 1000)
        current = table.current_snapshot()
        newest_per_query: dict[str, int] = {}
        for snapshot in sorted(table.metadata.snapshots, key=lambda s: s.sequence_number or 0):
            query = (snapshot.summary.get(QUERY_ID) if snapshot.summary else None) or ""
            if query:
                newest_per_query[query] = snapshot.snapshot_id
        keep = set(newest_per_query.values()) | ({current.snapshot_id} if current else set())
        expired.extend(
            s.snapshot_id for s in table.metadata.snapshots if s.timestamp_ms < cutoff and s.snapshot_id not in keep
        )
        if expired:
            table.maintenance.expire_snapshots().by_ids(expired).commit()
        return True

    with_retries(table, commit)
    return len(expired)


def referenced_files(table: Table) -> set[str]:
    """Every file a kept snapshot or kept metadata version needs."""
    metadata = table.metadata
    keep = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log)}
    seen_manifests: set[str] = set()
    for snapshot in metadata.snapshots:
        keep.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in seen_manifests:
                continue
            seen_manifests.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                keep.add(entry.data_file.file_path)
    keep |= seen_manifests
    return {_plain(path) for path in keep}


def _plain(path: str) -> str:
    """One spelling per file: no ``file:`` scheme, so listings and references compare."""
    return path.removeprefix("file://").removeprefix("file:")


def remove_orphans(table: Table, older_than: timedelta, now: datetime | None = None, dry_run: bool = False) -> int:
    fs, base = pafs.FileSystem.from_uri(table.location())
    scheme = table.location().split("://", 1)[0] + "://" if "://" in table.location() else ""
    prefix = "" if scheme == "file://" else scheme
    cutoff = (now or datetime.now(UTC)) - older_than
    # Listed before the references are read: a file committed in between is referenced then.
    listed = [
        info
        for info in fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        if info.type == pafs.FileType.File and info.mtime is not None and info.mtime < cutoff
    ]
    table.refresh()
    referenced = referenced_files(table)
    orphans = [info.path for info in listed if _plain(prefix + info.path) not in referenced]
    for path in orphans:
        if not dry_run:
            fs.delete_file(path)
    return len(orphans)


def maintain(
    table: Table, retention: timedelta, orphan_age: timedelta, now: datetime | None = None, dry_run: bool = False
) -> Maintenance:
    expired = 0 if dry_run else expire_snapshots(table, retention, now)
    orphans = remove_orphans(table, orphan_age, now, dry_run)
    result = Maintenance(table.name()[-1], expired, len(table.metadata.snapshots), orphans)
    log.info(
        "maintain %s: %d snapshots expired, %d kept, %d orphan files %s",
        result.table,
        expired,
        result.snapshots_kept,
        orphans,
        "found" if dry_run else "deleted",
    )
    return result


def maintain_lake(
    config: CatalogConfig,
    retention: timedelta = RETENTION,
    orphan_age: timedelta = ORPHAN_AGE,
    dry_run: bool = False,
) -> list[Maintenance]:
    tables = ensure_tables(config)
    return [maintain(table, retention, orphan_age, dry_run=dry_run) for table in tables.values()]
