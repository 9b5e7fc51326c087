"""The batch commit: one snapshot per batch, replays recognised, conflicts retried, readers see whole batches."""

import os
import threading

from lakehouse.commit import BATCH_ID, QUERY_ID, append_batch, committed_batch
from lakehouse.snapshot import local_path
from tests.lakehouse.conftest import Lake, counts, stage_file


def test_each_batch_is_one_snapshot_with_its_query_and_batch_id(iceberg_lake: Lake) -> None:
    table = iceberg_lake.table()
    for batch in range(3):
        files = [
            stage_file(table, range(batch * 10, batch * 10 + 5)),
            stage_file(table, range(batch * 10 + 5, batch * 10 + 10), hour=6),
        ]
        assert append_batch(table, files, "query-a", batch)
    snapshots = table.metadata.snapshots
    assert [(s.summary[QUERY_ID], s.summary[BATCH_ID]) for s in snapshots] == [("query-a", str(b)) for b in range(3)]
    assert [s.summary["added-data-files"] for s in snapshots] == ["2", "2", "2"]
    assert counts(table) == (30, 30)


def test_a_replayed_batch_is_not_appended_again_and_its_files_go(iceberg_lake: Lake) -> None:
    table = iceberg_lake.table()
    assert append_batch(table, [stage_file(table, range(0, 100))], "query-a", 0)
    assert append_batch(table, [stage_file(table, range(100, 200))], "query-a", 1)
    replay = stage_file(table, range(100, 200))
    restarted = iceberg_lake.table()  # the job after a crash: a new handle, same checkpoint's query id
    assert not append_batch(restarted, [replay], "query-a", 1)
    assert not os.path.exists(local_path(replay))
    assert committed_batch(restarted, "query-a") == 1
    assert counts(restarted) == (200, 200)
    # A new checkpoint is a new query whose batch ids start again at 0: appended.
    assert append_batch(restarted, [stage_file(restarted, range(200, 210))], "query-b", 0)
    assert counts(restarted) == (210, 210)


def test_two_writers_on_one_table_both_land_and_a_reader_sees_only_whole_batches(iceberg_lake: Lake) -> None:
    rows_per_batch, batches = 50, 8
    seen: set[tuple[int, int]] = set()
    done = threading.Event()
    errors: list[BaseException] = []

    def write(query: str, partition: int) -> None:
        try:
            table = iceberg_lake.table()
            for batch in range(batches):
                offsets = range(batch * rows_per_batch, (batch + 1) * rows_per_batch)
                append_batch(table, [stage_file(table, offsets, partition=partition)], query, batch)
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        table = iceberg_lake.table()
        while not done.is_set():
            seen.add(counts(table))

    writers = [threading.Thread(target=write, args=(f"query-{p}", p)) for p in (0, 1)]
    reader = threading.Thread(target=read)
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    reader.join()
    assert not errors, errors
    assert counts(iceberg_lake.table()) == (2 * batches * rows_per_batch, 2 * batches * rows_per_batch)
    assert len(seen) > 1, "the reader polled while the writers committed"
    assert all(rows % rows_per_batch == 0 and rows == distinct for rows, distinct in seen), sorted(seen)
