"""The event contract: the one definition of the five event types.

The simulator validates against it, the Spark job derives its schemas from it and
the dbt sources are generated from it (``python -m contract.generate``). Change a
field here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SCHEMA_VERSION = 1

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


@dataclass(frozen=True, slots=True)
class EventType:
    """One stream: its short name (lake folder, dbt table), topic suffix and fields."""

    name: str
    topic: str
    description: str
    fields: tuple[Field, ...]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


_COMMON = (
    Field(
        "event_id",
        "string",
        "Stable id (UUID v8: a bijection of seed and start, vehicle, stream and sequence): unique within a run.",
    ),
    Field(
        "schema_version",
        "integer",
        "Version of this contract the event was written with.",
        minimum=SCHEMA_VERSION,
        maximum=SCHEMA_VERSION,
    ),
    Field("vehicle_id", "string", "The vehicle that emitted (or, for cameras, was seen in) the event."),
    Field(
        "event_time",
        "timestamp",
        "When the event happened, ISO-8601 with an explicit UTC offset (the simulator writes 'Z').",
    ),
)
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
    (
        *_COMMON,
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
)

GPS = EventType(
    "gps",
    "gps_data",
    "GPS fix from the vehicle's receiver, one per vehicle per tick.",
    (
        *_COMMON,
        _LAT,
        _LON,
        _SPEED,
        _HEADING,
        Field("altitude_m", "double", "Altitude above sea level.", unit="m", minimum=-100, maximum=3000),
        Field("accuracy_m", "double", "Horizontal accuracy (1 sigma).", unit="m", minimum=0, maximum=500),
        Field("vehicle_type", "string", "Kind of vehicle.", enum=("private", "taxi", "truck", "bus", "emergency")),
    ),
)

TRAFFIC = EventType(
    "traffic",
    "traffic_data",
    "A fixed roadside camera saw a vehicle pass.",
    (
        *_COMMON,
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
    (
        *_COMMON,
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
    (
        *_COMMON,
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
