from __future__ import annotations

import json

import orjson
import pytest

from contract import BY_NAME, EVENT_TYPES, ContractError, validator_for
from contract.generate import rendered
from ingestion.fleet import Fleet, FleetConfig
from tests.conftest import START


@pytest.fixture(scope="module")
def events() -> list:
    return list(Fleet(FleetConfig(vehicles=30, seed=7, start=START, incidents_per_vehicle_hour=6)).run(1800))


def test_every_generated_event_validates(events: list) -> None:
    seen = set()
    for ev in events:
        validator_for(ev.event_type.name).check(ev.body)
        seen.add(ev.event_type.name)
    assert seen == set(BY_NAME), "all five event types are generated"


def test_generated_events_match_the_published_json_schemas(events: list) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validators = {}
    for et in EVENT_TYPES:
        for number in et.numbers:
            schema = json.loads(rendered_path(et.name, number).read_text())
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validators[et.name, number] = cls(schema)
    for ev in events[:3000]:
        validators[ev.event_type.name, ev.body["schema_version"]].validate(ev.body)


def test_an_event_of_one_version_fails_the_schema_of_another() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    v2 = {**GOOD, "schema_version": 2, "satellites": 9}
    jsonschema.validate(v2, json.loads(rendered_path("gps", 2).read_text()))
    with pytest.raises(jsonschema.ValidationError, match="satellites"):
        jsonschema.validate({**v2, "schema_version": 1}, json.loads(rendered_path("gps", 1).read_text()))


def rendered_path(name: str, version: int):
    from contract.generate import SCHEMA_DIR, schema_file

    return SCHEMA_DIR / schema_file(name, version)


def test_every_event_carries_the_common_fields(events: list) -> None:
    for ev in events[:500]:
        body = ev.body
        assert body["event_time"].endswith("Z")
        assert body["schema_version"] == BY_NAME[ev.event_type.name].newest  # a fleet on the newest version
        assert body["vehicle_id"] == ev.vehicle_id
        if "lat" in BY_NAME[ev.event_type.name].field_names:
            assert isinstance(body["lat"], float) and isinstance(body["lon"], float)


GOOD = {
    "event_id": "0b8f6f67-7d9e-5b0c-9d4e-1b2c3d4e5f60",
    "schema_version": 1,
    "vehicle_id": "vehicle-00001",
    "event_time": "2026-11-23T08:00:00.000Z",
    "lat": 42.0,
    "lon": -72.0,
    "speed_kmh": 90.0,
    "heading_deg": 250.0,
    "altitude_m": 50.0,
    "accuracy_m": 3.0,
    "vehicle_type": "taxi",
}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"lat": "42.0"}, "lat: expected number"),
        ({"lat": 142.0}, "lat: 142.0 outside"),
        ({"speed_kmh": -1.0}, "speed_kmh: -1.0 outside"),
        ({"vehicle_type": "spaceship"}, "vehicle_type: 'spaceship' not one of"),
        ({"event_time": "2026-11-23 08:00:00"}, "event_time: expected ISO-8601"),
        ({"event_time": "2026-11-23T08:00:00"}, "event_time: expected ISO-8601"),  # naive: no UTC offset
        ({"event_time": "2026-13-45T08:00:00Z"}, "event_time: invalid timestamp"),
        ({"schema_version": 3}, "schema_version: 3 not supported (known: 1, 2)"),
        ({"schema_version": "1"}, "schema_version: expected integer, got str"),
        ({"satellites": 9}, "unknown field(s): satellites"),  # a version 2 field in a version 1 event
        ({"schema_version": 2, "satellites": 65}, "satellites: 65 outside [0, 64]"),
        ({"vehicle_id": None}, "vehicle_id: null not allowed"),
        ({"vehicle_id": ""}, "vehicle_id: empty string"),
        ({"lon": float("nan")}, "lon: not a finite number"),
        ({"lat": True}, "lat: expected number, got bool"),
        ({"extra": 1}, "unknown field(s): extra"),
    ],
)
def test_malformed_event_is_rejected_with_the_field_named(change: dict, named: str) -> None:
    validator = validator_for("gps")
    assert validator.errors(GOOD) is None
    with pytest.raises(ContractError, match="gps event invalid") as info:
        validator.check({**GOOD, **change})
    assert named in str(info.value)


@pytest.mark.parametrize("satellites", [9, None, "absent"])
def test_a_version_2_event_may_carry_its_optional_field_or_not(satellites: object) -> None:
    event = {**GOOD, "schema_version": 2, "satellites": satellites}
    if satellites == "absent":
        del event["satellites"]
    assert validator_for("gps").errors(event) is None


def test_missing_field_and_invalid_json_are_named() -> None:
    validator = validator_for("gps")
    broken = dict(GOOD)
    del broken["accuracy_m"]
    assert validator.errors(broken) == "accuracy_m: missing required field"
    event, reason = validator.parse(orjson.dumps(GOOD)[:-5])
    assert event is None and reason.startswith("invalid JSON")
    event, reason = validator.parse(b"[1, 2]")
    assert event is None and reason == "expected a JSON object, got list"


def test_unknown_stream_is_a_clear_error() -> None:
    with pytest.raises(ContractError, match="unknown stream 'bus'"):
        validator_for("bus")


def test_generated_files_are_up_to_date() -> None:
    for path, text in rendered().items():
        assert path.read_text() == text, f"{path} is stale: run `python -m contract.generate`"
