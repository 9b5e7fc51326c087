"""The simulated world: vehicles on the route, roadside cameras, regional weather, incidents.

The fleet is a set of arrays (position along the route, speed, fuel, ... one slot per
vehicle) advanced together once per tick; each tick's events come out as columns per
stream (``Tick``), checked against the contract and encoded as JSON in bulk. ``Fleet.ticks()``
is the fast path the simulator sends from; ``Fleet.run()`` yields the same events one by one.

Everything random comes from generators seeded by ``--seed`` (one per concern), and every
draw is made for all vehicles each tick, so the same seed and start give the same events.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha1

import numpy as np
import orjson
import pyarrow as pa

from contract.errors import InvalidSetting
from contract.events import EMERGENCY, EVENT_TYPES, GPS, TRAFFIC, VEHICLE, WEATHER, EventType
from contract.validate import check_columns, validator_for
from ingestion.encode import Column, iso_millis, json_lines, rows, to_bytes, uuid_strings
from ingestion.packaged import csv_rows
from ingestion.route import Route

# (make, model, fuel type)
_MODELS = tuple((row["make"], row["model"], row["fuel_type"]) for row in csv_rows("vehicle_models.csv"))
_VEHICLE_TYPES = ("private", "private", "private", "taxi", "truck", "bus", "emergency")
_INCIDENT_TYPES = ("accident", "accident", "road_hazard", "medical", "police", "fire")
_DESCRIPTIONS = {
    "accident": "Collision blocking a lane",
    "road_hazard": "Debris on the roadway",
    "medical": "Driver needs medical assistance",
    "police": "Police activity on the shoulder",
    "fire": "Vehicle fire on the shoulder",
}
_CONDITIONS = ("clear", "cloudy", "rain", "fog", "snow")
# Speed factor per weather condition (same order): drivers slow down in rain, snow and fog.
_WEATHER_SPEED = np.array([1.0, 1.0, 0.85, 0.8, 0.6])
_CONDITION_TEXT = np.array(_CONDITIONS, dtype=object)
# Event ids pack (sequence, vehicle, stream) into 63 bits: 3 for the stream, 20 for the vehicle.
MAX_VEHICLES = 1 << 20
# Below this many events, encoding row by row beats the array kernels' fixed cost per call.
COLUMN_ENCODING_MIN = 512
# Events per group when iterating a fleet event by event (Fleet.run).
GROUP_EVENTS = 20_000
_STREAM_INDEX = {et.name: i for i, et in enumerate(EVENT_TYPES)}
# The newest version any event type has: what an up-to-date device writes.
NEWEST_VERSION = max(et.newest for et in EVENT_TYPES)


@dataclass(frozen=True, slots=True)
class FleetConfig:
    vehicles: int = 20
    seed: int = 42
    start: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    tick_s: float = 1.0
    weather_every_s: float = 60.0
    departure_window_s: float = 600.0
    incidents_per_vehicle_hour: float = 0.5
    camera_spacing_km: float = 12.0
    # The version devices write (each event type's newest up to it), and the share of the fleet
    # already on it; the rest still write the first version: a rolling upgrade.
    schema_version: int = NEWEST_VERSION
    upgraded_share: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.schema_version <= NEWEST_VERSION:
            known = ", ".join(map(str, range(1, NEWEST_VERSION + 1)))
            raise InvalidSetting(f"--schema-version must be one of {known}, got {self.schema_version}")
        if not 0 <= self.upgraded_share <= 1:
            raise InvalidSetting(f"--upgraded-share must be between 0 and 1, got {self.upgraded_share}")
        if not 1 <= self.vehicles <= MAX_VEHICLES:
            raise InvalidSetting(f"--vehicles must be between 1 and {MAX_VEHICLES:,}, got {self.vehicles}")
        if self.start.tzinfo is None:
            raise InvalidSetting("the fleet's start time needs a time zone (event times are UTC)")
        if self.tick_s <= 0:
            raise InvalidSetting(f"the tick must be positive, got {self.tick_s}")


@dataclass(slots=True)
class Emitted:
    """One encoded event: its type, key (vehicle id), event time (seconds after the start) and JSON."""

    event_type: EventType
    vehicle_id: str
    event_time_s: float
    value: bytes

    @property
    def body(self) -> dict:
        return orjson.loads(self.value)


class EventIds:
    """Event ids of one run: a UUID (RFC 9562 version 8) per (stream, vehicle, sequence number).
    The run's seed and start give 48 bits and an offset; the rest is a bijection of the packed
    (sequence, vehicle, stream), so ids never collide within a run and differ between runs."""

    def __init__(self, run_stamp: str) -> None:
        run_key = sha1(f"smartcity/{run_stamp}".encode()).digest()
        self._high = np.uint64((int.from_bytes(run_key[:8], "big") & ~0xFFFF) | 0x8000)  # version 8
        self._offset = np.uint64(int.from_bytes(run_key[8:16], "big"))

    def text(self, stream: str, vehicle: np.ndarray, seq: np.ndarray) -> pa.StringArray:
        packed = (seq.astype(np.uint64) << np.uint64(23)) | (vehicle.astype(np.uint64) << np.uint64(3))
        mixed = _mix64((packed | np.uint64(_STREAM_INDEX[stream])) + self._offset)
        high = self._high | (mixed >> np.uint64(52))
        low = (mixed & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(1 << 63)  # RFC 9562 variant
        return uuid_strings(np.broadcast_to(high, mixed.shape), low)


@dataclass(slots=True)
class Batch:
    """One stream's events of one version, as columns named by the contract's fields. The header
    columns (id, version, vehicle, time) are made when the batch is encoded, so merged ticks make
    them in one go."""

    event_type: EventType  # the version the events are written with (``EventType.at``)
    vehicle: np.ndarray  # index of the vehicle each event belongs to (its Kafka key)
    seq: np.ndarray  # the event's number among its vehicle's events of this stream
    epoch_ms: np.ndarray
    columns: dict[str, Column]
    fleet: Fleet

    def __len__(self) -> int:
        return len(self.vehicle)

    @property
    def event_time_s(self) -> np.ndarray:
        return (self.epoch_ms - self.fleet.start_epoch_ms) / 1000

    def all_columns(self) -> dict[str, Column]:
        return {
            "event_id": self.fleet.ids.text(self.event_type.name, self.vehicle, self.seq),
            "schema_version": self.event_type.newest,
            "vehicle_id": self.fleet.vehicle_id_column.take(self.vehicle),
            "event_time": iso_millis(self.epoch_ms),
            **self.columns,
        }

    def encode(self, validate: bool = True) -> list[bytes]:
        """The events' JSON, checked against the contract first unless ``validate`` is off."""
        n, columns = len(self), self.all_columns()
        if n < COLUMN_ENCODING_MIN:
            bodies = rows(self.event_type, columns, n)
            if validate:
                check = validator_for(self.event_type.name).check
                for body in bodies:
                    check(body)
            return [orjson.dumps(body) for body in bodies]
        columns = {k: pa.array(v, pa.string()) if _is_text(v) else v for k, v in columns.items()}
        if validate:
            check_columns(self.event_type, columns, n)
        return to_bytes(json_lines(self.event_type, columns, n))

    @staticmethod
    def merge(batches: list[Batch]) -> Batch:
        """One batch of several of the same stream, in order: the encoder's cost is per call, so
        a backfill encodes many ticks at once."""
        if len(batches) == 1:
            return batches[0]
        sizes = [len(b) for b in batches]
        first = batches[0]
        return Batch(
            first.event_type,
            np.concatenate([b.vehicle for b in batches]),
            np.concatenate([b.seq for b in batches]),
            np.concatenate([b.epoch_ms for b in batches]),
            {name: _concat([b.columns[name] for b in batches], sizes) for name in first.columns},
            first.fleet,
        )


