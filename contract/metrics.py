"""The job's metrics file (``_metrics/progress.jsonl``, see contract/lake.py): one JSON object per line,
each a ``BatchRow`` (a query's micro-batch, or an idle trigger) or a ``DataLossRow`` (a partition whose
checkpointed offset the broker could no longer serve). ``append`` is the one writer (the driver and the
source's Python workers append to the same file), ``MetricsReader`` the one reader: every consumer
(the `up` status, the Prometheus endpoint, the dashboard, drills, benchmarks) reads typed rows."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar


@dataclass(frozen=True)
class BatchRow:
    """A trigger of one stream's query: Spark's progress joined with what the writer counted."""

    KIND: ClassVar[str] = "batch"
    at: str  # when the progress was reported, ISO-8601 UTC
    stream: str
    batch_id: int
    input_rows: int = 0  # Kafka records read (0: an idle trigger)
    input_rows_per_s: float = 0.0
    processed_rows_per_s: float = 0.0
    batch_ms: int = 0  # trigger to commit
    source_lag_records: int | None = None  # records beyond this batch's end offsets
    rows: int = 0  # landed in raw
    quarantined: int = 0
    files: int = 0
    write_ms: int = 0  # the whole foreachBatch call: tasks (read, parse, stage) and commit
    commit_ms: int = 0  # the driver's commit alone
    newest_event_time: str | None = None  # of the rows landed, ISO-8601 UTC
    quarantine_reasons: dict[str, int] = field(default_factory=dict)  # reason -> rows


@dataclass(frozen=True)
class OffsetGap:
    """A partition whose checkpointed offset the broker can no longer serve."""

    topic: str
    partition: int
    checkpoint_offset: int
    earliest_offset: int | None
    end_offset: int | None
    cause: str
    lost_offsets: int | None  # None: unknown (the records behind the old offsets are gone)

    def describe(self) -> str:
        if self.end_offset is not None:
            held = f"offsets {self.earliest_offset}..{self.end_offset}"
        else:
            held = "no such partition" if self.cause == "partition no longer exists" else "a re-created topic"
        lost = f"{self.lost_offsets:,} offsets lost" if self.lost_offsets is not None else "unread offsets lost"
        return (
            f"topic {self.topic} partition {self.partition}: checkpoint at offset {self.checkpoint_offset}, "
            f"broker holds {held} ({self.cause}; {lost})"
        )

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(OffsetGap)}


@dataclass(frozen=True)
class DataLossRow(OffsetGap):
    """A gap the job met, when, in which stream, and what it did about it."""

    KIND: ClassVar[str] = "data_loss"
    at: str
    stream: str | None
    action: str  # e.g. "continued from the earliest available offset"

    @property
    def gap(self) -> OffsetGap:
        return OffsetGap(**OffsetGap.as_dict(self))


MetricsRow = BatchRow | DataLossRow
_KINDS: dict[str, type[BatchRow] | type[DataLossRow]] = {BatchRow.KIND: BatchRow, DataLossRow.KIND: DataLossRow}


def encode(row: MetricsRow) -> str:
    return json.dumps({"kind": row.KIND, **asdict(row)})


def decode(line: str | bytes) -> MetricsRow | None:
    """A row, or None for a kind this version does not know (a newer writer's): skipped, not fatal."""
    raw = json.loads(line)
    kind = _KINDS.get(raw.pop("kind", BatchRow.KIND))
    if kind is None:
        return None
    known = {f.name for f in fields(kind)}
    return kind(**{k: v for k, v in raw.items() if k in known})


def append(path: str | Path | None, row: MetricsRow) -> None:
    """One line, written with one ``write`` in append mode (atomic between processes on a local file)."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(encode(row) + "\n")


class MetricsReader:
    """Tails the file: each ``read`` returns the complete rows written since the previous one."""

    def __init__(self, path: str | Path | None, from_end: bool = False) -> None:
        self.path = Path(path) if path is not None else None
        self.position = self.path.stat().st_size if from_end and self.path and self.path.exists() else 0
        self._lock = threading.Lock()

    def read(self) -> list[MetricsRow]:
        if self.path is None or not self.path.exists():
            return []
        with self._lock:
            with self.path.open("rb") as fh:
                fh.seek(self.position)
                chunk = fh.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line being written is read next time
            self.position += len(complete)
        rows = (decode(line) for line in complete.splitlines() if line.strip())
        return [row for row in rows if row is not None]

    def batches(self) -> list[BatchRow]:
        return [row for row in self.read() if isinstance(row, BatchRow)]


def read_all(path: str | Path | None) -> list[MetricsRow]:
    return MetricsReader(path).read()


def last_rows(path: str | Path | None, n: int) -> list[MetricsRow]:
    """The newest ``n`` rows, without decoding the rest of a long file."""
    from collections import deque

    if path is None or not Path(path).exists():
        return []
    with Path(path).open() as fh:
        lines = deque((line for line in fh if line.strip()), maxlen=n)
    rows = (decode(line) for line in lines)
    return [row for row in rows if row is not None]
