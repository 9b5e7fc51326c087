"""The simulated world: vehicles on the route, roadside cameras, regional weather, incidents.

``Fleet.run()`` advances event time tick by tick and yields every event in event-time
order. Everything random comes from generators seeded by ``--seed`` (one per vehicle,
one per region, one for incidents), so the same seed and start give the same events.
"""

from __future__ import annotations

import bisect
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import sha1

from contract.events import EMERGENCY, GPS, SCHEMA_VERSION, TRAFFIC, VEHICLE, WEATHER, EventType
from ingestion.route import Camera, Route

_ID_NAMESPACE = uuid.UUID("6f1c3a52-9a7e-4d38-9b1e-5a3c2e7d8f10")

_MODELS = (
    ("Toyota", "Camry", "hybrid"),
    ("Honda", "Accord", "gasoline"),
    ("Ford", "F-150", "gasoline"),
    ("Tesla", "Model 3", "electric"),
    ("Chevrolet", "Bolt", "electric"),
    ("Ram", "ProMaster", "diesel"),
    ("Subaru", "Outback", "gasoline"),
    ("Volvo", "VNL", "diesel"),
    ("Hyundai", "Ioniq 5", "electric"),
)
_VEHICLE_TYPES = ("private", "private", "private", "taxi", "truck", "bus", "emergency")
_INCIDENT_TYPES = ("accident", "accident", "road_hazard", "medical", "police", "fire")
_DESCRIPTIONS = {
    "accident": "Collision blocking a lane",
    "road_hazard": "Debris on the roadway",
    "medical": "Driver needs medical assistance",
    "police": "Police activity on the shoulder",
    "fire": "Vehicle fire on the shoulder",
}
# Speed factor per weather condition: drivers slow down in rain, snow and fog.
_WEATHER_SPEED = {"clear": 1.0, "cloudy": 1.0, "rain": 0.85, "fog": 0.8, "snow": 0.6}


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


@dataclass(slots=True)
class Emitted:
    """One event ready to be sent: its type, key (vehicle id) and body."""

    event_type: EventType
    vehicle_id: str
    event_time_s: float
    body: dict


@dataclass(slots=True)
class _Vehicle:
    vehicle_id: str
    rng: random.Random
    depart_s: float
    make: str
    model: str
    fuel_type: str
    model_year: int
    vehicle_type: str
    driver_factor: float
    phase_ms: int
    km: float = 0.0
    speed: float = 0.0
    fuel: float = 100.0
    next_weather_s: float = 0.0
    arrived: bool = False
    seq: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Incident:
    incident_id: str
    reporter: str
    incident_type: str
    severity: int
    route_km: float
    lat: float
    lon: float
    opened_s: float
    resolves_s: float


@dataclass(slots=True)
class _RegionWeather:
    rng: random.Random
    base_temp_c: float
    wetness: float = 0.0  # hidden AR(1) state; > thresholds means precipitation
    condition: str = "clear"
    temperature_c: float = 0.0
    precipitation_mm: float = 0.0
    wind_kmh: float = 10.0
    humidity_pct: float = 60.0
    aqi: int = 40


_NAMESPACE_BYTES = _ID_NAMESPACE.bytes
_VARIANT = "89ab"


