"""Snapshot expiry and orphan removal keep the table readable and remove only what no snapshot needs."""

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lakehouse.commit import append_batch, committed_batch
from lakehouse.maintain import maintain, referenced_files
from lakehouse.rewrite import compact_table
from lakehouse.snapshot import local_path
from tests.lakehouse.conftest import Lake, append_batches, counts, stage_file

LATER = datetime(2026, 3, 2, tzinfo=UTC)


def test_expiry_keeps_the_table_readable_and_the_replay_guard(iceberg_lake: Lake) -> None:
    table = iceberg_lake.table()
    append_batches(table, 8)
    compact_table(table, now=LATER)
    append_batch(table, [stage_file(table, range(80, 90), hour=7)], "q", 8)
    result = maintain(table, retention=timedelta(0), orphan_age=timedelta(0))
    assert result.snapshots_kept == 1  # the current one, which is also the query's newest
    assert result.snapshots_expired == 9
    assert counts(iceberg_lake.table()) == (90, 90)
    assert committed_batch(iceberg_lake.table(), "q") == 8
    # The eight small files the compaction replaced are gone from the disk; live files are not.
    data = {str(p) for p in Path(local_path(table.location()), "data").rglob("*.parquet")}
    assert len(data) == 2
    assert data <= referenced_files(table)


def test_expiry_keeps_snapshots_younger_than_the_retention(iceberg_lake: Lake) -> None:
    table = iceberg_lake.table()
    for batch in range(5):
        append_batch(table, [stage_file(table, range(batch, batch + 1))], "q", batch)
    assert maintain(table, retention=timedelta(hours=1), orphan_age=timedelta(hours=1)).snapshots_expired == 0
    assert len(table.metadata.snapshots) == 5


def test_orphan_removal_spares_files_of_commits_in_flight(iceberg_lake: Lake) -> None:
    table = iceberg_lake.table()
    append_batch(table, [stage_file(table, range(0, 10))], "q", 0)
    died = local_path(stage_file(table, range(10, 20)))  # a batch whose driver died before its commit
    an_hour_ago = time.time() - 3600
    os.utime(died, (an_hour_ago, an_hour_ago))
    in_flight = stage_file(table, range(20, 30))  # staged a moment ago, about to be committed
    result = maintain(table, retention=timedelta(hours=1), orphan_age=timedelta(minutes=30))
    assert result.orphans_deleted == 1
    assert not os.path.exists(died) and os.path.exists(local_path(in_flight))
    assert append_batch(table, [in_flight], "q", 1)
    assert counts(table) == (20, 20)