def _rows(value: Column, rows: np.ndarray) -> Column:
    if isinstance(value, np.ndarray):
        return value[rows]
    if isinstance(value, pa.Array):
        return value.take(rows)
    return value  # one value for every row


def _is_text(value: object) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == object


def _text(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=object)


def _concat(parts: list[Column], sizes: list[int]) -> Column:
    if not any(isinstance(p, np.ndarray | pa.Array) for p in parts) and all(p == parts[0] for p in parts):
        return parts[0]  # the same value in every row
    if all(isinstance(p, pa.Array) for p in parts):
        return pa.concat_arrays(parts)
    full = [
        p if isinstance(p, np.ndarray) else np.full(n, p, dtype=object if isinstance(p, str) else None)
        for p, n in zip(parts, sizes, strict=True)
    ]
    return np.concatenate(full)


@dataclass(slots=True)
class Tick:
    t: float  # event time of the tick's start, seconds after the fleet's start
    tick_s: float
    batches: list[Batch]

    def __len__(self) -> int:
        return sum(len(b) for b in self.batches)

    @staticmethod
    def merge(ticks: list[Tick]) -> list[Batch]:
        """The events of several ticks as one batch per stream, each vehicle's events in order."""
        by_stream: dict[tuple[str, int], list[Batch]] = {}
        for tick in ticks:
            for batch in tick.batches:
                by_stream.setdefault((batch.event_type.name, batch.event_type.newest), []).append(batch)
        return [Batch.merge(batches) for batches in by_stream.values()]


