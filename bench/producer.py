"""Producer throughput on this machine, both backends, side by side in one run (`make bench`).

1. producer only: pre-serialized fleet events sent as fast as the client takes them;
2. end to end: `smartcity simulate --backfill` (fleet + contract check + serialization + send).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from contract import BY_NAME, topic_name
from ingestion.faults import FaultConfig
from ingestion.fleet import Fleet, FleetConfig
from ingestion.producer import BACKENDS, make_producer
from ingestion.serialize import Serializer
from ingestion.simulate import run
from smartcity.broker import EmbeddedBroker, ensure_topics

FLEET = FleetConfig(vehicles=500, seed=1, start=datetime(2026, 11, 23, 8, tzinfo=UTC), departure_window_s=60)


def producer_only(bootstrap: str, backend: str, records: list) -> float:
    producer = make_producer(backend, bootstrap)
    started = time.perf_counter()
    for topic, key, value in records:
        producer.send(topic, key, value)
    producer.flush()
    elapsed = time.perf_counter() - started
    producer.close()
    assert producer.stats.failed == 0
    return len(records) / elapsed


def main() -> None:
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, "bench_", 4)
        records = [
            (topic_name(BY_NAME[r.stream], "bench_"), r.key, r.value)
            for r in Serializer(validate=False).records(Fleet(FLEET).run(400))
        ]
        print(f"events: {len(records):,} (500 vehicles, 400 s of event time)")
        print(f"{'backend':<14}{'producer only ev/s':>20}{'simulate end-to-end ev/s':>28}")
        for backend in BACKENDS:
            raw_rate = producer_only(broker.bootstrap, backend, records)
            producer = make_producer(backend, broker.bootstrap)
            try:
                summary = run(producer, FLEET, FaultConfig(), topic_prefix="bench_", duration_s=400, progress=None)
            finally:
                producer.close()
            print(f"{backend:<14}{raw_rate:>20,.0f}{summary.events_per_s:>28,.0f}")


if __name__ == "__main__":
    main()
