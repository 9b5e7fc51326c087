"""Produce to the real embedded broker over TCP and read everything back."""

from __future__ import annotations

import signal
from collections import Counter

import orjson
import pytest

from contract import BY_NAME, topic_name
from ingestion.faults import FaultConfig
from ingestion.fleet import Fleet, FleetConfig
from ingestion.producer import BACKENDS, make_producer
from ingestion.simulate import run
from smartcity.broker import EmbeddedBroker
from tests.conftest import START
from tests.helpers.kafka import produce, read_all

FLEET = FleetConfig(
    vehicles=15, seed=21, start=START, incidents_per_vehicle_hour=5, departure_window_s=60, camera_spacing_km=2
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_round_trip_counts_and_ids_match(broker: EmbeddedBroker, topics: list, topic_prefix: str, backend: str) -> None:
    expected_ids: dict[str, list[str]] = {}
    for ev in Fleet(FLEET).run(240):
        expected_ids.setdefault(topic_name(ev.event_type, topic_prefix), []).append(ev.body["event_id"])

    summary = produce(broker.bootstrap, FLEET, prefix=topic_prefix, duration_s=240, backend=backend)
    assert summary.failed == 0
    assert summary.sent == sum(len(v) for v in expected_ids.values()) > 3000
    assert set(expected_ids) == {topic_name(et, topic_prefix) for et in BY_NAME.values()}

    for topic, ids in expected_ids.items():
        records = read_all(broker.bootstrap, topic, len(ids))
        got = [orjson.loads(r.value)["event_id"] for r in records]
        assert Counter(got) == Counter(ids), topic
        # Keyed by vehicle: one vehicle's events all land in one partition, in order.
        partitions: dict[bytes, set[int]] = {}
        for r in records:
            partitions.setdefault(r.key, set()).add(r.partition)
            assert r.key.decode() == orjson.loads(r.value)["vehicle_id"]
        assert all(len(p) == 1 for p in partitions.values())


def test_both_backends_place_a_vehicle_on_the_same_partition(
    broker: EmbeddedBroker, topics: list, topic_prefix: str
) -> None:
    topic = topic_name(BY_NAME["gps"], topic_prefix)
    keys = [f"vehicle-{i:05d}".encode() for i in range(40)]
    for backend in BACKENDS:
        producer = make_producer(backend, broker.bootstrap)
        for k in keys:
            producer.send(topic, k, backend.encode())
        producer.close()
    placement: dict[tuple[bytes, bytes], int] = {}
    for r in read_all(broker.bootstrap, topic, 2 * len(keys)):
        placement[(r.key, r.value)] = r.partition
    for k in keys:
        assert placement[(k, b"kafka-python")] == placement[(k, b"confluent")]


def test_fault_counts_reach_the_topics(broker: EmbeddedBroker, topics: list, topic_prefix: str) -> None:
    faults = FaultConfig(duplicate_rate=0.02, malformed_rate=0.02, late_rate=0.01, seed=4)
    summary = produce(broker.bootstrap, FLEET, faults, prefix=topic_prefix, duration_s=120, backend="kafka-python")
    topic = topic_name(BY_NAME["vehicle"], topic_prefix)
    records = read_all(broker.bootstrap, topic, summary.per_topic[topic])
    assert len(records) == summary.per_topic[topic]
    assert summary.duplicates > 0 and sum(summary.malformed.values()) > 0 and summary.late > 0


def test_a_full_confluent_queue_delays_a_batch_without_losing_or_reordering_it(
    broker: EmbeddedBroker, topics: list, topic_prefix: str
) -> None:
    from ingestion.producer import ConfluentProducer

    topic = topic_name(BY_NAME["gps"], topic_prefix)
    values = [str(i).encode() for i in range(5_000)]
    producer = ConfluentProducer(broker.bootstrap, queue_messages=100)  # full many times over
    producer.send_many(topic, [b"vehicle-00001"] * len(values), values)
    producer.close()
    assert (producer.stats.sent, producer.stats.failed) == (len(values), 0)
    assert [r.value for r in read_all(broker.bootstrap, topic, len(values))] == values


def test_kafka_python_checksums_record_batches_natively() -> None:
    """The pure-Python CRC-32C fallback costs kafka-python a third of its throughput: the
    `kafka-python[crc32c]` extra must be installed."""
    from kafka.record import util

    assert util.calc_crc32c.__defaults__[0] is not util.crc32c_py


def test_ctrl_c_between_a_send_and_its_count_leaves_no_event_uncounted(
    broker: EmbeddedBroker, topics: list, topic_prefix: str
) -> None:
    """Python runs a signal's handler wherever the main thread next checks for one (masking does not
    hold it back once the client runs threads of its own). Here it runs at the worst place, after the
    client took a record and before the simulator counted it: the run stops at its next tick, and
    what it says it sent is exactly what the broker holds."""
    producer = make_producer("kafka-python", broker.bootstrap)
    client_send, handed = producer._producer.send, [0]

    def send_then_interrupt(*args, **kwargs):
        future = client_send(*args, **kwargs)
        handed[0] += 1
        if handed[0] == 100:
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
        return future

    producer._producer.send = send_then_interrupt
    before = signal.getsignal(signal.SIGINT)
    try:
        summary = run(producer, FLEET, FaultConfig(), topic_prefix=topic_prefix, speedup=3600.0, progress=None)
    finally:
        producer.close()
    assert summary.sent == handed[0] == sum(summary.per_topic.values()) >= 100
    assert summary.interrupted and summary.stop_signal == signal.SIGINT
    for topic, count in summary.per_topic.items():
        assert len(read_all(broker.bootstrap, topic, count)) == count, topic
    assert signal.getsignal(signal.SIGINT) is before, "the run put the handler back"