@dataclass(slots=True)
class Incident:
    incident_id: str
    reporter: int  # vehicle index
    incident_type: str
    severity: int
    route_km: float
    lat: float
    lon: float
    opened_s: float
    resolves_s: float


def _rng(seed: int, concern: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(sha1(f"{seed}/{concern}".encode()).digest()[:8], "big"))


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection on 64 bits, so distinct inputs stay distinct ids."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class _Weather:
    """Per-region weather: a hidden wetness (AR(1)) drives condition and precipitation."""

    def __init__(self, seed: int, regions: int) -> None:
        self.rng = _rng(seed, "weather")
        self.base_temp_c = 7.0 - 2.5 * np.arange(regions) / 8
        self.wetness = np.zeros(regions)
        self.condition = np.zeros(regions, dtype=np.int64)
        self.temperature_c = np.zeros(regions)
        self.precipitation_mm = np.zeros(regions)
        self.wind_kmh = np.full(regions, 10.0)
        self.humidity_pct = np.full(regions, 60.0)
        self.aqi = np.full(regions, 40, dtype=np.int64)

    def update(self, epoch_s: float) -> None:
        n, r = len(self.wetness), self.rng
        diurnal = 4.0 * math.sin(((epoch_s / 3600.0) % 24 - 9) / 24 * 2 * math.pi)
        self.wetness = 0.97 * self.wetness + r.normal(0, 0.25, n)
        self.temperature_c = np.round(self.base_temp_c + diurnal + r.normal(0, 0.3, n), 1)
        self.wind_kmh = np.round(np.clip(self.wind_kmh + r.normal(0, 1.5, n), 0.0, 90.0), 1)
        self.aqi = np.clip(self.aqi + r.normal(0, 2, n), 5, 180).astype(np.int64)
        wet = self.wetness > 1.2
        self.precipitation_mm = np.where(wet, np.round(np.minimum((self.wetness - 1.2) * 4.0, 40.0), 2), 0.0)
        dry_condition = np.where(self.wetness > 0.9, 3, np.where(self.wetness > 0.3, 1, 0))  # fog, cloudy, clear
        self.condition = np.where(wet, np.where(self.temperature_c < 1.0, 4, 2), dry_condition)  # snow, rain
        self.humidity_pct = np.round(np.clip(55 + 25 * self.wetness, 20.0, 100.0), 1)


