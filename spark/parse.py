"""Contract -> Spark/Arrow schemas, and the split of Kafka records into valid rows and quarantine.

Validation is the contract's own validator (the one the simulator runs), applied per row
in ``mapInArrow``: a record is either a fully typed raw row or a quarantine row carrying
its raw value, the reason and its Kafka coordinates. Never a null-filled raw row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from contract.events import BY_NAME, EventType
from contract.validate import validator_for

_ARROW = {
    "string": pa.string(),
    "double": pa.float64(),
    "integer": pa.int32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}

PARTITION_COLUMNS = ("event_date", "event_hour")


def parsed_arrow_schema(et: EventType) -> pa.Schema:
    return pa.schema(
        [(f.name, _ARROW[f.type]) for f in et.fields]
        + [
            ("kafka_topic", pa.string()),
            ("kafka_partition", pa.int32()),
            ("kafka_offset", pa.int64()),
            ("kafka_timestamp", pa.timestamp("us", tz="UTC")),
            ("event_date", pa.date32()),
            ("event_hour", pa.int32()),
            ("raw_value", pa.string()),
            ("quarantine_reason", pa.string()),
        ]
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def utc_micros(text: str) -> int:
    """An ISO-8601 time with any UTC offset as microseconds since the epoch. Converted here, not
    by pyarrow from a ``datetime``: pyarrow drops the offset of every ``datetime`` when
    ``PYARROW_IGNORE_TIMEZONE`` is set in the worker's environment, and this cannot."""
    return (datetime.fromisoformat(text) - _EPOCH) // _MICROSECOND


@dataclass(frozen=True, slots=True)
class EventTimeBounds:
    """What an event time may plausibly be. Earlier than ``floor`` (an unset device clock says
    1970) or more than ``max_ahead`` after the Kafka record's timestamp (a clock set years ahead)
    goes to quarantine: one such event would otherwise anchor every time-based view of the data."""

    floor: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    max_ahead: timedelta = timedelta(hours=1)

    def reasons(self, event_time: pa.Array, kafka_time: pa.Array) -> tuple[pa.Array, list[str]]:
        """(mask of implausible rows, their reasons in row order)."""
        early = pc.less(event_time, pa.scalar(self.floor, event_time.type))
        lead = pc.subtract(event_time, kafka_time)
        ahead = pc.greater(lead, pa.scalar(self.max_ahead, pa.duration("us")))
        bad = pc.fill_null(pc.or_(early, ahead), False)
        reasons = []
        for is_early, delta in zip(early.filter(bad).to_pylist(), lead.filter(bad).to_pylist(), strict=True):
            if is_early:
                reasons.append(f"event_time: before {self.floor.date().isoformat()}")
            else:
                reasons.append(f"event_time: {_span(delta)} after the broker received it")
        return bad, reasons


