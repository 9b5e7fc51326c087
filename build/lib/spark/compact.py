"""``smartcity compact``: merge the many small files of closed hours into one file per hour.

A streaming job writes a few files per micro-batch, so a busy hour ends with hundreds of
them, and readers (DuckDB, Athena) pay per file. An hour is closed once it ended more than
``--grace`` minutes ago; late events for it may still arrive and simply add a file that the
next run merges. The merge writes ``compacted-<...>.parquet`` under a hidden name, renames
it into place, then deletes the files it merged. Between that rename and those deletes a
reader can see rows twice, and a crash there leaves them twice: every merge keeps one row per
Kafka coordinate (topic, partition, offset), so the next run heals it, and the dbt staging
models de-duplicate on event_id anyway.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from contract import lake
from spark.filesystems import filesystem

log = logging.getLogger("smartcity.compact")

KAFKA_KEY = ("kafka_topic", "kafka_partition", "kafka_offset")


@dataclass(frozen=True, slots=True)
class HourCompaction:
    zone: str
    stream: str
    partition: str  # event_date=.../event_hour=...
    files_in: int
    rows_in: int
    rows_out: int


def _closed(partition: str, now: datetime, grace: timedelta) -> bool:
    day, hour = (part.split("=", 1)[1] for part in partition.split("/"))
    hour_end = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC) + timedelta(hours=int(hour) + 1)
    return hour_end + grace <= now


def _partitions(fs: pafs.FileSystem, folder: str) -> dict[str, list[str]]:
    files: dict[str, list[str]] = {}
    for info in fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True, recursive=True)):
        name = info.path.rsplit("/", 1)[1]
        if info.type != pafs.FileType.File or not name.endswith(".parquet") or name.startswith((".", "_")):
            continue
        partition = info.path[len(folder) + 1 :].rsplit("/", 1)[0]
        if partition.count("/") == 1 and partition.startswith("event_date="):
            files.setdefault(partition, []).append(info.path)
    return files


def _first_per_coordinate(table: pa.Table) -> pa.Table:
    """One row per Kafka coordinate (the earliest landed copy)."""
    import duckdb

    con = duckdb.connect()
    con.register("rows_in", table)
    deduped = con.sql(
        f"select * from rows_in qualify row_number() over (partition by {', '.join(KAFKA_KEY)} "
        "order by ingested_at) = 1"
    ).to_arrow_table()
    return deduped.select(table.schema.names).cast(table.schema)


def compact(
    lake_root: str,
    zones: tuple[str, ...] = lake.ZONES,
    streams: tuple[str, ...] = lake.STREAMS,
    grace: timedelta = timedelta(minutes=60),
    min_files: int = 2,
    now: datetime | None = None,
    dry_run: bool = False,
) -> list[HourCompaction]:
    fs, base = filesystem(lake_root)
    now = now or datetime.now(UTC)
    done = []
    for zone in zones:
        for stream in streams:
            folder = lake.stream_dir(base, zone, stream)
            for partition, paths in sorted(_partitions(fs, folder).items()):
                if len(paths) < min_files or not _closed(partition, now, grace):
                    continue
                paths.sort()
                table = pq.ParquetDataset(paths, filesystem=fs, partitioning=None).read()
                merged = _first_per_coordinate(table)
                result = HourCompaction(zone, stream, partition, len(paths), table.num_rows, merged.num_rows)
                done.append(result)
                log.info(
                    "compact %s/%s/%s: %d files, %d -> %d rows",
                    zone,
                    stream,
                    partition,
                    len(paths),
                    table.num_rows,
                    merged.num_rows,
                )
                if dry_run:
                    continue
                digest = hashlib.sha1("\n".join(paths).encode()).hexdigest()[:12]
                target = f"{folder}/{partition}/compacted-{digest}.parquet"
                hidden = f"{folder}/{partition}/.compacted-{digest}.parquet.tmp"
                with fs.open_output_stream(hidden) as out:
                    pq.write_table(merged, out, compression="zstd", row_group_size=500_000)
                fs.move(hidden, target)
                for path in paths:
                    if path != target:
                        fs.delete_file(path)
    return done
