"""Validation of raw event payloads against the contract.

The same function runs in the simulator (before a send) and in the Spark job (to
split valid rows from quarantined ones), so both agree on what "valid" means.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from contract.events import BY_NAME, VERSION_FIELD, EventType, Field, Version

if TYPE_CHECKING:
    import pyarrow as pa

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")


class ContractError(ValueError):
    """An event does not match the contract; the message names the field."""


_NUMBER_TYPES = (int, float)


def _type_check(f: Field) -> list[str]:
    """Source lines checking one present, non-null value ``v`` of field ``f``."""
    n = f.name
    if f.type == "string":
        lines = [
            f"if type(v) is not str: return '{n}: expected string, got ' + type(v).__name__",
            f"if not v: return '{n}: empty string'",
        ]
        if f.enum is not None:
            lines.append(f"if v not in {set(f.enum)!r}: return '{n}: ' + repr(v) + ' not one of {'|'.join(f.enum)}'")
        return lines
    if f.type == "double":
        lines = [
            f"if type(v) is not float and (type(v) is not int): return '{n}: expected number, got ' + type(v).__name__",
            f"if not isfinite(v): return '{n}: not a finite number'",
        ]
    elif f.type == "integer":
        lines = [f"if type(v) is not int: return '{n}: expected integer, got ' + type(v).__name__"]
    else:
        return [
            f"if type(v) is not str or not TIMESTAMP(v): "
            f"return '{n}: expected ISO-8601 timestamp with UTC offset, got ' + repr(v)",
            f"if not valid_timestamp(v): return '{n}: invalid timestamp ' + repr(v)",
        ]
    if f.minimum is not None or f.maximum is not None:
        lo = "-inf" if f.minimum is None else repr(float(f.minimum))
        hi = "inf" if f.maximum is None else repr(float(f.maximum))
        lines.append(f"if not ({lo} <= v <= {hi}): return '{n}: ' + repr(v) + ' outside [{f.minimum}, {f.maximum}]'")
    return lines


def _valid_timestamp(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _compile(event_type: EventType) -> Callable[[object], str | None]:
    """Generate one flat function per event type version: validation runs per event in the
    simulator and per row in Spark, and a generated body is several times faster than a loop of
    closures. ``event_type`` has one version (``EventType.at``)."""
    fields = event_type.fields
    required = sum(f.required for f in fields)
    body = ["def errors(e):", "    if type(e) is not dict: return 'expected a JSON object, got ' + type(e).__name__"]
    body.append("    present = 0")
    for f in fields:
        body.append(f"    v = e.get({f.name!r}, MISSING)")
        if f.required:
            body += [
                f"    if v is MISSING: return '{f.name}: missing required field'",
                f"    if v is None: return '{f.name}: null not allowed'",
            ]
            body += [f"    {line}" for line in _type_check(f)]
        else:  # may be absent or null
            body += ["    if v is not MISSING:", "        present += 1", "        if v is not None:"]
            body += [f"            {line}" for line in _type_check(f)]
    body += [
        f"    if len(e) != {required} + present:",
        f"        extra = sorted(set(e) - {set(event_type.field_names)!r})",
        "        return 'unknown field(s): ' + ', '.join(extra)",
        "    return None",
    ]
    namespace: dict[str, Any] = {
        "MISSING": object(),
        "isfinite": math.isfinite,
        "TIMESTAMP": _TIMESTAMP.match,
        "valid_timestamp": _valid_timestamp,
        "inf": math.inf,
    }
    exec(compile("\n".join(body), f"<validator {event_type.name}>", "exec"), namespace)
    return namespace["errors"]


_MISSING = object()


def _dispatch(event_type: EventType) -> Callable[[object], str | None]:
    """Check an event against the version it declares; a version the contract does not know is
    its own reason, so devices ahead of the contract are told apart from broken ones."""
    by_version = {n: _compile(event_type.at(n)) for n in event_type.numbers}
    known = ", ".join(map(str, event_type.numbers))

    def errors(e: object) -> str | None:
        if type(e) is not dict:
            return "expected a JSON object, got " + type(e).__name__
        version = e.get(VERSION_FIELD, _MISSING)
        check = by_version.get(version) if type(version) is int else None
        if check is not None:
            return check(e)
        if version is _MISSING:
            return f"{VERSION_FIELD}: missing required field"
        if version is None:
            return f"{VERSION_FIELD}: null not allowed"
        if type(version) is not int:
            return f"{VERSION_FIELD}: expected integer, got {type(version).__name__}"
        return f"{VERSION_FIELD}: {version} not supported (known: {known})"

    return errors


class Validator:
    """Checks one event type, each event against the version it declares; compiled once, called
    per event."""

    def __init__(self, event_type: EventType) -> None:
        self.event_type = event_type
        self.errors: Callable[[object], str | None] = _dispatch(event_type)
        """The first problem with a decoded event, or None if it is valid."""

    def parse(self, payload: bytes | str) -> tuple[dict | None, str | None]:
        """Decode and validate a raw Kafka value: (event, None) or (None, reason)."""
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            return None, f"invalid JSON: {exc}"
        problem = self.errors(event)
        return (None, problem) if problem else (event, None)

    def check(self, event: object) -> None:
        problem = self.errors(event)
        if problem:
            raise ContractError(f"{self.event_type.name} event invalid: {problem}")


_VALIDATORS = {name: Validator(et) for name, et in BY_NAME.items()}


def validator_for(stream: str) -> Validator:
    try:
        return _VALIDATORS[stream]
    except KeyError:
        raise ContractError(f"unknown stream {stream!r}; expected one of {', '.join(BY_NAME)}") from None


# -- the same rules over columns ------------------------------------------------------------------
# The simulator builds a whole tick of events as columns; checking them there, before they are
# encoded, costs a few array operations instead of a function call per event. The rules are read
# off the same Field definitions; a test holds both checks to the same verdict on every row.


def _column_problems(f: Field, values: object, n: int) -> list[tuple[np.ndarray, str]]:
    """(rows failing, reason) for each rule of ``f`` over one column, in the per-event order; an
    optional field's nulls are absent values."""
    import pyarrow as pa

    if not isinstance(values, np.ndarray | pa.Array):  # one value shared by every row
        problem = _VALUE_CHECKS[f](values)
        return [(np.ones(n, dtype=bool), problem)] if problem else []
    arrow = values if isinstance(values, pa.Array) else pa.array(values)
    if len(arrow) != n:
        return [(np.ones(n, dtype=bool), f"{f.name}: {len(arrow)} values for {n} rows")]
    nulls = arrow.is_null().to_numpy(zero_copy_only=False)
    if f.required:
        return [(nulls, f"{f.name}: null not allowed"), *_value_problems(f, arrow, n)]
    return [(rows & ~nulls, reason) for rows, reason in _value_problems(f, arrow, n)]  # null: absent


