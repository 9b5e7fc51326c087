"""Event time through the real job (`smartcity stream` as users start it): every UTC offset is
honoured on the fast and the validator path, and impossible clocks go to quarantine."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from ingestion.fleet import Fleet, FleetConfig
from smartcity.broker import EmbeddedBroker, ensure_topics
from tests.conftest import START
from tests.helpers.kafka import send
from tests.helpers.lake import query, relation
from tests.helpers.launch import Launcher

PREFIX = "tz_"
# As sent -> the instant it names. Z and +00:00 take the vectorised path, the others the validator.
TIMES = {
    "2026-11-23T18:59:39-05:00": datetime(2026, 11, 23, 23, 59, 39, tzinfo=UTC),
    "2026-11-23T18:59:39+05:00": datetime(2026, 11, 23, 13, 59, 39, tzinfo=UTC),
    "2026-11-23T08:15:00+05:30": datetime(2026, 11, 23, 2, 45, tzinfo=UTC),
    "2026-11-23T08:15:00.123456-05:00": datetime(2026, 11, 23, 13, 15, 0, 123456, tzinfo=UTC),
    "2026-11-23T08:15:00.5Z": datetime(2026, 11, 23, 8, 15, 0, 500000, tzinfo=UTC),
    "2026-11-23T21:30:00Z": datetime(2026, 11, 23, 21, 30, tzinfo=UTC),
    "2026-11-23T21:45:00+00:00": datetime(2026, 11, 23, 21, 45, tzinfo=UTC),
}
IMPOSSIBLE = {
    "2099-01-01T00:00:00Z": "event_time: {days} days after the broker received it",
    "1970-01-01T00:00:00Z": "event_time: before 2000-01-01",
}


@pytest.fixture(scope="module")
def landed(broker: EmbeddedBroker, module_launch: Launcher, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ensure_topics(broker.bootstrap, PREFIX, partitions=2)
    fleet = Fleet(FleetConfig(vehicles=1, seed=3, start=START, departure_window_s=10))
    template = next(e for e in fleet.run(60) if e.event_type.name == "vehicle")
    events = [{**template.body, "event_id": f"tz-{n}", "event_time": t} for n, t in enumerate([*TIMES, *IMPOSSIBLE])]
    send(broker.bootstrap, f"{PREFIX}vehicle_data", ((b"v1", orjson.dumps(event)) for event in events))
    data_dir = tmp_path_factory.mktemp("tz")
    # PYARROW_IGNORE_TIMEZONE once made pyarrow drop every offset in the workers: it must not matter.
    result = module_launch.drain(
        broker.bootstrap, data_dir, PREFIX, "--streams", "vehicle", PYARROW_IGNORE_TIMEZONE="1"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return data_dir / "lake"


def test_every_offset_is_stored_as_the_same_instant_and_partitioned_by_its_utc_hour(landed: Path) -> None:
    rows = query(f"select event_id, epoch_us(event_time), event_date, event_hour from {relation(landed, 'vehicle')}")
    got = {event_id: (us, day, hour) for event_id, us, day, hour in rows}
    assert len(got) == len(TIMES)
    for n, instant in enumerate(TIMES.values()):
        us, day, hour = got[f"tz-{n}"]
        assert datetime.fromtimestamp(us / 1e6, UTC) == instant, list(TIMES)[n]
        assert (day, hour) == (instant.date(), instant.hour), list(TIMES)[n]


def test_impossible_clocks_are_quarantined_with_their_reason(landed: Path) -> None:
    rows = query(f"select raw_value, quarantine_reason from {relation(landed, 'vehicle', 'quarantine')}")
    reasons = {json.loads(raw)["event_time"]: reason for raw, reason in rows}
    assert set(reasons) == set(IMPOSSIBLE)
    assert reasons["1970-01-01T00:00:00Z"] == IMPOSSIBLE["1970-01-01T00:00:00Z"]
    days = (datetime(2099, 1, 1, tzinfo=UTC) - datetime.now(UTC)).days
    # The Kafka timestamp is the producer's clock: allow a day boundary between send and check.
    assert reasons["2099-01-01T00:00:00Z"] in {
        IMPOSSIBLE["2099-01-01T00:00:00Z"].format(days=d) for d in (days, days + 1)
    }
