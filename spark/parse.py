"""Contract -> Arrow schemas, and the split of Kafka records into valid rows and quarantine. Pure:
no I/O (spark/stage.py writes what this returns).

Validity is the contract's own validator (the one the simulator runs), with a vectorised fast
path for the rows that are clearly valid: a record is either a fully typed raw row or a
quarantine row carrying its raw value, the reason and its Kafka coordinates. Never a
null-filled raw row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from contract.events import BY_NAME, VERSION_FIELD, EventType, Field
from contract.validate import validator_for

_ARROW = {
    "string": pa.string(),
    "double": pa.float64(),
    "integer": pa.int32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


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


class FastParser:
    """Vectorised parsing of the common case: a batch of compact JSON objects that all pass.

    pyarrow's JSON reader parses the batch against the contract's types in C++; vectorised
    checks then mirror the validator's rules (present, non-null, non-empty, enum, finite,
    range, timestamp form). The checks are sufficient, not necessary: a row they accept is one
    the validator accepts; every other row goes to the validator itself (``split_batch``),
    which stays the one authority on what is valid and why not. pyarrow's JSON is as strict as
    orjson except for NaN/Infinity, which the finite check catches.

    Every known version takes this path: the batch is parsed against the columns of all of them,
    and each row is held to the version it declares (a field it requires present, a field it does
    not have absent: null after parsing and its name nowhere in the record, since the JSON reader
    cannot tell an absent key from a null one). Ranges and enums are those of the field's first
    version, the narrowest (a later version may only widen them)."""

    # Only UTC-designated timestamps take the fast path; other offsets go through the validator.
    TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)$"
    # Below this many rows a batch that fails to parse as a whole goes to the validator row by row.
    MIN_BISECT = 64

    def __init__(self, et: EventType) -> None:
        self.et = et
        json_types = {"string": pa.string(), "double": pa.float64(), "integer": pa.int64(), "timestamp": pa.string()}
        self.json_schema = pa.schema([(f.name, json_types[f.type]) for f in et.fields])
        self.versions = pa.array(et.numbers, pa.int64())
        self.rules = {f.name: _FieldRule.of(et, f.name) for f in et.fields}

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
        at = pa.concat_arrays(positions)
        checked = self._checks(rows, lambda: values.take(at))
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

    def _checks(self, rows: pa.Table, raw: Callable[[], pa.Array]) -> tuple[pa.Table, pa.Array] | None:
        version = rows.column(VERSION_FIELD)
        passed = pc.fill_null(pc.is_in(version, value_set=self.versions), False)
        raw_values: list[pa.Array] = []
        columns = {}
        for f in self.et.fields:
            rule = self.rules[f.name]
            f = rule.narrowest
            col = rows.column(f.name)
            columns[f.name] = col
            good = pc.is_valid(col)
            if f.name == VERSION_FIELD:  # known versions only, checked above
                passed = pc.and_(passed, pc.fill_null(good, False))
                continue
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
            if not rule.always_required:
                # null: right where the declared version does not require the field; where it
                # does not have it, only if the record does not name it either
                allowed_null = pc.invert(pc.is_in(version, value_set=rule.required_in))
                if len(rule.absent_in):
                    if not raw_values:
                        raw_values.append(raw())
                    named = pc.match_substring(raw_values[0], f'"{f.name}"')
                    absent_version = pc.is_in(version, value_set=rule.absent_in)
                    allowed_null = pc.and_(allowed_null, pc.invert(pc.and_(absent_version, named)))
                    good = pc.and_(good, pc.invert(absent_version))
                good = pc.if_else(pc.is_null(col), allowed_null, good)
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


@dataclass(frozen=True)
class _FieldRule:
    """What the fast path holds one field to, across the versions of its event type."""

    narrowest: Field  # its first version's definition
    required_in: pa.Array  # versions that require it
    absent_in: pa.Array  # versions that do not have it
    always_required: bool

    @staticmethod
    def of(et: EventType, name: str) -> _FieldRule:
        defined = {v.number: next((f for f in v.fields if f.name == name), None) for v in et.versions}
        present = [f for f in defined.values() if f is not None]
        if len({f.type for f in present}) > 1:
            raise ValueError(f"{et.name}.{name}: a type that changes between versions cannot land in the lake")
        required = [n for n, f in defined.items() if f is not None and f.required]
        return _FieldRule(
            narrowest=present[0],
            required_in=pa.array(required, pa.int64()),
            absent_in=pa.array([n for n, f in defined.items() if f is None], pa.int64()),
            always_required=len(required) == len(defined),
        )


class RecordSplitter:
    """Kafka record batches of one stream -> parsed rows: contract columns, Kafka coordinates, lake
    partition, and for rejected records (not the contract, or an implausible event time: ``bounds``)
    the raw value and the reason, contract columns null."""

    def __init__(self, stream: str, bounds: EventTimeBounds | None = None) -> None:
        self.event_type = BY_NAME[stream]
        self.schema = parsed_arrow_schema(self.event_type)
        self.bounds = bounds or EventTimeBounds()
        self.validator = validator_for(stream)
        self.fast = FastParser(self.event_type)
        self.field_names = self.event_type.field_names
        self.field_types = {f.name: f.type for f in self.event_type.fields}

    def split(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        values = batch.column("value")
        typed, ok = self.fast.parse(values)
        failed = pc.invert(ok)
        arrays = [typed.column(name).combine_chunks() for name in self.field_names]
        raw_values = pa.nulls(batch.num_rows, pa.string())
        reasons = pa.nulls(batch.num_rows, pa.string())
        slow = pc.indices_nonzero(failed)
        if len(slow):
            checked, slow_raw, slow_reasons = self._validate(values.take(slow).to_pylist())
            arrays = [pc.replace_with_mask(col, failed, new) for col, new in zip(arrays, checked, strict=True)]
            raw_values = pc.replace_with_mask(raw_values, failed, pa.array(slow_raw, pa.string()))
            reasons = pc.replace_with_mask(reasons, failed, pa.array(slow_reasons, pa.string()))
        kafka_ts = batch.column("timestamp")
        implausible, why = self.bounds.reasons(arrays[self.field_names.index("event_time")], kafka_ts)
        if why:
            arrays = [pc.if_else(implausible, pa.nulls(len(col), col.type), col) for col in arrays]
            raw_values = pc.replace_with_mask(raw_values, implausible, values.filter(implausible).cast(pa.string()))
            reasons = pc.replace_with_mask(reasons, implausible, pa.array(why, pa.string()))
        # Valid rows are partitioned by event time; quarantined rows by when Kafka got them.
        event_time = pc.coalesce(arrays[self.field_names.index("event_time")], kafka_ts)
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
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _validate(self, values: list) -> tuple[list[pa.Array], list, list]:
        """The validator, row by row: contract columns, raw values of rejects, reasons."""
        columns: dict[str, list] = {name: [] for name in self.field_names}
        raw_values: list[str | None] = []
        reasons: list[str | None] = []
        for payload in values:
            event: dict | None
            reason: str | None
            if payload is None:
                event, reason = None, "empty Kafka record (null value)"
            else:
                event, reason = self.validator.parse(payload)
            rejected = event is None
            raw_values.append(payload.decode("utf-8", "backslashreplace") if rejected and payload is not None else None)
            reasons.append(reason)
            for name, column in columns.items():
                column.append(None if event is None else event.get(name))  # an optional field may be absent
        arrays = []
        for name in self.field_names:
            if self.field_types[name] == "timestamp":
                micros = pa.array([None if v is None else utc_micros(v) for v in columns[name]], pa.int64())
                arrays.append(micros.cast(_ARROW["timestamp"]))
            else:
                arrays.append(pa.array(columns[name], _ARROW[self.field_types[name]]))
        return arrays, raw_values, reasons
