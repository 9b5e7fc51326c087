from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import timedelta

import numpy as np
import orjson
import pyarrow as pa
import pytest

from contract.validate import validator_for
from ingestion.fleet import COLUMN_ENCODING_MIN, Fleet, FleetConfig, Incident, Tick
from ingestion.route import Route, haversine_km
from tests.conftest import START

ROUTE = Route()


@pytest.fixture(scope="module")
def full_trip() -> tuple[Fleet, list]:
    """A whole trip, coarse ticks to keep it quick: every vehicle must arrive in New York."""
    fleet = Fleet(FleetConfig(vehicles=12, seed=3, start=START, tick_s=10.0, incidents_per_vehicle_hour=4))
    return fleet, list(fleet.run())


def test_route_is_a_road_polyline_between_the_two_ends() -> None:
    assert ROUTE.position(0)[:2] == (42.3399, -71.0899)
    assert ROUTE.position(ROUTE.length_km)[:2] == (40.7580, -73.9855)
    straight = haversine_km((42.3399, -71.0899), (40.7580, -73.9855))
    assert 300 < ROUTE.length_km < 420 and ROUTE.length_km > straight * 1.05
    assert len(ROUTE.waypoints) > 30


def per_vehicle(events: list, event_type: str, field: str) -> dict[str, list]:
    """Each vehicle's values of ``field`` in its events of ``event_type``, in the order sent."""
    found = defaultdict(list)
    for ev in events:
        if ev.event_type.name == event_type:
            found[ev.vehicle_id].append(ev.body[field])
    return found


def test_vehicles_progress_monotonically_and_arrive(full_trip: tuple[Fleet, list]) -> None:
    fleet, events = full_trip
    km_by_vehicle = per_vehicle(events, "vehicle", "route_km")
    assert len(km_by_vehicle) == 12
    for kms in km_by_vehicle.values():
        assert all(b >= a for a, b in itertools.pairwise(kms))
        assert kms[-1] == pytest.approx(ROUTE.length_km, abs=1e-3)
    assert fleet.arrived.all()


def test_departures_are_staggered(full_trip: tuple[Fleet, list]) -> None:
    _, events = full_trip
    first_seen = {}
    for ev in events:
        first_seen.setdefault(ev.vehicle_id, ev.event_time_s)
    assert len(set(round(t) for t in first_seen.values())) >= 10


def test_speeds_are_plausible_and_vary_by_stretch(full_trip: tuple[Fleet, list]) -> None:
    _, events = full_trip
    by_region = defaultdict(list)
    for ev in events:
        if ev.event_type.name == "vehicle":
            speed = ev.body["speed_kmh"]
            assert 0 <= speed <= 160
            by_region[ROUTE.stretch(ev.body["route_km"]).region].append(speed)
    mean = {r: sum(v) / len(v) for r, v in by_region.items()}
    assert mean["Manhattan"] < 50 < mean["Metrowest-Worcester"] < 130


def test_gps_and_vehicle_positions_agree() -> None:
    events = list(Fleet(FleetConfig(vehicles=5, seed=1, start=START)).run(900))
    vehicle = {(e.vehicle_id, e.body["event_time"]): e.body for e in events if e.event_type.name == "vehicle"}
    gps = [e.body for e in events if e.event_type.name == "gps"]
    assert len(gps) == len(vehicle) > 1000
    for g in gps:
        v = vehicle[(g["vehicle_id"], g["event_time"])]
        assert haversine_km((g["lat"], g["lon"]), (v["lat"], v["lon"])) < 0.05  # within 50 m


def test_incidents_open_before_they_resolve(full_trip: tuple[Fleet, list]) -> None:
    _, events = full_trip
    lifecycle = defaultdict(list)
    for ev in events:
        if ev.event_type.name == "emergency":
            lifecycle[ev.body["incident_id"]].append((ev.event_time_s, ev.body["status"]))
    assert len(lifecycle) >= 5
    for steps in lifecycle.values():
        assert [s for _, s in steps] == ["active", "resolved"]
        assert steps[0][0] < steps[1][0]


