"""The compatibility rules between versions of an event type (contract/compatibility.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contract import compatibility, generate
from contract.events import BY_NAME, EVENT_TYPES, EventType, Field, Version

GPS = BY_NAME["gps"]


def with_next_version(et: EventType, change) -> EventType:
    """``et`` with one more version: its newest fields passed through ``change``."""
    newest = et.versions[-1]
    fields = tuple(change(list(newest.fields)))
    fields = tuple(
        replace(f, minimum=newest.number + 1, maximum=newest.number + 1) if f.name == "schema_version" else f
        for f in fields
    )
    return replace(et, versions=(*et.versions, Version(newest.number + 1, fields)))


def edit(name: str, **changes):
    return lambda fields: [replace(f, **changes) if f.name == name else f for f in fields]


def test_the_contract_as_it_is_passes_both_checks() -> None:
    assert [line for et in EVENT_TYPES for line in compatibility.problems(et)] == []
    assert [line for et in EVENT_TYPES for line in compatibility.lake_problems(et)] == []


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (
            lambda fields: [f for f in fields if f.name != "altitude_m"],
            "gps v3 altitude_m: removed (fields may not be removed or renamed)",
        ),
        (
            edit("accuracy_m", type="integer"),
            "gps v3 accuracy_m: type changed from double to integer (only integer to double widens)",
        ),
        (edit("satellites", required=True), "gps v3 satellites: made required (an optional field stays optional)"),
        (
            edit("vehicle_type", enum=("private", "taxi", "truck", "bus")),
            "gps v3 vehicle_type: enum values emergency removed (an enum may only gain values)",
        ),
        (
            edit("accuracy_m", maximum=100),
            "gps v3 accuracy_m: maximum lowered from 500 to 100 (a range may only widen)",
        ),
        (edit("altitude_m", unit="ft"), "gps v3 altitude_m: unit changed from m to ft (a field keeps its unit)"),
        (
            lambda fields: [*fields, Field("hdop", "double", "Dilution of precision.")],
            "gps v3 hdop: added as required (a new field must be optional)",
        ),
        (
            lambda fields: [replace(f, name="altitude_msl_m") if f.name == "altitude_m" else f for f in fields],
            "gps v3 altitude_m: removed (fields may not be removed or renamed)",
        ),
    ],
)
def test_an_incompatible_change_fails_with_one_line_naming_type_field_and_rule(change, line: str) -> None:
    assert line in compatibility.problems(with_next_version(GPS, change))


def test_a_change_against_any_earlier_version_counts_not_only_the_previous() -> None:
    # v4 narrows back to v2's range what v3 widened
    widened = with_next_version(GPS, edit("accuracy_m", maximum=900))
    narrowed_again = with_next_version(widened, edit("accuracy_m", maximum=500))
    assert "gps v4 accuracy_m: maximum lowered from 900 to 500 (a range may only widen)" in compatibility.problems(
        narrowed_again
    )
    # v3 drops a field and v4 brings it back with another type: against v3 an addition, against
    # v1 and v2 a type change
    dropped = with_next_version(GPS, lambda fields: [f for f in fields if f.name != "heading_deg"])
    heading = replace(GPS.fields[GPS.field_names.index("heading_deg")], type="integer", required=False)
    back = with_next_version(dropped, lambda fields: [*fields, heading])
    assert compatibility.problems(back) == [
        "gps v3 heading_deg: removed (fields may not be removed or renamed)",
        "gps v4 heading_deg: type changed from double to integer (only integer to double widens)",
    ]


@pytest.mark.parametrize(
    "change",
    [
        lambda fields: [*fields, Field("hdop", "double", "Dilution of precision.", required=False)],
        edit("accuracy_m", maximum=1000),
        edit("vehicle_type", enum=("private", "taxi", "truck", "bus", "emergency", "motorcycle")),
        edit("satellites", minimum=None),
    ],
)
def test_compatible_changes_pass(change) -> None:
    assert compatibility.problems(with_next_version(GPS, change)) == []


def test_integer_to_double_is_compatible_but_the_lake_cannot_promote_it() -> None:
    widened = with_next_version(GPS, edit("satellites", type="double"))
    assert compatibility.problems(widened) == []
    assert compatibility.lake_problems(widened) == [
        "gps v3 satellites: integer to double "
        "(the lake's Iceberg tables cannot promote this type; add a new field instead)"
    ]


def test_generate_check_fails_on_an_incompatible_contract(monkeypatch, capsys) -> None:
    broken = with_next_version(GPS, lambda fields: [f for f in fields if f.name != "altitude_m"])
    monkeypatch.setattr(generate, "EVENT_TYPES", tuple(broken if et.name == "gps" else et for et in EVENT_TYPES))
    assert generate.main(["--check"]) == 1
    assert "incompatible: gps v3 altitude_m: removed" in capsys.readouterr().err


def test_generate_check_passes_on_the_contract() -> None:
    assert generate.main(["--check"]) == 0
