"""Putting events into the broker and reading them back (assign + seek: no consumer group wait)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from kafka import KafkaConsumer, TopicPartition

from ingestion.faults import FaultConfig
from ingestion.fleet import FleetConfig
from ingestion.producer import make_producer
from ingestion.simulate import RunSummary, run


def produce(
    bootstrap: str,
    fleet: FleetConfig,
    faults: FaultConfig | None = None,
    *,
    prefix: str = "",
    duration_s: float | None = None,
    backend: str = "confluent",
) -> RunSummary:
    """A simulator run into the broker, as `smartcity simulate --backfill` does it."""
    producer = make_producer(backend, bootstrap)
    try:
        return run(producer, fleet, faults or FaultConfig(), topic_prefix=prefix, duration_s=duration_s, progress=None)
    finally:
        producer.close()


def send(bootstrap: str, topic: str, records: Iterable[tuple[bytes, bytes]]) -> None:
    """Hand-made records (key, value), for events the simulator never sends."""
    producer = make_producer("confluent", bootstrap)
    try:
        for key, value in records:
            producer.send(topic, key, value)
        producer.flush()
    finally:
        producer.close()


def read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0) -> list:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list = []
        deadline = time.monotonic() + timeout_s
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500, max_records=50_000).values():
                records.extend(batch)
        # One more poll: anything beyond the expected count is a duplicate we must see.
        for batch in consumer.poll(timeout_ms=300).values():
            records.extend(batch)
        return records
    finally:
        consumer.close()


def end_offsets(bootstrap: str) -> dict[str, int]:
    """The end offset of each topic (summed over its partitions), internal topics apart."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "end-offsets", "log_level": 0})
    try:
        topics = consumer.list_topics(timeout=10).topics
        return {
            name: sum(consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1] for p in topic.partitions)
            for name, topic in topics.items()
            if not name.startswith("__")
        }
    finally:
        consumer.close()
