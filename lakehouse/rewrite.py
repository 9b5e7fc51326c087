"""Compaction as an Iceberg rewrite: the small files of a closed hour replaced by one file.

The new file holds one row per Kafka coordinate (topic, partition, offset) of the files it read;
the snapshot that adds it removes exactly those files, by path, never "whatever matches the hour":
a late batch appended to the hour meanwhile stays. A conflicting commit reloads the table and
tries again if every file it read is still live; if one is gone (another compaction took it),
the hour is left for the next run. Readers see the hour before or after, never both copies.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.exceptions import ValidationException
from pyiceberg.expressions import And, EqualTo
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from contract import lake
from lakehouse.catalogs import CatalogConfig, ensure_tables
from lakehouse.commit import OPERATION, data_files, with_retries
from lakehouse.snapshot import iso_day, live_files

log = logging.getLogger("smartcity.compact")

KAFKA_KEY = ("kafka_topic", "kafka_partition", "kafka_offset")


@dataclass(frozen=True, slots=True)
class HourCompaction:
    table: str  # the table's name: "vehicle", "quarantine_vehicle"
    event_date: date
    event_hour: int
    files_in: int
    rows_in: int
    rows_out: int
    committed: bool


def _closed(day: date, hour: int, now: datetime, grace: timedelta) -> bool:
    hour_end = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hour + 1)
    return hour_end + grace <= now


def hours_to_compact(
    table: Table, now: datetime, grace: timedelta, min_files: int
) -> dict[tuple[date, int], list[DataFile]]:
    """The closed hours with at least ``min_files`` live files, and those files."""
    by_hour: dict[tuple[date, int], list[DataFile]] = {}
    for data_file in live_files(table):
        day, hour = date.fromisoformat(iso_day(data_file.partition[0])), data_file.partition[1]
        by_hour.setdefault((day, hour), []).append(data_file)
    return {
        key: files for key, files in sorted(by_hour.items()) if len(files) >= min_files and _closed(*key, now, grace)
    }


def _first_per_coordinate(table: pa.Table) -> pa.Table:
    """One row per Kafka coordinate, the earliest landed copy first."""
    order = pc.sort_indices(table, sort_keys=[*((k, "ascending") for k in KAFKA_KEY), ("ingested_at", "ascending")])
    table = table.take(order)
    keys = [table.column(k) for k in KAFKA_KEY]
    if table.num_rows < 2:
        return table
    same = pc.and_(
        pc.and_(pc.equal(keys[0][1:], keys[0][:-1]), pc.equal(keys[1][1:], keys[1][:-1])),
        pc.equal(keys[2][1:], keys[2][:-1]),
    )
    first = pa.concat_arrays([pa.array([True]), pc.invert(pc.fill_null(same, False)).combine_chunks()])
    return table.filter(first)


def rewrite_hour(table: Table, day: date, hour: int, files: list[DataFile], dry_run: bool = False) -> HourCompaction:
    arrow_schema = table.schema().as_arrow()
    parts = []
    for data_file in files:
        with table.io.new_input(data_file.file_path).open() as stream:
            parts.append(pq.read_table(stream).cast(arrow_schema))
    rows = pa.concat_tables(parts)
    merged = _first_per_coordinate(rows)
    result = HourCompaction(table.name()[-1], day, hour, len(files), rows.num_rows, merged.num_rows, False)
    if dry_run:
        return result
    path = f"{table.location()}/data/{lake.partition_dir(day, hour)}/compacted-{uuid.uuid4().hex}.parquet"
    with table.io.new_output(path).create(overwrite=True) as out:
        pq.write_table(merged, out, compression="zstd", row_group_size=500_000)
    (new_file,) = data_files(table, [path])
    read = {f.file_path for f in files}
    summary = {OPERATION: "compaction", "smartcity.hour": f"{day.isoformat()}T{hour:02d}"}

    def commit() -> bool:
        if not read <= {f.file_path for f in live_files(table, hour_filter(day, hour))}:
            return False
        try:
            with table.transaction() as tx, tx.update_snapshot(snapshot_properties=summary).overwrite() as rewrite:
                for data_file in files:
                    rewrite.delete_data_file(data_file)
                rewrite.append_data_file(new_file)
        except ValidationException:  # a file it read was removed by a concurrent commit
            table.refresh()
            return False
        return True

    committed = with_retries(table, commit)
    if not committed:
        log.info("compact %s %s h%d: its files changed meanwhile, left for the next run", table.name(), day, hour)
        table.io.delete(path)
    return HourCompaction(result.table, day, hour, len(files), rows.num_rows, merged.num_rows, committed)


def hour_filter(day: date, hour: int) -> And:
    return And(EqualTo("event_date", day.isoformat()), EqualTo("event_hour", hour))


def compact_table(
    table: Table,
    now: datetime | None = None,
    grace: timedelta = timedelta(minutes=60),
    min_files: int = 2,
    dry_run: bool = False,
) -> list[HourCompaction]:
    done = []
    for (day, hour), files in hours_to_compact(table, now or datetime.now(UTC), grace, min_files).items():
        result = rewrite_hour(table, day, hour, files, dry_run)
        log.info(
            "compact %s %s h%d: %d files, %d -> %d rows%s",
            result.table,
            day,
            hour,
            result.files_in,
            result.rows_in,
            result.rows_out,
            "" if result.committed or dry_run else " (not committed)",
        )
        done.append(result)
    return done


def compact_lake(
    config: CatalogConfig,
    zones: tuple[str, ...] = lake.ZONES,
    streams: tuple[str, ...] = lake.STREAMS,
    grace: timedelta = timedelta(minutes=60),
    min_files: int = 2,
    now: datetime | None = None,
    dry_run: bool = False,
) -> list[HourCompaction]:
    """``smartcity compact``: every table of ``zones`` and ``streams``. Safe while the stream runs."""
    tables = ensure_tables(config, streams)
    done = []
    for spec, table in tables.items():
        if spec.zone in zones:
            done += compact_table(table, now, grace, min_files, dry_run)
    return done
