from __future__ import annotations

import itertools
from collections import Counter

import orjson

from contract import validator_for
from ingestion.faults import MALFORMED_KINDS, FaultConfig, FaultInjector
from ingestion.fleet import Fleet, FleetConfig
from tests.conftest import START


def _run(**rates: float) -> tuple[FaultInjector, list, list]:
    events = list(Fleet(FleetConfig(vehicles=10, seed=9, start=START)).run(600))
    injector = FaultInjector(FaultConfig(seed=9, **rates))
    return injector, events, list(injector.apply(events))


def test_no_faults_means_one_record_per_event_in_order() -> None:
    injector, events, records = _run()
    assert [orjson.loads(r.value)["event_id"] for r in records] == [e.body["event_id"] for e in events]
    assert injector.counts.late == injector.counts.duplicates == 0


def test_duplicates_are_resent_with_the_same_id_and_counted() -> None:
    injector, events, records = _run(duplicate_rate=0.05)
    assert injector.counts.duplicates > 50
    assert len(records) == len(events) + injector.counts.duplicates
    ids = Counter(orjson.loads(r.value)["event_id"] for r in records)
    assert sum(n - 1 for n in ids.values()) == injector.counts.duplicates


def test_late_events_arrive_after_later_events_but_all_arrive() -> None:
    injector, events, records = _run(late_rate=0.02)
    assert injector.counts.late > 20
    sent = [orjson.loads(r.value)["event_time"] for r in records]
    out_of_order = sum(1 for a, b in itertools.pairwise(sent) if b < a)
    assert out_of_order >= injector.counts.late * 0.9
    assert sorted(orjson.loads(r.value)["event_id"] for r in records) == sorted(e.body["event_id"] for e in events)


def test_malformed_events_fail_validation_with_a_reason_and_are_counted() -> None:
    injector, _events, records = _run(malformed_rate=0.03)
    malformed = injector.counts.malformed
    assert set(malformed) == set(MALFORMED_KINDS)
    invalid = Counter()
    for r in records:
        _, reason = validator_for(r.stream).parse(r.value)
        if reason:
            kind = reason.split(":")[0]
            invalid[kind] += 1
    assert sum(invalid.values()) == sum(malformed.values())
    assert invalid["invalid JSON"] == malformed["invalid_json"]
    assert invalid["vehicle_id"] == malformed["missing_field"]
    assert invalid["schema_version"] == malformed["out_of_range"]
    assert invalid["event_time"] == malformed["wrong_type"]
