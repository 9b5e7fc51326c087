"""The record split without Spark: the vectorised fast path must agree with the contract's
validator on every record, valid or not, and on every value it keeps."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime

import orjson
import pyarrow as pa
import pytest

from contract import BY_NAME, validator_for
from ingestion.faults import FaultConfig, FaultInjector
from ingestion.fleet import Fleet, FleetConfig
from ingestion.serialize import Serializer
from spark.kafka_source import RECORD_SCHEMA
from spark.parse import FastParser, RecordSplitter
from tests.conftest import START

# Values a producer outside this project could send: each must get the validator's verdict.
ODD_PAYLOADS = [
    b"",
    b" ",
    b"{}",
    b"[1]",
    b"null",
    b'"text"',
    b'{"a": 1} {"b": 2}',
    b'{"event_id": "a"}\n{"event_id": "b"}',
    b"\xff\xfe",
    b'{"event_time": NaN}',
    None,
]
# Replacement field values that break the contract in ways pyarrow's JSON reader would accept.
ODD_VALUES = [
    None,
    "",
    1.5,
    10**12,
    -1,
    True,
    [1],
    {"a": 1},
    "x",
    2026,
    float("inf"),
    "2026-11-23T08:00:00+05:00",
    "2026-02-30T08:00:00Z",
    "2026-11-23T08:00:00.1234567Z",
]


def kafka_batch(values: list) -> pa.RecordBatch:
    n = len(values)
    return pa.RecordBatch.from_pydict(
        {
            "key": [b"k"] * n,
            "value": values,
            "topic": ["t"] * n,
            "partition": [0] * n,
            "offset": list(range(n)),
            "timestamp": [START] * n,
        },
        schema=RECORD_SCHEMA,
    )


def fleet_payloads(malformed_rate: float = 0.0) -> dict[str, list]:
    fleet = FleetConfig(  # half the fleet on the newest version: both versions in every batch
        vehicles=30,
        seed=4,
        start=START,
        departure_window_s=60,
        camera_spacing_km=2,
        incidents_per_vehicle_hour=8,
        upgraded_share=0.5,
    )
    faults = FaultConfig(malformed_rate=malformed_rate, seed=4)
    by_stream = defaultdict(list)
    for r in FaultInjector(faults, Serializer(validate=False)).apply(Fleet(fleet).run(900)):
        by_stream[r.stream].append(r.value)
    return by_stream


def payloads_per_stream() -> dict[str, list]:
    by_stream = fleet_payloads(malformed_rate=0.03)
    rng = random.Random(4)
    for values in by_stream.values():
        for _ in range(min(150, len(values))):
            i = rng.randrange(len(values))
            try:
                event = orjson.loads(values[i])
            except orjson.JSONDecodeError:
                continue
            if rng.random() < 0.3:  # another version than the fields say, or one nobody knows
                event["schema_version"] = rng.choice([1, 2, 3])
            elif rng.random() < 0.2:  # a newer version's field, null, in any version's event
                event[rng.choice(["satellites", "odometer_km"])] = None
            else:
                event[rng.choice(list(event))] = rng.choice(ODD_VALUES)
            values[i] = orjson.dumps(event, option=orjson.OPT_PASSTHROUGH_DATETIME)
        values += ODD_PAYLOADS
    return by_stream


@pytest.mark.parametrize("stream", list(BY_NAME))
def test_split_agrees_with_the_validator_on_every_record(stream: str) -> None:
    values = payloads_per_stream()[stream]
    out = RecordSplitter(stream).split(kafka_batch(values))
    validator = validator_for(stream)
    rows = out.to_pylist()
    assert len(rows) == len(values)
    rejected = 0
    for payload, row in zip(values, rows, strict=True):
        event, reason = validator.parse(payload) if payload is not None else (None, "empty Kafka record (null value)")
        assert row["quarantine_reason"] == reason, payload
        if event is None:
            rejected += 1
            assert all(row[f] is None for f in BY_NAME[stream].field_names)
            continue
        for f in BY_NAME[stream].fields:
            value = event.get(f.name)  # an optional field may be absent
            expected = datetime.fromisoformat(value) if f.type == "timestamp" else value
            assert row[f.name] == expected, (f.name, payload)
        assert row["event_hour"] == row["event_time"].hour
    assert rejected >= len(ODD_PAYLOADS)


@pytest.mark.parametrize("stream", ["vehicle", "gps"])
def test_clean_batches_of_every_version_take_the_vectorised_path_whole(stream: str) -> None:
    values = fleet_payloads()[stream]
    assert {orjson.loads(v)["schema_version"] for v in values} == {1, 2}
    _, ok = FastParser(BY_NAME[stream]).parse(pa.array(values, pa.binary()))
    assert ok.to_pylist() == [True] * len(values)


def test_one_bad_record_does_not_send_its_whole_batch_to_the_slow_path() -> None:
    values = fleet_payloads()["gps"][:4096]
    values[100] = b'{"broken": '
    _, ok = FastParser(BY_NAME["gps"]).parse(pa.array(values, pa.binary()))
    slow = ok.to_pylist().count(False)
    assert 1 <= slow < FastParser.MIN_BISECT
