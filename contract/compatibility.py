"""The rules a new version of an event type must follow, checked against every earlier version.

In Schema Registry terms this is BACKWARD_TRANSITIVE: a reader of the newest version reads every
event ever written (old devices keep sending old versions, and the lake keeps them all). Allowed:
adding an optional field, widening a range, adding an enum value, integer to double. Refused:
removing or renaming a field (a rename is a removal and an addition), changing its type or unit,
making an optional field required, narrowing a range or an enum, adding a required field.

The lake adds one rule of its own: its Iceberg tables promote a column's type only where Iceberg
can (int to long, float to double), so integer to double, allowed by the contract, is refused for
a stream that lands in the lake. ``python -m contract.generate --check`` runs both.
"""

from __future__ import annotations

from contract.events import VERSION_FIELD, EventType, Field, Version

_WIDENINGS = {("integer", "double")}
# Type changes the lake's tables can make in place (Iceberg's promotions, in contract types).
_LAKE_PROMOTIONS: set[tuple[str, str]] = set()


def problems(event_type: EventType) -> list[str]:
    """One line per incompatible change: '<type> v<new> <field>: <what> (<rule>)'."""
    found = _numbering(event_type)
    versions = event_type.versions
    for i, newer in enumerate(versions):
        for older in versions[:i]:
            found += _pair(event_type.name, older, newer)
    return list(dict.fromkeys(found))  # a change seen from several older versions, once


def lake_problems(event_type: EventType) -> list[str]:
    """Changes the contract allows that the lake's tables cannot make in place."""
    found = []
    for i, newer in enumerate(event_type.versions):
        for older in event_type.versions[:i]:
            new_fields = {f.name: f for f in newer.fields}
            for f in older.fields:
                g = new_fields.get(f.name)
                if g is not None and f.type != g.type and (f.type, g.type) in _WIDENINGS - _LAKE_PROMOTIONS:
                    found.append(
                        f"{_at(event_type.name, newer)} {f.name}: {f.type} to {g.type} (the lake's Iceberg tables "
                        "cannot promote this type; add a new field instead)"
                    )
    return list(dict.fromkeys(found))


def _numbering(event_type: EventType) -> list[str]:
    numbers = event_type.numbers
    if numbers != tuple(range(1, len(numbers) + 1)):
        return [
            f"{event_type.name}: versions {', '.join(map(str, numbers))} (versions are numbered 1, 2, ... in order)"
        ]
    return []


def _at(name: str, version: Version) -> str:
    return f"{name} v{version.number}"


def _pair(name: str, older: Version, newer: Version) -> list[str]:
    where = _at(name, newer)
    found = []
    new_fields = {f.name: f for f in newer.fields}
    old_names = {f.name for f in older.fields}
    for f in older.fields:
        g = new_fields.get(f.name)
        if g is None:
            found.append(f"{where} {f.name}: removed (fields may not be removed or renamed)")
            continue
        found += [f"{where} {f.name}: {change}" for change in _field_changes(f, g)]
    for g in newer.fields:
        if g.name not in old_names and g.required:
            found.append(f"{where} {g.name}: added as required (a new field must be optional)")
    return found


def _field_changes(old: Field, new: Field) -> list[str]:
    changes = []
    if old.type != new.type and (old.type, new.type) not in _WIDENINGS:
        changes.append(f"type changed from {old.type} to {new.type} (only integer to double widens)")
    if old.unit != new.unit:
        changes.append(f"unit changed from {old.unit} to {new.unit} (a field keeps its unit)")
    if new.required and not old.required:
        changes.append("made required (an optional field stays optional)")
    if old.name == VERSION_FIELD:  # its range is the version's own number
        return changes
    if new.minimum is not None and (old.minimum is None or new.minimum > old.minimum):
        changes.append(f"minimum raised from {old.minimum} to {new.minimum} (a range may only widen)")
    if new.maximum is not None and (old.maximum is None or new.maximum < old.maximum):
        changes.append(f"maximum lowered from {old.maximum} to {new.maximum} (a range may only widen)")
    if new.enum is not None:
        dropped = sorted(set(old.enum or ()) - set(new.enum)) if old.enum is not None else None
        if dropped is None:
            changes.append("now limited to " + "|".join(new.enum) + " (an enum may only gain values)")
        elif dropped:
            changes.append(f"enum values {', '.join(dropped)} removed (an enum may only gain values)")
    return changes
