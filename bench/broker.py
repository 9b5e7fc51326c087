"""The embedded broker (Apache Kafka, one KRaft node) on this machine (`make bench`):

1. start to first produce: a new data folder (format, start, topics, one acknowledged record), then a
   restart on that folder (start, one record);
2. a 2M-event backfill into it, as `smartcity simulate --backfill` sends one (confluent-kafka), and the
   broker's resident memory before and after, its data on disk, and how long a stop takes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ingestion.faults import FaultConfig
from ingestion.fleet import FleetConfig
from ingestion.producer import make_producer
from ingestion.simulate import run
from smartcity.broker import HEAP_MB, EmbeddedBroker, ensure_topics, kafka_version
from smartcity.soak import rss_mb

FLEET = FleetConfig(vehicles=2_000, seed=1, start=datetime(2026, 11, 23, 8, tzinfo=UTC), departure_window_s=60)


def first_produce(folder: Path) -> tuple[EmbeddedBroker, float, float]:
    """A broker started on ``folder``: (broker, seconds to a ready broker, seconds to the first ack)."""
    started = time.perf_counter()
    broker = EmbeddedBroker(folder)
    broker.start()
    ready = time.perf_counter() - started
    ensure_topics(broker.bootstrap, "", 4)
    producer = make_producer("confluent", broker.bootstrap)
    producer.send("vehicle_data", b"k", b"{}")
    producer.flush()
    producer.close()
    return broker, ready, time.perf_counter() - started


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="events in the backfill")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smartcity-broker-bench-") as tmp:
        folder = Path(tmp) / "kafka"
        print(f"Apache Kafka {kafka_version()}, one KRaft node, -Xmx{HEAP_MB}m")
        broker, ready, first = first_produce(folder)
        print(f"new data folder: ready in {ready:.1f} s, first record acknowledged {first:.1f} s after the start")
        broker.stop()
        broker, ready, first = first_produce(folder)
        print(f"restart on it:   ready in {ready:.1f} s, first record acknowledged {first:.1f} s after the start")
        assert broker.process is not None
        before = rss_mb(broker.process.pid)
        producer = make_producer("confluent", broker.bootstrap)
        try:
            summary = run(producer, FLEET, FaultConfig(), max_events=args.events, progress=None)
        finally:
            producer.close()
        assert summary.failed == 0
        after = rss_mb(broker.process.pid)
        print(
            f"backfill of {summary.sent:,} events (smartcity simulate --backfill, confluent): "
            f"{summary.events_per_s:,.0f} ev/s; broker RSS {before:,.0f} MB before, {after:,.0f} MB after; "
            f"{folder_mb(folder / 'logs'):,.0f} MB on disk"
        )
        started = time.perf_counter()
        broker.stop()
        print(f"stop (controlled shutdown): {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