def test_vehicles_slow_down_near_active_incidents() -> None:
    fleet = Fleet(FleetConfig(vehicles=1, seed=5, start=START, incidents_per_vehicle_hour=0))
    at = np.array([100.0, 50.0])
    assert fleet.incident_slowdown(at).tolist() == [1.0, 1.0]
    fleet.open_incident(Incident("INC-x", 0, "accident", 4, 101.0, 0, 0, 0, 1e9))
    slowed, elsewhere = fleet.incident_slowdown(at).tolist()
    assert slowed < 0.5 and elsewhere == 1.0


def test_cameras_report_vehicles_passing_their_position(full_trip: tuple[Fleet, list]) -> None:
    fleet, events = full_trip
    seen = per_vehicle(events, "traffic", "camera_id")
    # Every vehicle drove the whole route, so every camera saw every vehicle exactly once.
    assert all(sorted(cams) == sorted(c.camera_id for c in fleet.cameras) for cams in seen.values())
    assert len(seen) == 12


def test_weather_varies_along_the_route_and_over_time(full_trip: tuple[Fleet, list]) -> None:
    _, events = full_trip
    weather = [e.body for e in events if e.event_type.name == "weather"]
    assert len({w["region"] for w in weather}) >= 8
    assert len({w["temperature_c"] for w in weather}) > 20
    assert not any(math.isnan(w["precipitation_mm"]) for w in weather)


def test_same_seed_same_events_other_seed_other_events() -> None:
    def run(seed: int) -> list:
        return [(e.event_type.name, e.body) for e in Fleet(FleetConfig(vehicles=8, seed=seed, start=START)).run(300)]

    first, again, other = run(11), run(11), run(12)
    assert first == again
    assert [b["event_id"] for _, b in first] != [b["event_id"] for _, b in other]
    ids = [b["event_id"] for _, b in first]
    assert len(ids) == len(set(ids))


def test_runs_started_at_other_times_share_no_event_or_incident_id() -> None:
    """Two `make stream` runs (same default seed, later start) land in one lake: de-duplication
    on event_id must not take the second run's events for copies of the first's."""

    def ids(start) -> tuple[set, set]:
        config = FleetConfig(vehicles=6, seed=42, start=start, incidents_per_vehicle_hour=40)
        bodies = [e.body for e in Fleet(config).run(600)]
        return {b["event_id"] for b in bodies}, {b["incident_id"] for b in bodies if "incident_id" in b}

    (events, incidents), (later_events, later_incidents) = ids(START), ids(START + timedelta(hours=1))
    assert incidents and later_incidents
    assert not events & later_events and not incidents & later_incidents
    assert ids(START) == (events, incidents)


def test_large_fleet_runs() -> None:
    fleet = Fleet(FleetConfig(vehicles=10_000, seed=2, start=START, departure_window_s=60))
    events = list(fleet.run(30))
    vehicles = {e.vehicle_id for e in events}
    assert len(vehicles) > 4_000
    assert len({e.body["event_id"] for e in events}) == len(events)


def test_a_big_tick_encoded_as_columns_equals_the_same_events_encoded_row_by_row() -> None:
    """The column encoder (a big tick) and the row encoder (a small one) give the same JSON
    values, and every event passes the contract's per-event validator."""
    fleet = Fleet(FleetConfig(vehicles=3000, seed=4, start=START, departure_window_s=1, incidents_per_vehicle_hour=50))
    ticks = [fleet._tick(float(t)) for t in range(3)]
    batches = Tick.merge(ticks)
    assert {b.event_type.name for b in batches} >= {"vehicle", "gps", "weather", "emergency"}
    for batch in batches:
        if len(batch) < COLUMN_ENCODING_MIN:
            continue
        columns = batch.encode(validate=True)
        by_rows = []
        for start in range(0, len(batch), COLUMN_ENCODING_MIN - 1):
            part = _slice(batch, start, start + COLUMN_ENCODING_MIN - 1)
            by_rows += part.encode(validate=True)
        assert [orjson.loads(v) for v in columns] == [orjson.loads(v) for v in by_rows], batch.event_type.name
        check = validator_for(batch.event_type.name).check
        for value in columns:
            check(orjson.loads(value))
            assert b'":nan' not in value and b'":inf' not in value


def _slice(batch, start: int, stop: int):
    from ingestion.fleet import Batch

    cut = {k: v[start:stop] if isinstance(v, np.ndarray | pa.Array) else v for k, v in batch.columns.items()}
    return Batch(
        batch.event_type, batch.vehicle[start:stop], batch.seq[start:stop], batch.epoch_ms[start:stop], cut, batch.fleet
    )


