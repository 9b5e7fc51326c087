"""Columns of one stream -> JSON records, a whole tick at a time.

Per-event ``orjson.dumps`` of a dict costs more than the Kafka client's own send, so the fleet
keeps its events as columns (numpy for numbers, Arrow for text) and this module writes the
JSON of all of them with a few Arrow kernels. Field names and their order come from the
contract's field list; nothing here names a field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TypeAlias

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from contract.events import EventType

Column: TypeAlias = np.ndarray | pa.Array | int | float | str

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Where the 32 hex digits go in the 36 characters of a dashed UUID.
_UUID_DIGITS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
# JSON needs '"', '\\' and control characters escaped; the fleet's own text never has them,
# other text takes the slow path.
_QUOTE, _BACKSLASH, _FIRST_PRINTABLE = ord('"'), ord("\\"), 0x20


def fixed_width_strings(chars: np.ndarray) -> pa.StringArray:
    """An (n, width) uint8 array of ASCII as an Arrow string array, without a Python object per row."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def uuid_strings(high: np.ndarray, low: np.ndarray) -> pa.StringArray:
    """Dashed lowercase UUID text of 128-bit values given as two uint64 arrays."""
    n = len(high)
    raw = np.empty((n, 2), dtype=">u8")
    raw[:, 0], raw[:, 1] = high, low
    octets = raw.view(np.uint8).reshape(n, 16)
    digits = np.empty((n, 32), dtype=np.uint8)
    digits[:, 0::2], digits[:, 1::2] = _HEX[octets >> 4], _HEX[octets & 15]
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    text[:, _UUID_DIGITS] = digits
    return fixed_width_strings(text)


def iso_millis(epoch_ms: np.ndarray) -> pa.StringArray:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC) of epoch milliseconds. A tick spans a few seconds, so
    the date and time part is formatted once per distinct second and the milliseconds added."""
    n = len(epoch_ms)
    seconds, millis = np.divmod(epoch_ms.astype(np.int64), 1000)
    first = int(seconds.min()) if n else 0
    span = int(seconds.max()) - first + 1 if n else 0
    prefixes = np.frombuffer(
        b"".join(datetime.fromtimestamp(first + s, UTC).strftime("%Y-%m-%dT%H:%M:%S.").encode() for s in range(span)),
        dtype=np.uint8,
    ).reshape(span, 20)
    text = np.empty((n, 24), dtype=np.uint8)
    text[:, :20] = prefixes[seconds - first]
    text[:, 20] = millis // 100 + 48
    text[:, 21] = millis // 10 % 10 + 48
    text[:, 22] = millis % 10 + 48
    text[:, 23] = ord("Z")
    return fixed_width_strings(text)


def _needs_escape(text: pa.Array) -> bool:
    """Whether any character of a string array needs escaping in JSON, by a scan of its bytes
    (a regex kernel over the strings costs several times as much)."""
    if len(text) == 0:
        return False
    _, offsets, data = text.buffers()
    first, last = np.frombuffer(offsets, dtype=np.int32)[[text.offset, text.offset + len(text)]]
    chars = np.frombuffer(data, dtype=np.uint8)[first:last] if data is not None else np.empty(0, np.uint8)
    return bool(((chars < _FIRST_PRINTABLE) | (chars == _QUOTE) | (chars == _BACKSLASH)).any())


def _escaped(text: pa.Array) -> pa.Array:
    if not _needs_escape(text):
        return text
    return pa.array([orjson.dumps(s).decode()[1:-1] for s in text.to_pylist()], pa.string())


def _as_text(value: np.ndarray | pa.Array) -> pa.Array:
    if isinstance(value, pa.Array) and pa.types.is_string(value.type):
        return _escaped(value)
    text = pc.cast(value, pa.string())  # shortest round-trip text of each number
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        # Arrow writes 2.0 as "2" (and 1e16 as "1e+16"): add ".0" where that would make a double an integer.
        whole = (value == np.floor(value)) & (np.abs(value) < 1e16)
        if whole.any():
            text = pc.if_else(pa.array(whole), pc.binary_join_element_wise(text, ".0", ""), text)
    return text


def json_lines(event_type: EventType, columns: Mapping[str, Column], n: int) -> pa.StringArray:
    """One JSON object per row, fields in contract order. A column is an array of n values or
    one Python value shared by every row. Numbers must be finite (the contract check sees to it)."""
    unknown = set(columns) - set(event_type.field_names)
    if unknown:
        raise KeyError(f"{event_type.name}: columns not in the contract: {', '.join(sorted(unknown))}")
    parts: list[pa.Array | str] = []
    literal = "{"
    for f in event_type.fields:
        if f.name not in columns and not f.required:
            continue  # an optional field the events do not carry
        value = columns[f.name]
        quoted = f.type in ("string", "timestamp")
        literal += f'"{f.name}":'
        if isinstance(value, np.ndarray | pa.Array):
            if len(value) != n:
                raise ValueError(f"{event_type.name}.{f.name}: {len(value)} values for {n} rows")
            parts += [literal + ('"' if quoted else ""), _as_text(value)]
            literal = '"' if quoted else ""
        else:
            literal += orjson.dumps(value).decode()
        literal += ","
    parts.append(literal[:-1] + "}")
    # Repeated literal arrays: the join kernel is an order of magnitude slower with scalar inputs.
    arrays = [pa.repeat(pa.scalar(p, pa.string()), n) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*arrays, "")


def rows(event_type: EventType, columns: Mapping[str, Column], n: int) -> list[dict]:
    """The same events as dicts, for batches too small to repay the kernels' fixed cost per call."""
    names = tuple(name for name in event_type.field_names if name in columns)
    unknown = set(columns) - set(event_type.field_names)
    if unknown:
        raise KeyError(f"{event_type.name}: columns not in the contract: {', '.join(sorted(unknown))}")
    lists = [_as_list(columns[name], n) for name in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*lists, strict=True)]


def _as_list(value: Column, n: int) -> list:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pa.Array):
        return value.to_pylist()
    return [value] * n


def to_bytes(lines: pa.StringArray) -> list[bytes]:
    """The rows as Python bytes, ready for a Kafka client."""
    return lines.cast(pa.binary()).to_pylist()