def _value_problems(f: Field, arrow: pa.Array, n: int) -> list[tuple[np.ndarray, str]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    problems: list[tuple[np.ndarray, str]] = []
    kind = arrow.type
    if f.type in ("string", "timestamp"):
        if not pa.types.is_string(kind):
            return [*problems, (np.ones(n, dtype=bool), f"{f.name}: expected string, got {kind}")]
        if f.type == "timestamp":
            shaped = pc.match_substring_regex(arrow, _TIMESTAMP.pattern)
            # Parsed once per distinct second: a tick's events share a handful of them.
            seconds = pc.utf8_slice_codeunits(arrow, 0, 19)
            distinct = pc.unique(seconds)
            parsed = pc.strptime(distinct, "%Y-%m-%dT%H:%M:%S", "s", error_is_null=True)
            unparsed = pc.is_in(seconds, value_set=pc.filter(distinct, pc.is_null(parsed)))
            problems.append((_false(shaped), f"{f.name}: expected ISO-8601 timestamp with UTC offset"))
            problems.append((unparsed.to_numpy(zero_copy_only=False), f"{f.name}: invalid timestamp"))
            return problems
        problems.append((_false(pc.greater(pc.utf8_length(arrow), 0)), f"{f.name}: empty string"))
        if f.enum is not None:
            allowed = pc.is_in(arrow, value_set=pa.array(f.enum, pa.string()))
            problems.append((_false(allowed), f"{f.name}: not one of {'|'.join(f.enum)}"))
        return problems
    numeric = pa.types.is_integer(kind) or (f.type == "double" and pa.types.is_floating(kind))
    if not numeric:
        expected = "integer" if f.type == "integer" else "number"
        return [*problems, (np.ones(n, dtype=bool), f"{f.name}: expected {expected}, got {kind}")]
    numbers = arrow.to_numpy(zero_copy_only=False)
    if f.type == "double":
        problems.append((~np.isfinite(numbers), f"{f.name}: not a finite number"))
    if f.minimum is not None or f.maximum is not None:
        lo = -math.inf if f.minimum is None else f.minimum
        hi = math.inf if f.maximum is None else f.maximum
        with np.errstate(invalid="ignore"):
            outside = ~((numbers >= lo) & (numbers <= hi))
        problems.append((outside, f"{f.name}: outside [{f.minimum}, {f.maximum}]"))
    return problems


def _false(mask: pa.BooleanArray) -> np.ndarray:
    """Rows where an Arrow boolean is false or null."""
    return ~mask.fill_null(False).to_numpy(zero_copy_only=False)


def column_errors(event_type: EventType, columns: dict[str, object], n: int) -> dict[int, str]:
    """The first problem of every invalid row (row -> reason) of events given as columns: arrays
    of n values, or one value for every row. Rules and their order are those of ``Validator``."""
    missing = [f.name for f in event_type.fields if f.required and f.name not in columns]
    if missing:
        return dict.fromkeys(range(n), f"{missing[0]}: missing required field")
    extra = sorted(set(columns) - set(event_type.field_names))
    if extra:
        return dict.fromkeys(range(n), "unknown field(s): " + ", ".join(extra))
    found: dict[int, str] = {}
    for f in event_type.fields:
        if f.name not in columns:
            continue
        for rows, reason in _column_problems(f, columns[f.name], n):
            for row in np.flatnonzero(rows).tolist():
                found.setdefault(row, reason)
    return dict(sorted(found.items()))


def check_columns(event_type: EventType, columns: dict[str, object], n: int) -> None:
    """Raise ContractError naming the first invalid row's problem, if any."""
    for f in event_type.fields:
        if f.name not in columns:
            if not f.required:
                continue
            raise ContractError(f"{event_type.name} event invalid: {f.name}: missing required field")
        for rows, reason in _column_problems(f, columns[f.name], n):
            if rows.any():
                raise ContractError(f"{event_type.name} event invalid: {reason} (row {int(np.argmax(rows))})")
    extra = sorted(set(columns) - set(event_type.field_names))
    if extra:
        raise ContractError(f"{event_type.name} event invalid: unknown field(s): {', '.join(extra)}")


def _value_check(f: Field) -> Callable[[object], str | None]:
    """The per-event rules of one field, for a column given as one shared value."""
    errors = _compile(EventType("probe", "probe", "", (Version(1, (f,)),)))
    return lambda value: errors({f.name: value})


_VALUE_CHECKS = {f: _value_check(f) for et in BY_NAME.values() for v in et.versions for f in v.fields}
