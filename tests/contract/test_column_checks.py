"""The simulator checks whole ticks as columns (``column_errors``); the Spark job and the per-event
path use ``Validator``. Both are read off the same contract and must give the same verdict on
every row, good or bad."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from contract import BY_NAME
from contract.validate import ContractError, check_columns, column_errors, validator_for
from ingestion.encode import rows
from ingestion.fleet import Fleet, FleetConfig, Tick
from tests.conftest import START

BAD_VALUES = {
    "double": [float("nan"), float("inf"), -1e9, 1e9, None],
    "integer": [-5, 10**6, None],
    "string": ["", None],
    "timestamp": ["yesterday", "2026-13-01T00:00:00Z", "2026-11-23 08:00:00", "2026-11-23T08:00:00", None],
}


@pytest.fixture(scope="module")
def batches() -> list:
    fleet = Fleet(FleetConfig(vehicles=400, seed=8, start=START, departure_window_s=1, incidents_per_vehicle_hour=200))
    return Tick.merge([fleet._tick(float(t)) for t in range(4)])


def _per_event(event_type: str, columns: dict, n: int) -> dict[int, str]:
    errors = validator_for(event_type).errors
    found = {}
    for i, body in enumerate(rows(BY_NAME[event_type], columns, n)):
        problem = errors(body)
        if problem:
            found[i] = problem
    return found


def _field(reason: str) -> str:
    return reason.split(":")[0]


def _corrupt(columns: dict, n: int, rng: random.Random) -> dict:
    """Columns with a few rows of every field made invalid in a way the contract forbids."""
    out = {}
    for name, value in columns.items():
        f = next(f for et in BY_NAME.values() for f in et.fields if f.name == name)
        values = list(np.broadcast_to(np.asarray(value, dtype=object), n)) if not isinstance(value, pa.Array) else None
        values = value.to_pylist() if values is None else [v.item() if hasattr(v, "item") else v for v in values]
        bad = list(BAD_VALUES[f.type])
        if f.enum:
            bad.append("not-a-" + f.name)
        if f.minimum is not None and f.type != "timestamp":
            bad.append(f.minimum - 1)
        for row in rng.sample(range(n), min(len(bad), n)):
            values[row] = bad.pop()
            if not bad:
                break
        kind = {"double": pa.float64(), "integer": pa.int64()}.get(f.type, pa.string())
        if f.type == "integer" and any(isinstance(v, float) for v in values):
            kind = pa.float64()
        out[name] = pa.array(values, kind)
    return out


def test_valid_columns_pass_both_checks(batches: list) -> None:
    for batch in batches:
        columns, n = batch.all_columns(), len(batch)
        assert column_errors(batch.event_type, columns, n) == {} == _per_event(batch.event_type.name, columns, n)
        check_columns(batch.event_type, columns, n)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_same_rows_fail_for_the_same_field(batches: list, seed: int) -> None:
    rng = random.Random(seed)
    for batch in batches:
        n = len(batch)
        columns = _corrupt(batch.all_columns(), n, rng)
        by_columns = column_errors(batch.event_type, columns, n)
        by_events = _per_event(batch.event_type.name, columns, n)
        assert by_columns.keys() == by_events.keys() and by_columns, batch.event_type.name
        assert {r: _field(p) for r, p in by_columns.items()} == {r: _field(p) for r, p in by_events.items()}
        failing = {_field(p) for p in by_columns.values()}
        first = next(f for f in batch.event_type.field_names if f in failing)  # fields are checked in order
        with pytest.raises(ContractError, match=f"invalid: {first}:"):
            check_columns(batch.event_type, columns, n)


def test_missing_unknown_and_mistyped_columns_fail_every_row(batches: list) -> None:
    batch = batches[0]
    columns, n = batch.all_columns(), len(batch)
    missing = {k: v for k, v in columns.items() if k != "lat"}
    assert set(column_errors(batch.event_type, missing, n).values()) == {"lat: missing required field"}
    extra = {**columns, "colour": "red"}
    assert set(column_errors(batch.event_type, extra, n).values()) == {"unknown field(s): colour"}
    mistyped = {**columns, "speed_kmh": pa.array(["fast"] * n)}
    assert len(column_errors(batch.event_type, mistyped, n)) == n
    assert len(_per_event(batch.event_type.name, mistyped, n)) == n
