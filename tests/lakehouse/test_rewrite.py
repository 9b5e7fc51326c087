"""Compaction as an Iceberg rewrite: exactly the files it read, late appends survive, replays stay out."""

from datetime import UTC, datetime, timedelta

from lakehouse.commit import append_batch
from lakehouse.rewrite import compact_table, hours_to_compact, rewrite_hour
from lakehouse.snapshot import current_paths
from tests.lakehouse.conftest import DAY, Lake, append_batches, counts, stage_file

LATER = datetime(2026, 3, 2, tzinfo=UTC)


def test_an_hour_of_small_files_becomes_one_file_in_one_snapshot(iceberg_lake: Lake) -> None:
    table = iceberg_lake.table()
    append_batches(table, 6)
    append_batch(table, [stage_file(table, range(0, 10), partition=1, hour=23)], "q", 6)
    before = len(table.metadata.snapshots)
    (result,) = compact_table(table, now=LATER, grace=timedelta(minutes=60))  # hour 23 has one file
    assert (result.event_hour, result.files_in, result.rows_in, result.rows_out, result.committed) == (
        5,
        6,
        60,
        60,
        True,
    )
    assert len(table.metadata.snapshots) == before + 1
    assert len(current_paths(table)) == 2
    assert counts(table) == (70, 70)


def test_an_open_hour_is_left_alone(iceberg_lake: Lake) -> None:
    table = iceberg_lake.table()
    for batch in range(3):
        append_batch(table, [stage_file(table, range(batch, batch + 1))], "q", batch)
    just_after = datetime(2026, 3, 1, 6, 30, tzinfo=UTC)
    assert compact_table(table, now=just_after, grace=timedelta(minutes=60)) == []


def test_a_late_append_while_compacting_survives_and_nothing_doubles(iceberg_lake: Lake) -> None:
    stream, compaction = iceberg_lake.table(), iceberg_lake.table()
    append_batches(stream, 4)
    compaction.refresh()
    planned = hours_to_compact(compaction, LATER, timedelta(minutes=60), 2)[(DAY, 5)]
    # The stream appends a late batch to the same hour after compaction planned, before it commits.
    append_batch(stream, [stage_file(stream, range(40, 50))], "q", 4)
    result = rewrite_hour(compaction, DAY, 5, planned)
    assert result.committed and result.files_in == 4
    assert counts(iceberg_lake.table()) == (50, 50)
    assert len(current_paths(iceberg_lake.table())) == 2  # the compacted file and the late one


def test_a_compaction_whose_files_another_compaction_took_does_not_commit(iceberg_lake: Lake) -> None:
    first, second = iceberg_lake.table(), iceberg_lake.table()
    append_batches(first, 3)
    second.refresh()
    planned = hours_to_compact(second, LATER, timedelta(minutes=60), 2)[(DAY, 5)]
    assert compact_table(first, now=LATER)[0].committed
    assert not rewrite_hour(second, DAY, 5, planned).committed
    assert counts(iceberg_lake.table()) == (30, 30)


def test_a_batch_replayed_after_its_hour_was_compacted_is_not_appended(iceberg_lake: Lake) -> None:
    table = iceberg_lake.table()
    append_batches(table, 3)
    compact_table(table, now=LATER)
    assert not append_batch(iceberg_lake.table(), [stage_file(table, range(20, 30))], "q", 2)
    assert counts(iceberg_lake.table()) == (30, 30)


def test_compaction_keeps_one_row_per_kafka_coordinate(iceberg_lake: Lake) -> None:
    table = iceberg_lake.table()
    # Two queries (an old and a new checkpoint) landed the same offsets: the rewrite keeps one copy.
    append_batch(table, [stage_file(table, range(0, 10))], "old", 0)
    append_batch(table, [stage_file(table, range(5, 15))], "new", 0)
    (result,) = compact_table(table, now=LATER)
    assert (result.rows_in, result.rows_out) == (20, 15)
    assert counts(table) == (15, 15)
