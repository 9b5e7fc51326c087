"""Raw lakes of a chosen size without Kafka or Spark, for benchmarks and tests, written by the
job's own landing code.

Fleet events go through the same parse and write functions the Spark tasks run
(spark/stage.py) and are committed to the lake's Iceberg tables as the driver commits a batch
(lakehouse/commit.py), so files, columns, partitions and snapshots are those of a streamed lake.
Larger lakes are copies of a base fleet under new vehicle, event and incident ids (and Kafka
offsets), which keeps them realistic per vehicle at a fraction of the simulation time.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from contract import BY_NAME
from contract import lake as layout
from ingestion.fleet import Fleet, FleetConfig
from ingestion.serialize import Serializer
from lakehouse.catalogs import CatalogConfig, default_catalog
from lakehouse.commit import append_batch, committed_batch
from lakehouse.snapshot import current_paths, load_table
from spark.kafka_source import RECORD_SCHEMA
from spark.stage import stager

CHUNK = 100_000
WRITER = "synthetic"  # the query id of its snapshots


def fleet_payloads(
    config: FleetConfig, duration_s: float | None, max_events: int | None = None
) -> dict[str, list[bytes]]:
    by_stream: dict[str, list[bytes]] = defaultdict(list)
    records = Serializer(validate=False).records(Fleet(config).run(duration_s))
    for record in itertools.islice(records, max_events):
        by_stream[record.stream].append(record.value)
    return by_stream


def _kafka_batches(stream: str, values: list[bytes], first_offset: int, sent_at: datetime) -> Iterator[pa.RecordBatch]:
    for lo in range(0, len(values), CHUNK):
        part = values[lo : lo + CHUNK]
        n = len(part)
        yield pa.RecordBatch.from_arrays(
            [
                pa.nulls(n, pa.binary()),
                pa.array(part, pa.binary()),
                pa.array([f"bench_{BY_NAME[stream].topic}"] * n),
                pa.array([0] * n, pa.int32()),
                pa.array(range(first_offset + lo, first_offset + lo + n), pa.int64()),
                pa.array([sent_at] * n, pa.timestamp("us", tz="UTC")),
            ],
            schema=RECORD_SCHEMA,
        )


def catalog(lake: Path) -> CatalogConfig:
    return CatalogConfig(default_catalog(str(lake)), str(lake))


def _commit(lake: Path, zone: str, stream: str, paths: list[str]) -> None:
    """One snapshot of ``paths``, as the job's driver commits a batch."""
    if paths:
        table = load_table(catalog(lake), zone, stream)
        batch = committed_batch(table, WRITER)
        append_batch(table, paths, WRITER, 0 if batch is None else batch + 1)


def raw_files(lake: Path) -> list[Path]:
    """The raw data files of every stream's current snapshot."""
    return [
        Path(path) for stream in layout.STREAMS for path in current_paths(load_table(catalog(lake), layout.RAW, stream))
    ]


def land(lake: Path, payloads: dict[str, list[bytes]], first_offset: int, sent_at: datetime) -> int:
    """Land the payloads in ``lake`` (raw and quarantine) as the job would; returns raw rows landed."""
    rows = 0
    for stream, values in payloads.items():
        written: dict[str, list[str]] = {zone: [] for zone in layout.ZONES}
        for batch in _kafka_batches(stream, values, first_offset, sent_at):
            staged = next(stager(stream, lake.as_uri())(iter([batch])))
            for zone, path, n in zip(*(staged.column(c).to_pylist() for c in ("zone", "file", "rows")), strict=True):
                landed = Path(layout.stream_dir(lake, zone, stream), path)
                if zone == layout.RAW:
                    _as_if_streamed(landed)
                    rows += n
                written[zone].append(f"file://{landed.absolute()}")
        for zone in (layout.QUARANTINE, layout.RAW):
            _commit(lake, zone, stream, written[zone])
    return rows


def _as_if_streamed(staged: Path) -> None:
    """Landing time as a live stream would have it (event time plus a few seconds), not the
    moment this benchmark happened to write the file: incremental models select on it."""
    table = pq.read_table(staged)
    ingested = pc.add(table.column("event_time"), pa.scalar(timedelta(seconds=3)))
    table = table.set_column(table.schema.get_field_index("ingested_at"), "ingested_at", ingested)
    pq.write_table(table, staged)


def copy_fleet(
    lake: Path, copies: int, files: Iterable[Path] | None = None, hours_apart: int = 0, first: int = 1
) -> int:
    """Add ``copies`` copies of every raw file (or of ``files``) as other fleets, numbered from
    ``first``: new vehicle, event and incident ids, new Kafka offsets; copy k drives
    ``k * hours_apart`` hours later (whole hours, so each file stays within one hour partition).
    Returns rows added."""
    added = 0
    written: dict[str, list[str]] = defaultdict(list)
    for path in list(files if files is not None else raw_files(lake)):
        stream = path.parts[-5]  # <lake>/raw/<stream>/data/event_date=.../event_hour=.../<file>
        table = pq.read_table(path)
        for k in range(first, first + copies):
            suffix = pa.scalar(f"-f{k}")
            shift = pa.scalar(timedelta(hours=k * hours_apart))
            columns = {}
            for name in table.column_names:
                col = table.column(name)
                if name in ("event_id", "vehicle_id", "incident_id"):
                    col = pc.binary_join_element_wise(col, suffix, "")
                elif name == "kafka_offset":
                    col = pc.add(col, k * 1_000_000_000)
                elif name in ("event_time", "ingested_at", "kafka_timestamp"):
                    col = pc.add(col, shift)
                columns[name] = col
            shifted = pa.table(columns, schema=table.schema)
            driven = shifted.column("event_time")[0].as_py()
            if "event_date" in columns:  # the partition columns follow the shifted event time
                n = shifted.num_rows
                shifted = shifted.set_column(
                    shifted.schema.get_field_index("event_date"), "event_date", pa.array([driven.date()] * n)
                ).set_column(
                    shifted.schema.get_field_index("event_hour"), "event_hour", pa.array([driven.hour] * n, pa.int32())
                )
            folder = Path(
                layout.stream_dir(lake, layout.RAW, stream), "data", layout.partition_dir(driven.date(), driven.hour)
            )
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{path.stem}-f{k}.parquet"
            pq.write_table(shifted.cast(table.schema), target)
            written[stream].append(f"file://{target.absolute()}")
            added += table.num_rows
    for stream, paths in written.items():
        _commit(lake, layout.RAW, stream, paths)
    return added


def raw_rows(lake: Path, stream: str | None = None) -> int:
    """Rows in the current snapshots of the raw tables (of every stream, or of one)."""
    import duckdb

    from lakehouse.snapshot import lake_relation

    streams = (stream,) if stream else layout.STREAMS
    return sum(
        duckdb.execute(f"select count(*) from {lake_relation(catalog(lake), layout.RAW, s)}").fetchall()[0][0]
        for s in streams
    )


def newest_event(lake: Path, stream: str = "vehicle") -> datetime:
    import duckdb

    from lakehouse.snapshot import lake_relation

    sql = f"select max(event_time) from {lake_relation(catalog(lake), layout.RAW, stream)}"
    return duckdb.execute(sql).fetchall()[0][0]