def _span(delta: timedelta) -> str:
    for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if delta.total_seconds() >= seconds:
            n = int(delta.total_seconds() // seconds)
            return f"{n} {unit}{'s' if n > 1 else ''}"
    return f"{int(delta.total_seconds())} seconds"


QUARANTINE_SCHEMA = pa.schema(
    [
        ("raw_value", pa.string()),
        ("quarantine_reason", pa.string()),
        ("kafka_topic", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
        ("kafka_timestamp", pa.timestamp("us", tz="UTC")),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)


class QuarantineWriter:
    """Writes rejected records to ``<root>/<stream>/event_date=/event_hour=/`` from the Python worker.

    Doing it here saves Spark a second pass over every micro-batch. File names come from the
    Kafka coordinates of the first record of the input batch, which a replayed micro-batch
    reads again with the same boundaries: a replay overwrites, it never adds. Files are
    written under a hidden name and renamed, so readers never see a partial file.
    """

    def __init__(self, root: str, stream: str) -> None:
        from spark.storage import filesystem

        self.fs, base = filesystem(root)
        self.base = f"{base}/{stream}"

    def write(self, rows: pa.Table, first: tuple[str, int, int]) -> None:
        import pyarrow.parquet as pq

        topic, partition, offset = first
        keys = pa.TableGroupBy(rows, ["event_date", "event_hour"]).aggregate([]).to_pylist()
        for key in keys:
            part = rows.filter(
                (pc.field("event_date") == key["event_date"]) & (pc.field("event_hour") == key["event_hour"])
            )
            folder = f"{self.base}/event_date={key['event_date'].isoformat()}/event_hour={key['event_hour']}"
            name = f"q-{topic}-{partition}-{offset:012d}.parquet"
            self.fs.create_dir(folder, recursive=True)
            hidden = f"{folder}/.{name}.tmp"
            with self.fs.open_output_stream(hidden) as out:
                pq.write_table(part.select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA), out)
            self.fs.move(hidden, f"{folder}/{name}")


class FastParser:
    """Vectorised parsing of the common case: a batch of compact JSON objects that all pass.

    pyarrow's JSON reader parses the batch against the contract's types in C++; vectorised
    checks then mirror the validator's rules (present, non-null, non-empty, enum, finite,
    range, timestamp form). The checks are sufficient, not necessary: a row they accept is one
    the validator accepts; every other row goes to the validator itself (``split_batch``),
    which stays the one authority on what is valid and why not. pyarrow's JSON is as strict as
    orjson except for NaN/Infinity, which the finite check catches."""

    # Only UTC-designated timestamps take the fast path; other offsets go through the validator.
    TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)$"
    # Below this many rows a batch that fails to parse as a whole goes to the validator row by row.
    MIN_BISECT = 64

    def __init__(self, et: EventType) -> None:
        self.et = et
        json_types = {"string": pa.string(), "double": pa.float64(), "integer": pa.int64(), "timestamp": pa.string()}
        self.json_schema = pa.schema([(f.name, json_types[f.type]) for f in et.fields])

    def parse(self, values: pa.Array) -> tuple[pa.Table, pa.Array]:
        """Typed contract columns for the rows in the mask it returns (other rows hold anything)."""
        import pyarrow.json as pj

        n = len(values)
        # One value per line, and each yields exactly one row: a JSON object with no line breaks.
        candidate = pc.fill_null(
            pc.and_(
                pc.and_(pc.starts_with(values, "{"), pc.ends_with(values, "}")),
                pc.invert(pc.match_substring_regex(values, "[\\r\\n]")),
            ),
            False,
        )
        candidates = pc.indices_nonzero(candidate)
        table = pa.table({f.name: pa.nulls(n, _ARROW[f.type]) for f in self.et.fields})
        ok = pa.array([False] * n)
        if len(candidates) == 0:
            return table, ok
        parsed = self._parse_rows(values.take(candidates).to_pylist(), pj)
        if not parsed:
            return table, ok
        pieces, positions = [], []
        for start, rows in parsed:
            pieces.append(rows)
            positions.append(candidates.slice(start, rows.num_rows))
        rows = pa.concat_tables(pieces)
        checked = self._checks(rows)
        if checked is None:
            return table, ok
        typed, passed = checked
        # Back to batch positions: rows that were not parsed come out null and not ok.
        take: list[int | None] = [None] * n
        for j, position in enumerate(pa.concat_arrays(positions).to_pylist()):
            take[position] = j
        index = pa.array(take, pa.int64())
        ok = pc.fill_null(passed.take(index), False)
        return typed.take(index), ok.combine_chunks() if isinstance(ok, pa.ChunkedArray) else ok

    def _parse_rows(self, payloads: list[bytes], pj, start: int = 0) -> list[tuple[int, pa.Table]]:
        """(first row, parsed table) pieces; halves that fail to parse are bisected, and pieces
        smaller than MIN_BISECT rows that still fail are left to the validator."""
        try:
            rows = pj.read_json(
                pa.BufferReader(b"\n".join(payloads)),
                read_options=pj.ReadOptions(use_threads=False, block_size=1 << 30),
                parse_options=pj.ParseOptions(explicit_schema=self.json_schema, unexpected_field_behavior="error"),
            )
        except (pa.ArrowInvalid, UnicodeDecodeError, ValueError):
            if len(payloads) < self.MIN_BISECT:
                return []
            half = len(payloads) // 2
            return self._parse_rows(payloads[:half], pj, start) + self._parse_rows(payloads[half:], pj, start + half)
        return [(start, rows)] if rows.num_rows == len(payloads) else []

    def _checks(self, rows: pa.Table) -> tuple[pa.Table, pa.Array] | None:
        passed = pa.array([True] * rows.num_rows)
        columns = {}
        for f in self.et.fields:
            col = rows.column(f.name)
            good = pc.is_valid(col)
            if f.type == "string":
                good = pc.and_(good, pc.greater(pc.binary_length(col), 0))
                if f.enum is not None:
                    good = pc.and_(good, pc.is_in(col, value_set=pa.array(f.enum)))
            elif f.type == "timestamp":
                good = pc.and_(good, pc.match_substring_regex(col, self.TIMESTAMP))
            elif f.type == "double":
                good = pc.and_(good, pc.is_finite(col))
            if f.type in ("double", "integer"):
                lo = f.minimum if f.minimum is not None else (-(2**31) if f.type == "integer" else None)
                hi = f.maximum if f.maximum is not None else (2**31 - 1 if f.type == "integer" else None)
                if lo is not None:
                    good = pc.and_(good, pc.greater_equal(col, lo))
                if hi is not None:
                    good = pc.and_(good, pc.less_equal(col, hi))
            good = pc.fill_null(good, False)
            passed = pc.and_(passed, good)
            columns[f.name] = col
        for f in self.et.fields:
            col = pc.if_else(passed, columns[f.name], None)  # cast only what passed
            try:
                columns[f.name] = col.cast(_ARROW[f.type])
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return None  # e.g. a well-formed but impossible date: the validator words it
        return pa.table(columns), passed


def splitter(
    stream: str, quarantine_root: str | None = None, bounds: EventTimeBounds | None = None
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function that turns Kafka record batches into parsed rows for one stream.

    Rejected records (not the contract, or an implausible event time: ``bounds``) are kept in
    the output (contract columns null, ``quarantine_reason`` set) so the job can count them,
    and, with ``quarantine_root``, written to the quarantine."""
    bounds = bounds or EventTimeBounds()
    et = BY_NAME[stream]
    schema = parsed_arrow_schema(et)
    field_names = et.field_names
    field_types = {f.name: f.type for f in et.fields}
    fast = FastParser(et)

    def validate_rows(values: list, validator) -> tuple[list[pa.Array], list, list]:
        """The validator, row by row: contract columns, raw values of rejects, reasons."""
        columns: dict[str, list] = {name: [] for name in field_names}
        raw_values, reasons = [], []
        for payload in values:
            if payload is None:
                event, reason = None, "empty Kafka record (null value)"
            else:
                event, reason = validator.parse(payload)
            if event is None:
                for col in columns.values():
                    col.append(None)
                raw_values.append(payload.decode("utf-8", "backslashreplace") if payload is not None else None)
                reasons.append(reason)
            else:
                for name in field_names:
                    columns[name].append(event[name])
                raw_values.append(None)
                reasons.append(None)
        arrays = []
        for name in field_names:
            if field_types[name] == "timestamp":
                micros = pa.array([None if v is None else utc_micros(v) for v in columns[name]], pa.int64())
                arrays.append(micros.cast(_ARROW["timestamp"]))
            else:
                arrays.append(pa.array(columns[name], _ARROW[field_types[name]]))
        return arrays, raw_values, reasons

    def split_batch(batch: pa.RecordBatch, validator) -> pa.RecordBatch:
        values = batch.column("value")
        typed, ok = fast.parse(values)
        failed = pc.invert(ok)
        slow = pc.indices_nonzero(failed)
        if len(slow) == 0:
            arrays = [typed.column(name).combine_chunks() for name in field_names]
            raw_values = pa.nulls(batch.num_rows, pa.string())
            reasons = pa.nulls(batch.num_rows, pa.string())
        else:
            checked, slow_raw, slow_reasons = validate_rows(values.take(slow).to_pylist(), validator)
            arrays = [
                pc.replace_with_mask(typed.column(name).combine_chunks(), failed, col)
                for name, col in zip(field_names, checked, strict=True)
            ]
            raw_values = pc.replace_with_mask(
                pa.nulls(batch.num_rows, pa.string()), failed, pa.array(slow_raw, pa.string())
            )
            reasons = pc.replace_with_mask(
                pa.nulls(batch.num_rows, pa.string()), failed, pa.array(slow_reasons, pa.string())
            )
        kafka_ts = batch.column("timestamp")
        implausible, why = bounds.reasons(arrays[field_names.index("event_time")], kafka_ts)
        if why:
            arrays = [pc.if_else(implausible, pa.nulls(len(col), col.type), col) for col in arrays]
            raw_values = pc.replace_with_mask(raw_values, implausible, values.filter(implausible).cast(pa.string()))
            reasons = pc.replace_with_mask(reasons, implausible, pa.array(why, pa.string()))
        # Valid rows are partitioned by event time; quarantined rows by when Kafka got them.
        event_time = pc.coalesce(arrays[field_names.index("event_time")], kafka_ts)
        arrays += [
            batch.column("topic"),
            batch.column("partition"),
            batch.column("offset"),
            kafka_ts,
            pc.cast(event_time, pa.date32()),
            pc.cast(pc.hour(event_time), pa.int32()),
            raw_values,
            reasons,
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def split(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        validator = validator_for(stream)
        quarantine = QuarantineWriter(quarantine_root, stream) if quarantine_root else None
        for batch in batches:
            out = split_batch(batch, validator)
            rejected_mask = pc.is_valid(out.column("quarantine_reason"))
            if quarantine is not None and pc.any(rejected_mask).as_py():
                rejected = pa.Table.from_batches([out]).filter(rejected_mask)
                now = pa.repeat(pa.scalar(datetime.now(UTC), pa.timestamp("us", tz="UTC")), rejected.num_rows)
                first = (
                    batch.column("topic")[0].as_py(),
                    batch.column("partition")[0].as_py(),
                    batch.column("offset")[0].as_py(),
                )
                quarantine.write(rejected.append_column("ingested_at", now), first)
            yield out

    return split