class Fleet:
    def __init__(self, config: FleetConfig, route: Route | None = None, validate: bool = True) -> None:
        self.config = config
        self.route = route or Route()
        self.validate = validate
        n = config.vehicles
        self.cameras = self.route.cameras(config.camera_spacing_km)
        self._camera_km = np.array([c.route_km for c in self.cameras])
        self._cameras = {
            "camera_id": _text([c.camera_id for c in self.cameras]),
            "lat": np.array([c.lat for c in self.cameras]),
            "lon": np.array([c.lon for c in self.cameras]),
        }
        self._start_epoch = config.start.timestamp()
        self.start_epoch_ms = round(self._start_epoch * 1000)
        # Ids are stable for one seed and start (a replay gives the same ids) and differ between
        # runs: two `make stream` runs into one lake must not share event or incident ids.
        self._run_stamp = f"{config.seed}-{config.start.astimezone(UTC):%Y%m%dT%H%M%S}"
        self.ids = EventIds(self._run_stamp)

        self.vehicle_ids = [f"vehicle-{i + 1:05d}" for i in range(n)]
        self.keys = [v.encode() for v in self.vehicle_ids]
        self.vehicle_id_column = pa.array(self.vehicle_ids, pa.string())
        rng = _rng(config.seed, "vehicles")
        spacing = config.departure_window_s / n
        self.depart_s = np.arange(n) * spacing + rng.uniform(0, spacing * 0.5, n)
        model = rng.integers(0, len(_MODELS), n)
        self._descriptive = {
            "make": pa.array([_MODELS[m][0] for m in model], pa.string()),
            "model": pa.array([_MODELS[m][1] for m in model], pa.string()),
            "fuel_type": pa.array([_MODELS[m][2] for m in model], pa.string()),
            "model_year": rng.integers(2012, 2027, n),
            "vehicle_type": pa.array([_VEHICLE_TYPES[k] for k in rng.integers(0, len(_VEHICLE_TYPES), n)], pa.string()),
        }
        # Which vehicles have had the upgrade: a fixed draw of its own, so the rest of the world
        # does not depend on it; per event type, the version each vehicle writes.
        upgraded = _rng(config.seed, "upgrade").permutation(n) < round(config.upgraded_share * n)
        device = np.where(upgraded, config.schema_version, 1)
        self.versions = {
            et.name: np.array([et.written_by(d) for d in range(NEWEST_VERSION + 1)])[device] for et in EVENT_TYPES
        }
        self._writes_newer = {name: bool((v > 1).any()) for name, v in self.versions.items()}
        self._odometer_base_km = np.round(_rng(config.seed, "odometer").uniform(2_000, 180_000, n), 1)
        self._hot_engine = _rng(config.seed, "engines").random(n) < 0.03  # a failing thermostat
        self._sensor_rng = _rng(config.seed, "version-2-sensors")
        self.driver_factor = rng.uniform(0.9, 1.1, n)
        self.phase_ms = rng.integers(0, max(int(config.tick_s * 1000), 1), n)
        self.fuel = rng.uniform(55, 100, n)
        self.km = np.zeros(n)
        self.speed = np.zeros(n)
        self.arrived = np.zeros(n, dtype=bool)
        self.next_weather_s = np.zeros(n)
        self.seq = {et.name: np.zeros(n, dtype=np.int64) for et in EVENT_TYPES}
        self._motion_rng = _rng(config.seed, "motion")
        self._gps_rng = _rng(config.seed, "gps")
        self._incident_rng = _rng(config.seed, "incidents")

        self._cumulative_km = np.asarray(self.route.cumulative_km)
        self._waypoints = np.asarray(self.route.waypoints)
        self._headings = np.asarray(self.route.headings)
        stretches = self.route.stretches
        self._stretch_end_km = np.array([s.end_km for s in stretches])
        self._free_flow_kmh = np.array([s.free_flow_kmh for s in stretches])
        self._regions = _text([s.region for s in stretches])
        self._weather = _Weather(config.seed, len(stretches))
        self._next_weather_update_s = 0.0

        self.open_incidents: list[Incident] = []
        self._incident_km = np.empty(0)  # open incidents sorted by route km, for the slowdown
        self._incident_severity = np.empty(0, dtype=np.int64)
        self._incident_seq = 0

    # -- identities and times ---------------------------------------------------------------

    def next_seq(self, stream: str, vehicle: np.ndarray) -> np.ndarray:
        """The sequence numbers of these vehicles' next events in one stream (and advance them)."""
        seq = self.seq[stream]
        numbers = seq[vehicle]
        np.add.at(seq, vehicle, 1)
        if (seq[vehicle] - numbers > 1).any():  # a vehicle twice (two cameras in one tick)
            order = np.argsort(vehicle, kind="stable")
            ranks = np.empty_like(order)
            ranks[order] = np.arange(len(order)) - np.searchsorted(vehicle[order], vehicle[order])
            numbers = numbers + ranks
        return numbers

    def _batches(self, et: EventType, vehicle: np.ndarray, epoch_ms: np.ndarray, columns: dict) -> list[Batch]:
        """The events as one batch per version their vehicles write, each with that version's fields."""
        seq = self.next_seq(et.name, vehicle)
        versions = self.versions[et.name][vehicle]
        numbers = np.unique(versions).tolist()
        if len(numbers) == 1:
            view = et.at(numbers[0])
            names = set(view.field_names)
            return [Batch(view, vehicle, seq, epoch_ms, {k: v for k, v in columns.items() if k in names}, self)]
        batches = []
        for number in numbers:
            view = et.at(number)
            names = set(view.field_names)
            rows = np.flatnonzero(versions == number)
            picked = {k: _rows(v, rows) for k, v in columns.items() if k in names}
            batches.append(Batch(view, vehicle[rows], seq[rows], epoch_ms[rows], picked, self))
        return batches

    # -- the world --------------------------------------------------------------------------

    def _positions(self, km: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cumulative, waypoints = self._cumulative_km, self._waypoints
        km = np.clip(km, 0.0, self.route.length_km)
        segment = np.clip(np.searchsorted(cumulative, km, side="right") - 1, 0, len(waypoints) - 2)
        start, end = cumulative[segment], cumulative[segment + 1]
        share = np.where(end > start, (km - start) / np.where(end > start, end - start, 1.0), 0.0)
        a, b = waypoints[segment], waypoints[segment + 1]
        lat = a[:, 0] + share * (b[:, 0] - a[:, 0])
        lon = a[:, 1] + share * (b[:, 1] - a[:, 1])
        return lat, lon, self._headings[segment]

    def incident_slowdown(self, km: np.ndarray) -> np.ndarray:
        """Speed factor of vehicles at ``km``: queueing behind an open incident or just passing it."""
        if not len(self._incident_km):
            return np.ones(len(km))
        nearest = np.searchsorted(self._incident_km, km - 0.2)
        found = nearest < len(self._incident_km)
        nearest = np.minimum(nearest, len(self._incident_km) - 1)
        near = found & (self._incident_km[nearest] <= km + 3.0)
        factor = np.where(self._incident_severity[nearest] >= 3, 0.35, 0.6)
        return np.where(near, factor, 1.0)

    def open_incident(self, incident: Incident) -> None:
        self.open_incidents.append(incident)
        self._index_incidents()

    def _index_incidents(self) -> None:
        order = sorted(self.open_incidents, key=lambda i: i.route_km)
        self._incident_km = np.array([i.route_km for i in order])
        self._incident_severity = np.array([i.severity for i in order], dtype=np.int64)

    def _new_incidents(self, reporters: np.ndarray, t: float) -> list[Incident]:
        r, found = self._incident_rng, []
        for vehicle in reporters.tolist():
            km = min(self.km[vehicle] + r.uniform(0.5, 5.0), self.route.length_km)
            lat, lon, _ = self.route.position(km)
            self._incident_seq += 1
            found.append(
                Incident(
                    incident_id=f"INC-{self._run_stamp}-{self._incident_seq:06d}",
                    reporter=vehicle,
                    incident_type=_INCIDENT_TYPES[r.integers(len(_INCIDENT_TYPES))],
                    severity=int(r.integers(1, 6)),
                    route_km=round(km, 3),
                    lat=round(lat, 6),
                    lon=round(lon, 6),
                    opened_s=t,
                    resolves_s=t + r.uniform(300, 3600),
                )
            )
        return found

    def _incident_batch(self, incidents: list[Incident], status: str, t: float) -> list[Batch]:
        epoch_ms = np.full(len(incidents), round((self._start_epoch + t) * 1000), dtype=np.int64)
        active = status == "active"
        columns = {
            "incident_id": _text([i.incident_id for i in incidents]),
            "incident_type": _text([i.incident_type for i in incidents]),
            "status": status,
            "severity": np.array([i.severity for i in incidents], dtype=np.int64),
            "lat": np.array([i.lat for i in incidents]),
            "lon": np.array([i.lon for i in incidents]),
            "route_km": np.array([i.route_km for i in incidents]),
            "description": _text([_DESCRIPTIONS[i.incident_type] if active else "Cleared" for i in incidents]),
        }
        reporters = np.array([i.reporter for i in incidents], dtype=np.int64)
        return self._batches(EMERGENCY, reporters, epoch_ms, columns)

    def _tick(self, t: float) -> Tick:
        cfg, route, n = self.config, self.route, self.config.vehicles
        batches: list[Batch] = []
        if t >= self._next_weather_update_s:
            self._weather.update(self._start_epoch + t)
            self._next_weather_update_s = t + cfg.weather_every_s
        resolved = [i for i in self.open_incidents if i.resolves_s <= t]
        if resolved:
            self.open_incidents = [i for i in self.open_incidents if i.resolves_s > t]
            self._index_incidents()
            batches += self._incident_batch(resolved, "resolved", t)

        # Every draw is made for every vehicle, moving or not: a vehicle's numbers do not depend
        # on when the others depart or arrive.
        motion, gps_rng = self._motion_rng, self._gps_rng
        speed_noise = motion.normal(0, 1.5, n)
        incident_draw = self._incident_rng.random(n)
        accuracy = np.round(gps_rng.uniform(2.0, 8.0, n), 1)
        gps_noise = gps_rng.normal(0, 1, (4, n))
        sensor_noise = motion.normal(0, 0.2, n)  # the weather sensor's own error
        # What version-2 devices also report: drawn only when some vehicle writes version 2.
        sensors = self._sensor_rng
        engine_noise = sensors.normal(0, 1.5, n) if self._writes_newer["vehicle"] else None
        satellites = sensors.integers(5, 15, n) if self._writes_newer["gps"] else None

        moving = ~self.arrived & (t >= self.depart_s)
        stretch = np.minimum(np.searchsorted(self._stretch_end_km, self.km), len(self._stretch_end_km) - 1)
        w = self._weather
        target = (
            self._free_flow_kmh[stretch]
            * self.driver_factor
            * _WEATHER_SPEED[w.condition[stretch]]
            * self.incident_slowdown(self.km)
        )
        speed = np.clip(self.speed + 0.3 * (target - self.speed) + speed_noise, 0.0, 160.0)
        previous_km = self.km
        km = np.minimum(self.km + speed * cfg.tick_s / 3600.0, route.length_km)
        arrives = moving & (km >= route.length_km)
        speed = np.where(arrives, 0.0, speed)
        fuel = np.maximum(self.fuel - speed * cfg.tick_s / 3600.0 * 0.012, 0.0)
        self.speed = np.where(moving, speed, self.speed)
        self.km = np.where(moving, km, self.km)
        self.fuel = np.where(moving, fuel, self.fuel)
        self.arrived |= arrives

        if not moving.any():
            return Tick(t, cfg.tick_s, batches)
        v = np.flatnonzero(moving)
        at_km, lat, lon, heading = self.km[v], *self._positions(self.km[v])
        epoch_ms = np.int64(int((self._start_epoch + t) * 1000)) + self.phase_ms[v]
        speed_kmh = np.round(self.speed[v], 2)
        heading_deg = np.round(heading, 1)
        telemetry = {
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "route_km": np.round(at_km, 3),
            "speed_kmh": speed_kmh,
            "heading_deg": heading_deg,
            "fuel_level_pct": np.round(self.fuel[v], 2),
            **{k: self._take(k, v) for k in ("make", "model", "model_year", "fuel_type")},
        }
        if engine_noise is not None:
            telemetry["odometer_km"] = np.round(self._odometer_base_km[v] + at_km, 1)
            # Coolant warms with load; a failing thermostat runs some 25 degrees hotter.
            hot = np.where(self._hot_engine[v], 25.0, 0.0)
            telemetry["engine_temp_c"] = np.round(84 + 0.06 * speed_kmh + hot + engine_noise[v], 1)
        batches += self._batches(VEHICLE, v, epoch_ms, telemetry)
        # The GPS fix is the same position seen through a receiver: metres of noise.
        noise_deg = accuracy[v] / 111_000
        fix = {
            "lat": np.round(lat + gps_noise[0, v] * noise_deg, 6),
            "lon": np.round(lon + gps_noise[1, v] * noise_deg, 6),
            "speed_kmh": np.round(np.maximum(self.speed[v] + 0.5 * gps_noise[2, v], 0.0), 2),
            "heading_deg": heading_deg,
            "altitude_m": np.round(40 + 60 * np.sin(at_km / 23.0) + 2 * gps_noise[3, v], 1),
            "accuracy_m": accuracy[v],
            "vehicle_type": self._take("vehicle_type", v),
        }
        if satellites is not None:
            fix["satellites"] = satellites[v]
        batches += self._batches(GPS, v, epoch_ms, fix)

        # Cameras between where each vehicle was and where it is now saw it pass.
        first = np.searchsorted(self._camera_km, previous_km[v], side="right")
        passed = np.searchsorted(self._camera_km, at_km, side="right") - first
        if passed.any():
            seen = np.repeat(np.arange(len(v)), passed)
            camera = np.repeat(first, passed) + np.arange(len(seen)) - np.repeat(np.cumsum(passed) - passed, passed)
            batches.extend(
                self._batches(
                    TRAFFIC,
                    v[seen],
                    epoch_ms[seen],
                    {
                        "camera_id": self._cameras["camera_id"][camera],
                        "lat": self._cameras["lat"][camera],
                        "lon": self._cameras["lon"][camera],
                        "route_km": self._camera_km[camera],
                        "speed_kmh": speed_kmh[seen],
                        "snapshot_uri": self._snapshot_uris(camera, epoch_ms[seen], v[seen]),
                    },
                )
            )

        due = t >= self.next_weather_s[v]
        if due.any():
            d = np.flatnonzero(due)
            self.next_weather_s[v[d]] = t + cfg.weather_every_s
            region = stretch[v[d]]
            batches.extend(
                self._batches(
                    WEATHER,
                    v[d],
                    epoch_ms[d],
                    {
                        "lat": np.round(lat[d], 6),
                        "lon": np.round(lon[d], 6),
                        "region": self._regions[region],
                        "temperature_c": np.round(w.temperature_c[region] + sensor_noise[v[d]], 1),
                        "condition": _CONDITION_TEXT[w.condition[region]],
                        "precipitation_mm": w.precipitation_mm[region],
                        "wind_speed_kmh": w.wind_kmh[region],
                        "humidity_pct": w.humidity_pct[region],
                        "air_quality_index": w.aqi[region],
                    },
                )
            )

        p = cfg.incidents_per_vehicle_hour * cfg.tick_s / 3600.0
        reporters = np.flatnonzero(moving & ~self.arrived & (incident_draw < p))
        if len(reporters):
            opened = self._new_incidents(reporters, t)
            self.open_incidents.extend(opened)
            self._index_incidents()
            batches += self._incident_batch(opened, "active", t)
        return Tick(t, cfg.tick_s, batches)

    def _take(self, name: str, vehicles: np.ndarray) -> Column:
        column = self._descriptive[name]
        # Text is kept in Arrow: taking from it beats converting Python strings at encode time.
        return column.take(vehicles) if isinstance(column, pa.Array) else column[vehicles]

    def _snapshot_uris(self, camera: np.ndarray, epoch_ms: np.ndarray, vehicle: np.ndarray) -> np.ndarray:
        ids = self._cameras["camera_id"]
        return _text(
            [
                f"s3://smartcity-snapshots/{ids[c]}/{ms}-{self.vehicle_ids[i]}.jpg"
                for c, ms, i in zip(camera.tolist(), epoch_ms.tolist(), vehicle.tolist(), strict=True)
            ]
        )

    def ticks(self, duration_s: float | None = None) -> Iterator[Tick]:
        """Tick by tick until every vehicle arrived and every incident resolved, or until
        ``duration_s`` of event time has passed."""
        tick_s, step = self.config.tick_s, 0
        while True:
            t = step * tick_s
            if duration_s is not None and t >= duration_s:
                return
            if self.arrived.all() and not self.open_incidents:
                return
            yield self._tick(t)
            step += 1

    def run(self, duration_s: float | None = None) -> Iterator[Emitted]:
        """The events of ``ticks()`` one by one, encoded a few thousand at a time: within such a
        group, a stream's events come before the next stream's."""
        return self.events(self.ticks(duration_s), group_events=GROUP_EVENTS)

    def events(self, ticks: Iterable[Tick], group_events: int = 0) -> Iterator[Emitted]:
        ids = self.vehicle_ids
        for group in tick_groups(ticks, group_events):
            for batch in Tick.merge(group):
                values = batch.encode(self.validate)
                times = batch.event_time_s.tolist()
                for i, vehicle in enumerate(batch.vehicle.tolist()):
                    yield Emitted(batch.event_type, ids[vehicle], times[i], values[i])


def tick_groups(ticks: Iterable[Tick], min_events: int) -> Iterator[list[Tick]]:
    """Consecutive ticks in groups of at least ``min_events`` events (0: one tick a group)."""
    group, size = [], 0
    for tick in ticks:
        group.append(tick)
        size += len(tick)
        if size >= min_events:
            yield group
            group, size = [], 0
    if group:
        yield group
