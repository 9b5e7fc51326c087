"""A micro-batch's files become part of its table in one Iceberg snapshot, once.

This is where the exactly-once protocol into the lake lives (the README points here):

1. Each Spark task reads its Kafka offset range, parses it and writes Parquet files straight into
   the table's ``data/`` folder, under names no other attempt uses. A file that is in no snapshot
   is invisible: every reader (dbt, the dashboard, Athena, Spectrum) reads a table's current
   snapshot, never the folder.
2. Once every task succeeded, the driver appends all the batch's files to the table in one
   snapshot (an append of the staged files, never a rewrite). A snapshot is atomic: readers see
   the whole batch or none of it. Its summary carries the streaming query's id and the batch id.
3. Before appending, the driver looks for that query and batch in the table's snapshots. When
   Spark replays a batch after a crash (same id, same offsets, from its offset log), the batch is
   found if its snapshot was committed, and the replay's files are deleted instead of appended:
   a replay never adds. If the crash came before the snapshot, the replay's own files are appended
   and the first attempt's files stay in no snapshot; orphan removal deletes them later.
4. Quarantine is committed before raw, each idempotently: a crash between the two leaves the
   quarantine committed and the replay commits raw. No record is in neither table, none twice.
5. Spark records the batch in its commit log only after the driver returned.

Commits to one table from several writers (the stream, compaction) conflict only on the
catalog's pointer to the table's metadata: pyiceberg reloads the table and applies the commit
again (``commit.retry.*`` in lakehouse/tables.py); only one driver writes a query's batches.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.io.pyarrow import parquet_file_to_data_file
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

log = logging.getLogger("smartcity.lakehouse")

QUERY_ID = "smartcity.query-id"
BATCH_ID = "smartcity.batch-id"
OPERATION = "smartcity.operation"
RETRIES = 3


def committed_batch(table: Table, query_id: str) -> int | None:
    """The newest batch of streaming query ``query_id`` among the table's snapshots."""
    batches = [
        int(s.summary[BATCH_ID])
        for s in table.metadata.snapshots
        if s.summary is not None and s.summary.get(QUERY_ID) == query_id
    ]
    return max(batches, default=None)


def with_retries(table: Table, commit: Callable[[], bool]) -> bool:
    """Run ``commit`` (which checks the table first) again on a reloaded table if it still lost
    the race after pyiceberg's own retries."""
    for attempt in range(RETRIES):
        try:
            return commit()
        except CommitFailedException as exc:
            if attempt == RETRIES - 1:
                raise
            log.info("table %s changed meanwhile (%s): reloading, attempt %d", table.name(), exc, attempt + 2)
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
            table.refresh()
    raise AssertionError("unreachable")


def data_files(table: Table, paths: Iterable[str]) -> list[DataFile]:
    """Iceberg's description of written Parquet files (partition, counts, column bounds) from their footers."""
    return [parquet_file_to_data_file(table.io, table.metadata, path) for path in paths]


def append_batch(table: Table, paths: list[str], query_id: str, batch_id: int) -> bool:
    """Append the batch's files in one snapshot unless the batch is in the table already.

    Returns whether it appended; a batch already there has the files of this attempt deleted."""
    files = data_files(table, paths)
    summary = {QUERY_ID: query_id, BATCH_ID: str(batch_id), OPERATION: "stream"}

    def commit() -> bool:
        newest = committed_batch(table, query_id)
        if newest is not None and newest >= batch_id:
            return False
        with table.transaction() as tx, tx.update_snapshot(snapshot_properties=summary).merge_append() as append:
            for data_file in files:
                append.append_data_file(data_file)
        return True

    appended = with_retries(table, commit)
    if not appended:
        log.info(
            "table %s: batch %d of query %s is committed already, dropping its replay", table.name(), batch_id, query_id
        )
        for path in paths:
            table.io.delete(path)
    return appended