def test_doubles_stay_doubles_in_the_json() -> None:
    """A whole number in a double field is written 2.0, not 2, by both encoders."""
    weather = [e for e in Fleet(FleetConfig(vehicles=2000, seed=1, start=START, departure_window_s=1)).run(2)]
    dry = [e.value for e in weather if e.event_type.name == "weather" and e.body["precipitation_mm"] == 0]
    assert len(dry) > COLUMN_ENCODING_MIN
    assert all(b'"precipitation_mm":0.0,' in v for v in dry)


def test_memory_stays_flat_over_a_long_run() -> None:
    """The fleet's state is arrays of one slot per vehicle: twenty minutes of ticks add nothing."""
    import tracemalloc

    fleet = Fleet(FleetConfig(vehicles=500, seed=6, start=START, departure_window_s=10))
    ticks = fleet.ticks(3600)
    for _ in range(60):
        next(ticks)
    tracemalloc.start()
    for _ in range(300):
        next(ticks)
    early, _ = tracemalloc.get_traced_memory()
    for _ in range(900):
        next(ticks)
    late, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert late - early < 1_000_000, (early, late)


def versions_by_vehicle(events: list) -> dict[tuple[str, str], set[int]]:
    found: dict[tuple[str, str], set[int]] = defaultdict(set)
    for ev in events:
        found[ev.event_type.name, ev.vehicle_id].add(ev.body["schema_version"])
    return found


def test_a_rolling_upgrade_puts_a_share_of_the_fleet_on_the_newest_version() -> None:
    config = FleetConfig(vehicles=40, seed=5, start=START, departure_window_s=30, upgraded_share=0.25)
    events = list(Fleet(config).run(120))
    by_vehicle = versions_by_vehicle(events)
    assert all(len(v) == 1 for v in by_vehicle.values()), "a vehicle writes one version"
    upgraded = {vehicle for (stream, vehicle), v in by_vehicle.items() if stream == "vehicle" and v == {2}}
    assert len(upgraded) == 10
    assert {vehicle for (stream, vehicle), v in by_vehicle.items() if stream == "gps" and v == {2}} == upgraded
    for ev in events:
        body = ev.body
        validator_for(ev.event_type.name).check(body)
        if ev.event_type.name in ("vehicle", "gps") and ev.vehicle_id in upgraded:
            added = {"vehicle": {"odometer_km", "engine_temp_c"}, "gps": {"satellites"}}[ev.event_type.name]
            assert body["schema_version"] == 2 and added <= set(body)
        else:  # the oldest version, which has no such fields (traffic and weather have one version)
            assert body["schema_version"] == 1
            assert not {"odometer_km", "engine_temp_c", "satellites"} & set(body)


def test_version_2_readings_are_plausible() -> None:
    events = list(Fleet(FleetConfig(vehicles=60, seed=8, start=START, departure_window_s=30)).run(300))
    odometers: dict[str, list[float]] = defaultdict(list)
    temperatures = []
    for ev in events:
        if ev.event_type.name == "vehicle":
            odometers[ev.vehicle_id].append(ev.body["odometer_km"])
            temperatures.append(ev.body["engine_temp_c"])
        elif ev.event_type.name == "gps":
            assert 5 <= ev.body["satellites"] < 15
    assert all(readings == sorted(readings) for readings in odometers.values()), "odometers only count up"
    assert 80 < float(np.median(temperatures)) < 100
    assert max(temperatures) > 105, "a few engines run hot"


def test_schema_version_1_writes_only_the_first_version() -> None:
    events = list(Fleet(FleetConfig(vehicles=10, seed=5, start=START, schema_version=1)).run(60))
    assert {ev.body["schema_version"] for ev in events} == {1}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"schema_version": 3}, "--schema-version must be one of 1, 2, got 3"),
        ({"upgraded_share": 1.5}, "--upgraded-share must be between 0 and 1, got 1.5"),
    ],
)
def test_a_version_the_contract_does_not_have_is_refused(settings: dict, message: str) -> None:
    from contract.errors import InvalidSetting

    with pytest.raises(InvalidSetting, match=message):
        FleetConfig(start=START, **settings)
