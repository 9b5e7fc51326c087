"""The event contract: the one definition of the five event types, with their history.

The simulator validates against it, the Spark job derives its schemas from it and
the dbt sources are generated from it (``python -m contract.generate``). Change a
field here and nowhere else.

Each event type lists its versions, oldest first; an event says which one it was written with
(``schema_version``) and is checked against that one. A new version may only add optional fields
and widen (contract/compatibility.py says exactly what, and ``python -m contract.generate --check``
fails on anything else), so a fleet can upgrade device by device.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Literal

FieldType = Literal["string", "double", "integer", "timestamp"]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: FieldType
    description: str
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] | None = None
    # An optional field may be absent or null; every field of a first version is required.
    required: bool = True


@dataclass(frozen=True, slots=True)
class Version:
    """One version of an event type: its number and every field an event of it carries."""

    number: int
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class EventType:
    """One stream: its short name (lake folder, dbt table), topic suffix and versions (oldest first).

    ``fields`` are the columns every version lands in: each field once, in the order the versions
    introduced them, as its newest version defines it. ``at(n)`` is the event type as version
    ``n`` alone: what an event declaring ``n`` is checked against and encoded with."""

    name: str
    topic: str
    description: str
    versions: tuple[Version, ...]

    @property
    def fields(self) -> tuple[Field, ...]:
        return _merged_fields(self.versions)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(v.number for v in self.versions)

    @property
    def newest(self) -> int:
        return self.versions[-1].number

    @property
    def oldest(self) -> int:
        return self.versions[0].number

    def at(self, number: int) -> EventType:
        for version in self.versions:
            if version.number == number:
                return EventType(self.name, self.topic, self.description, (version,))
        known = ", ".join(map(str, self.numbers))
        raise KeyError(f"{self.name}: schema_version {number} not in the contract (known: {known})")

    def written_by(self, device_version: int) -> int:
        """The version a device on ``device_version`` writes this event type with: the newest not
        after it (event types gain versions independently)."""
        return max((n for n in self.numbers if n <= device_version), default=self.oldest)

    def added_since_first(self) -> tuple[Field, ...]:
        """The fields later versions added, in order (the lake appends them to its tables)."""
        first = {f.name for f in self.versions[0].fields}
        return tuple(f for f in self.fields if f.name not in first)


VERSION_FIELD = "schema_version"


@functools.cache
def _merged_fields(versions: tuple[Version, ...]) -> tuple[Field, ...]:
    if len(versions) == 1:
        return versions[0].fields
    newest: dict[str, Field] = {}
    for version in versions:
        for f in version.fields:
            newest[f.name] = f
    required = {name: all(_required_in(v, name) for v in versions) for name in newest}
    merged = [replace(f, required=required[f.name]) for f in newest.values()]
    # The column of schema_version holds every version's number.
    return tuple(
        replace(f, minimum=versions[0].number, maximum=versions[-1].number) if f.name == VERSION_FIELD else f
        for f in merged
    )


def _required_in(version: Version, name: str) -> bool:
    return any(f.name == name and f.required for f in version.fields)


def _header(version: int) -> tuple[Field, ...]:
    """The fields every event starts with; ``schema_version`` is the version's own number."""
    return (
        Field(
            "event_id",
            "string",
            "Stable id (UUID v8: a bijection of seed and start, vehicle, stream and sequence): unique within a run.",
        ),
        Field(
            VERSION_FIELD,
            "integer",
            "Version of the event type's contract the event was written with.",
            minimum=version,
            maximum=version,
        ),
        Field("vehicle_id", "string", "The vehicle that emitted (or, for cameras, was seen in) the event."),
        Field(
            "event_time",
            "timestamp",
            "When the event happened, ISO-8601 with an explicit UTC offset (the simulator writes 'Z').",
        ),
    )


def _first(*fields: Field) -> tuple[Version, ...]:
    return (Version(1, (*_header(1), *fields)),)


def _then(versions: tuple[Version, ...], *added: Field) -> tuple[Version, ...]:
    """``versions`` and a next one: the previous fields and ``added``."""
    previous = versions[-1]
    number = previous.number + 1
    body = tuple(f for f in previous.fields if f.name not in {h.name for h in _header(number)})
    return (*versions, Version(number, (*_header(number), *body, *added)))


_LAT = Field("lat", "double", "Latitude, WGS84.", unit="degrees", minimum=-90, maximum=90)
_LON = Field("lon", "double", "Longitude, WGS84.", unit="degrees", minimum=-180, maximum=180)
_ROUTE_KM = Field(
    "route_km", "double", "Distance along the Boston to New York route.", unit="km", minimum=0, maximum=1000
)
_SPEED = Field("speed_kmh", "double", "Speed over ground.", unit="km/h", minimum=0, maximum=250)
_HEADING = Field(
    "heading_deg", "double", "Direction of travel, clockwise from true north.", unit="degrees", minimum=0, maximum=360
)

