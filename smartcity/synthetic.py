"""Raw lakes of a chosen size without Kafka or Spark, for benchmarks and tests, written by the
job's own landing code.

Fleet events go through the same parse and landing functions the Spark tasks run
(spark/stage.py), so files, columns and partitions are those of a streamed lake. Larger
lakes are copies of a base fleet under new vehicle, event and incident ids (and Kafka
offsets), which keeps them realistic per vehicle at a fraction of the simulation time.
"""

from __future__ import annotations

import glob
import itertools
import shutil
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
from spark.kafka_source import RECORD_SCHEMA
from spark.stage import stager

CHUNK = 100_000
_names = itertools.count()


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


def land(lake: Path, payloads: dict[str, list[bytes]], first_offset: int, sent_at: datetime) -> int:
    """Land the payloads in ``lake`` (raw and quarantine) as the job would; returns raw rows landed."""
    rows = 0
    for stream, values in payloads.items():
        for batch in _kafka_batches(stream, values, first_offset, sent_at):
            staged = next(stager(stream, lake.as_uri())(iter([batch])))
            for zone, path, day, hour, n in zip(
                *(staged.column(c).to_pylist() for c in ("zone", "file", "event_date", "event_hour", "rows")),
                strict=True,
            ):
                target = Path(layout.stream_dir(lake, zone, stream), layout.partition_dir(day, hour))
                target.mkdir(parents=True, exist_ok=True)
                landed = target / f"part-bench-{next(_names):08d}.parquet"
                if zone == layout.RAW:
                    _as_if_streamed(lake / path, landed)
                    rows += n
                else:
                    (lake / path).replace(landed)
    shutil.rmtree(lake / layout.STAGING, ignore_errors=True)
    return rows


def _as_if_streamed(staged: Path, landed: Path) -> None:
    """Landing time as a live stream would have it (event time plus a few seconds), not the
    moment this benchmark happened to write the file: incremental models select on it."""
    table = pq.read_table(staged)
    ingested = pc.add(table.column("event_time"), pa.scalar(timedelta(seconds=3)))
    table = table.set_column(table.schema.get_field_index("ingested_at"), "ingested_at", ingested)
    pq.write_table(table, landed)
    staged.unlink()


def copy_fleet(
    lake: Path, copies: int, files: Iterable[Path] | None = None, hours_apart: int = 0, first: int = 1
) -> int:
    """Add ``copies`` copies of every raw file (or of ``files``) as other fleets, numbered from
    ``first``: new vehicle, event and incident ids, new Kafka offsets; copy k drives
    ``k * hours_apart`` hours later (whole hours, so each file stays within one hour partition).
    Returns rows added."""
    added = 0
    for path in list(files if files is not None else map(Path, glob.glob(layout.files_glob(lake)))):
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
            folder = Path(
                layout.stream_dir(lake, layout.RAW, path.parts[-4]), layout.partition_dir(driven.date(), driven.hour)
            )
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(shifted, folder / f"{path.stem}-f{k}.parquet")
            added += table.num_rows
    return added