def uuid5(name: str) -> str:
    """``str(uuid.uuid5(_ID_NAMESPACE, name))`` without the UUID object (3x faster, same value)."""
    h = sha1(_NAMESPACE_BYTES + name.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


class _Timestamps:
    """Fast ISO-8601 UTC formatting with millisecond precision (strftime per event is slow)."""

    def __init__(self) -> None:
        self._second: int | None = None
        self._prefix = ""

    def format(self, epoch_ms: int) -> str:
        second, ms = divmod(epoch_ms, 1000)
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{ms:03d}Z"


class Fleet:
    def __init__(self, config: FleetConfig, route: Route | None = None) -> None:
        self.config = config
        self.route = route or Route()
        self.cameras: tuple[Camera, ...] = self.route.cameras(config.camera_spacing_km)
        self._camera_km = [c.route_km for c in self.cameras]
        self._start_epoch = config.start.timestamp()
        # Ids are stable for one seed and start (a replay gives the same ids) and differ between
        # runs: two `make stream` runs into one lake must not share event or incident ids.
        self._run_stamp = f"{config.seed}-{config.start.astimezone(UTC):%Y%m%dT%H%M%S}"
        self._timestamps = _Timestamps()
        self._incident_rng = random.Random(f"{config.seed}/incidents")
        self.vehicles = [self._new_vehicle(i) for i in range(config.vehicles)]
        self.open_incidents: list[Incident] = []
        self._incident_seq = 0
        self._regions = {
            s.region: _RegionWeather(random.Random(f"{config.seed}/weather/{s.region}"), 7.0 - 2.5 * i / 8)
            for i, s in enumerate(self.route.stretches)
        }
        self._next_weather_update_s = 0.0

    def _new_vehicle(self, index: int) -> _Vehicle:
        cfg = self.config
        rng = random.Random(f"{cfg.seed}/vehicle/{index}")
        make, model, fuel_type = rng.choice(_MODELS)
        spacing = cfg.departure_window_s / max(cfg.vehicles, 1)
        return _Vehicle(
            vehicle_id=f"vehicle-{index + 1:05d}",
            rng=rng,
            depart_s=index * spacing + rng.uniform(0, spacing * 0.5),
            make=make,
            model=model,
            fuel_type=fuel_type,
            model_year=rng.randint(2012, 2026),
            vehicle_type=rng.choice(_VEHICLE_TYPES),
            driver_factor=rng.uniform(0.9, 1.1),
            phase_ms=rng.randrange(0, int(cfg.tick_s * 1000)),
            fuel=rng.uniform(55, 100),
        )

    # -- identities and times -------------------------------------------------------------

    def _event_id(self, vehicle_id: str, stream: str, seq: int) -> str:
        return uuid5(f"{self._run_stamp}/{vehicle_id}/{stream}/{seq}")

    def _header(self, v_id: str, seq_owner: dict[str, int], et: EventType, epoch_ms: int) -> dict:
        seq = seq_owner.get(et.name, 0)
        seq_owner[et.name] = seq + 1
        return {
            "event_id": self._event_id(v_id, et.name, seq),
            "schema_version": SCHEMA_VERSION,
            "vehicle_id": v_id,
            "event_time": self._timestamps.format(epoch_ms),
        }

    # -- the world -----------------------------------------------------------------------

    def _update_weather(self, t: float) -> None:
        hour_of_day = ((self._start_epoch + t) / 3600.0) % 24
        diurnal = 4.0 * math.sin((hour_of_day - 9) / 24 * 2 * math.pi)
        for w in self._regions.values():
            r = w.rng
            w.wetness = 0.97 * w.wetness + r.gauss(0, 0.25)
            w.temperature_c = round(w.base_temp_c + diurnal + r.gauss(0, 0.3), 1)
            w.wind_kmh = round(min(max(w.wind_kmh + r.gauss(0, 1.5), 0.0), 90.0), 1)
            w.aqi = int(min(max(w.aqi + r.gauss(0, 2), 5), 180))
            if w.wetness > 1.2:
                w.condition = "snow" if w.temperature_c < 1.0 else "rain"
                w.precipitation_mm = round(min((w.wetness - 1.2) * 4.0, 40.0), 2)
            else:
                w.precipitation_mm = 0.0
                w.condition = "fog" if w.wetness > 0.9 else "cloudy" if w.wetness > 0.3 else "clear"
            w.humidity_pct = round(min(max(55 + 25 * w.wetness, 20.0), 100.0), 1)

    def _incident_slowdown(self, km: float) -> float:
        for inc in self.open_incidents:
            ahead = inc.route_km - km
            if -0.2 <= ahead <= 3.0:  # queueing behind it, or just passing it
                return 0.35 if inc.severity >= 3 else 0.6
        return 1.0

    def _maybe_open_incident(self, v: _Vehicle, t: float) -> Incident | None:
        cfg = self.config
        p = cfg.incidents_per_vehicle_hour * cfg.tick_s / 3600.0
        if self._incident_rng.random() >= p:
            return None
        r = self._incident_rng
        km = min(v.km + r.uniform(0.5, 5.0), self.route.length_km)
        lat, lon, _ = self.route.position(km)
        self._incident_seq += 1
        inc = Incident(
            incident_id=f"INC-{self._run_stamp}-{self._incident_seq:06d}",
            reporter=v.vehicle_id,
            incident_type=r.choice(_INCIDENT_TYPES),
            severity=r.randint(1, 5),
            route_km=round(km, 3),
            lat=round(lat, 6),
            lon=round(lon, 6),
            opened_s=t,
            resolves_s=t + r.uniform(300, 3600),
        )
        self.open_incidents.append(inc)
        return inc

    def _incident_event(self, inc: Incident, status: str, t: float, seq_owner: dict[str, int]) -> Emitted:
        epoch_ms = round((self._start_epoch + t) * 1000)
        body = self._header(inc.reporter, seq_owner, EMERGENCY, epoch_ms)
        body.update(
            incident_id=inc.incident_id,
            incident_type=inc.incident_type,
            status=status,
            severity=inc.severity,
            lat=inc.lat,
            lon=inc.lon,
            route_km=inc.route_km,
            description=_DESCRIPTIONS[inc.incident_type] if status == "active" else "Cleared",
        )
        return Emitted(EMERGENCY, inc.reporter, t, body)

    def _step_vehicle(self, v: _Vehicle, t: float) -> Iterator[Emitted]:
        cfg, route, rng = self.config, self.route, v.rng
        stretch = route.stretch(v.km)
        weather = self._regions[stretch.region]
        target = (
            stretch.free_flow_kmh * v.driver_factor * _WEATHER_SPEED[weather.condition] * self._incident_slowdown(v.km)
        )
        v.speed = min(max(v.speed + 0.3 * (target - v.speed) + rng.gauss(0, 1.5), 0.0), 160.0)
        previous_km = v.km
        v.km = min(v.km + v.speed * cfg.tick_s / 3600.0, route.length_km)
        if v.km >= route.length_km:
            v.arrived, v.speed = True, 0.0
        v.fuel = max(v.fuel - v.speed * cfg.tick_s / 3600.0 * 0.012, 0.0)
        lat, lon, heading = route.position(v.km)
        epoch_ms = int((self._start_epoch + t) * 1000) + v.phase_ms
        event_s = t + v.phase_ms / 1000
        speed = round(v.speed, 2)
        seq = v.seq

        body = self._header(v.vehicle_id, seq, VEHICLE, epoch_ms)
        body.update(
            lat=round(lat, 6),
            lon=round(lon, 6),
            route_km=round(v.km, 3),
            speed_kmh=speed,
            heading_deg=round(heading, 1),
            fuel_level_pct=round(v.fuel, 2),
            make=v.make,
            model=v.model,
            model_year=v.model_year,
            fuel_type=v.fuel_type,
        )
        yield Emitted(VEHICLE, v.vehicle_id, event_s, body)

        # The GPS fix is the same position seen through a receiver: metres of noise.
        accuracy = round(rng.uniform(2.0, 8.0), 1)
        noise_deg = accuracy / 111_000
        body = self._header(v.vehicle_id, seq, GPS, epoch_ms)
        body.update(
            lat=round(lat + rng.gauss(0, noise_deg), 6),
            lon=round(lon + rng.gauss(0, noise_deg), 6),
            speed_kmh=round(max(v.speed + rng.gauss(0, 0.5), 0.0), 2),
            heading_deg=round(heading, 1),
            altitude_m=round(40 + 60 * math.sin(v.km / 23.0) + rng.gauss(0, 2), 1),
            accuracy_m=accuracy,
            vehicle_type=v.vehicle_type,
        )
        yield Emitted(GPS, v.vehicle_id, event_s, body)

        lo = bisect.bisect_right(self._camera_km, previous_km)
        hi = bisect.bisect_right(self._camera_km, v.km)
        for cam in self.cameras[lo:hi]:
            body = self._header(v.vehicle_id, seq, TRAFFIC, epoch_ms)
            body.update(
                camera_id=cam.camera_id,
                lat=cam.lat,
                lon=cam.lon,
                route_km=cam.route_km,
                speed_kmh=speed,
                snapshot_uri=f"s3://smartcity-snapshots/{cam.camera_id}/{epoch_ms}-{v.vehicle_id}.jpg",
            )
            yield Emitted(TRAFFIC, v.vehicle_id, event_s, body)

        if t >= v.next_weather_s:
            v.next_weather_s = t + cfg.weather_every_s
            body = self._header(v.vehicle_id, seq, WEATHER, epoch_ms)
            body.update(
                lat=round(lat, 6),
                lon=round(lon, 6),
                region=stretch.region,
                temperature_c=round(weather.temperature_c + rng.gauss(0, 0.2), 1),
                condition=weather.condition,
                precipitation_mm=weather.precipitation_mm,
                wind_speed_kmh=weather.wind_kmh,
                humidity_pct=weather.humidity_pct,
                air_quality_index=weather.aqi,
            )
            yield Emitted(WEATHER, v.vehicle_id, event_s, body)

        if not v.arrived:
            incident = self._maybe_open_incident(v, t)
            if incident is not None:
                yield self._incident_event(incident, "active", t, seq)

    def run(self, duration_s: float | None = None) -> Iterator[Emitted]:
        """Yield events tick by tick until every vehicle arrived and every incident resolved,
        or until ``duration_s`` of event time has passed."""
        cfg = self.config
        t = 0.0
        seq_by_reporter = {v.vehicle_id: v.seq for v in self.vehicles}
        while duration_s is None or t < duration_s:
            if t >= self._next_weather_update_s:
                self._update_weather(t)
                self._next_weather_update_s = t + cfg.weather_every_s
            for inc in [i for i in self.open_incidents if i.resolves_s <= t]:
                self.open_incidents.remove(inc)
                yield self._incident_event(inc, "resolved", t, seq_by_reporter[inc.reporter])
            moving = False
            for v in self.vehicles:
                if v.arrived or t < v.depart_s:
                    moving = moving or not v.arrived
                    continue
                moving = True
                yield from self._step_vehicle(v, t)
            if not moving and not self.open_incidents:
                return
            t += cfg.tick_s