VEHICLE = EventType(
    "vehicle",
    "vehicle_data",
    "Vehicle telemetry, one per vehicle per tick.",
    _then(
        _first(
            _LAT,
            _LON,
            _ROUTE_KM,
            _SPEED,
            _HEADING,
            Field("fuel_level_pct", "double", "Fuel or battery level.", unit="percent", minimum=0, maximum=100),
            Field("make", "string", "Vehicle make."),
            Field("model", "string", "Vehicle model."),
            Field("model_year", "integer", "Model year.", minimum=1990, maximum=2030),
            Field("fuel_type", "string", "Energy source.", enum=("gasoline", "diesel", "hybrid", "electric")),
        ),
        Field(
            "odometer_km",
            "double",
            "Distance the vehicle has covered in its life, from its odometer.",
            unit="km",
            minimum=0,
            maximum=2_000_000,
            required=False,
        ),
        Field(
            "engine_temp_c",
            "double",
            "Engine coolant temperature (an electric drive's: its motor's).",
            unit="degC",
            minimum=-60,
            maximum=200,
            required=False,
        ),
    ),
)

GPS = EventType(
    "gps",
    "gps_data",
    "GPS fix from the vehicle's receiver, one per vehicle per tick.",
    _then(
        _first(
            _LAT,
            _LON,
            _SPEED,
            _HEADING,
            Field("altitude_m", "double", "Altitude above sea level.", unit="m", minimum=-100, maximum=3000),
            Field("accuracy_m", "double", "Horizontal accuracy (1 sigma).", unit="m", minimum=0, maximum=500),
            Field("vehicle_type", "string", "Kind of vehicle.", enum=("private", "taxi", "truck", "bus", "emergency")),
        ),
        Field(
            "satellites",
            "integer",
            "Satellites the receiver used for the fix.",
            unit="satellites",
            minimum=0,
            maximum=64,
            required=False,
        ),
    ),
)

TRAFFIC = EventType(
    "traffic",
    "traffic_data",
    "A fixed roadside camera saw a vehicle pass.",
    _first(
        Field("camera_id", "string", "Camera that saw the vehicle."),
        _LAT,
        _LON,
        _ROUTE_KM,
        _SPEED,
        Field("snapshot_uri", "string", "Where the camera stored its snapshot."),
    ),
)

WEATHER = EventType(
    "weather",
    "weather_data",
    "Weather observed by the vehicle's sensors, one per vehicle per minute.",
    _first(
        _LAT,
        _LON,
        Field("region", "string", "Named stretch of the route the observation belongs to."),
        Field("temperature_c", "double", "Air temperature.", unit="degC", minimum=-60, maximum=60),
        Field("condition", "string", "Sky and road condition.", enum=("clear", "cloudy", "rain", "snow", "fog")),
        Field("precipitation_mm", "double", "Precipitation in the last hour.", unit="mm/h", minimum=0, maximum=300),
        Field("wind_speed_kmh", "double", "Wind speed.", unit="km/h", minimum=0, maximum=300),
        Field("humidity_pct", "double", "Relative humidity.", unit="percent", minimum=0, maximum=100),
        Field("air_quality_index", "integer", "US AQI.", minimum=0, maximum=500),
    ),
)

EMERGENCY = EventType(
    "emergency",
    "emergency_data",
    "Emergency incident lifecycle: one 'active' event when it opens, one 'resolved' event when it closes.",
    _first(
        Field("incident_id", "string", "Incident the event belongs to; opened once, resolved once."),
        Field(
            "incident_type",
            "string",
            "Kind of incident.",
            enum=("accident", "fire", "medical", "police", "road_hazard"),
        ),
        Field("status", "string", "Lifecycle state.", enum=("active", "resolved")),
        Field("severity", "integer", "1 (minor) to 5 (major).", minimum=1, maximum=5),
        _LAT,
        _LON,
        _ROUTE_KM,
        Field("description", "string", "Free text from the reporter."),
    ),
)

EVENT_TYPES: tuple[EventType, ...] = (VEHICLE, GPS, TRAFFIC, WEATHER, EMERGENCY)
BY_NAME: dict[str, EventType] = {e.name: e for e in EVENT_TYPES}


def topic_name(event_type: EventType, prefix: str = "") -> str:
    return f"{prefix}{event_type.topic}"
