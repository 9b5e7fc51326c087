"""Kafka producers behind one small interface.

``kafka-python`` is the default client; ``confluent-kafka`` (librdkafka) is the optional
fast backend. Both: key = vehicle id (per-vehicle ordering), acks=all, idempotence where
the client supports it, batching with linger, lz4 compression, delivery failures counted.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from itertools import islice, repeat
from operator import length_hint
from typing import Protocol

from contract.errors import InvalidSetting
from kafkaclient.access import tcp_open, topic_error
from kafkaclient.clients import confluent_config, kafka_python_config
from kafkaclient.settings import PLAINTEXT, KafkaSecurity

log = logging.getLogger(__name__)

BACKENDS = ("kafka-python", "confluent")
POLL_EVERY = 10_000  # messages between polls for delivery failures while a batch is produced


class BrokerUnreachable(RuntimeError):
    """No broker answered at the bootstrap address."""


@dataclass(slots=True)
class DeliveryStats:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def record_failure(self, error: object) -> None:
        self.failed += 1
        if len(self.errors) < 5:  # keep a sample, not every message of a broker outage
            self.errors.append(str(error))


def check_reachable(bootstrap: str, timeout_s: float = 5.0) -> None:
    """Fail fast with one clear error when no bootstrap address accepts a TCP connection."""
    if not tcp_open(bootstrap, timeout_s):
        raise BrokerUnreachable(f"no Kafka broker reachable at {bootstrap}")


class EventProducer(Protocol):
    stats: DeliveryStats

    def send(self, topic: str, key: bytes, value: bytes) -> None: ...

    def send_many(self, topic: str, keys: list[bytes], values: list[bytes]) -> None: ...

    def flush(self, timeout_s: float = 30.0) -> None: ...

    def close(self) -> None: ...


class KafkaPythonProducer:
    def __init__(
        self, bootstrap: str, security: KafkaSecurity = PLAINTEXT, linger_ms: int = 20, batch_size: int = 256 * 1024
    ) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaTimeoutError
        from kafka.partitioner.default import murmur2

        self._murmur2 = murmur2
        self._where = (bootstrap, security)
        self.stats = DeliveryStats()
        check_reachable(bootstrap)
        try:
            self._producer = KafkaProducer(
                **kafka_python_config(bootstrap, security),
                acks="all",
                enable_idempotence=True,
                linger_ms=linger_ms,
                batch_size=batch_size,
                compression_type=_compression(),
                retries=5,
                request_timeout_ms=15_000,
                bootstrap_timeout_ms=10_000,
            )
        except KafkaTimeoutError as exc:
            raise BrokerUnreachable(f"no Kafka broker reachable at {bootstrap}") from exc
        self._partitions: dict[tuple[str, bytes], int] = {}

    def _partition(self, topic: str, key: bytes) -> int:
        # Same murmur2 placement as the Java client, computed once per (topic, vehicle):
        # the library's per-message partitioner is a quarter of the send() cost.
        slot = (topic, key)
        p = self._partitions.get(slot)
        if p is None:
            count = len(self._producer.partitions_for(topic))
            p = self._partitions[slot] = (self._murmur2(key) & 0x7FFFFFFF) % count
        return p

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        future = self._producer.send(topic, key=key, value=value, partition=self._partition(topic, key))
        future.add_errback(self._failed(topic))
        self.stats.sent += 1

    def send_many(self, topic: str, keys: list[bytes], values: list[bytes]) -> None:
        send, partition, failed = self._producer.send, self._partition, self._failed(topic)
        done = 0
        try:
            for key, value in zip(keys, values, strict=True):
                send(topic, key=key, value=value, partition=partition(topic, key)).add_errback(failed)
                done += 1
        finally:
            self.stats.sent += done

    def _failed(self, topic: str):
        def record(error: Exception | str) -> None:
            if "Authorization" in type(error).__name__:
                error = topic_error(error, topic, "write", *self._where)
            self.stats.record_failure(error)

        return record

    def flush(self, timeout_s: float = 30.0) -> None:
        self._producer.flush(timeout=timeout_s)

    def close(self) -> None:
        self._producer.close(timeout=10)


class ConfluentProducer:
    def __init__(
        self,
        bootstrap: str,
        security: KafkaSecurity = PLAINTEXT,
        linger_ms: int = 20,
        batch_size: int = 1024 * 1024,
        queue_messages: int = 1_000_000,
    ) -> None:
        from confluent_kafka import Producer

        self.stats = DeliveryStats()
        self._where = (bootstrap, security)
        self._errors: list[str] = []
        check_reachable(bootstrap)
        self._producer = Producer(
            confluent_config(
                bootstrap,
                security,
                **{
                    "acks": "all",
                    "enable.idempotence": True,
                    "linger.ms": linger_ms,
                    "batch.size": batch_size,
                    "compression.type": "lz4",
                    "partitioner": "murmur2_random",  # same placement as the Java and kafka-python clients
                    "queue.buffering.max.messages": queue_messages,
                    "message.timeout.ms": 30_000,
                    # Errors reach error_cb and end in one line; librdkafka's warnings about what it
                    # retries by itself (a new broker still allocating producer ids) are not for the screen.
                    "log_level": 3,
                    "error_cb": lambda err: self._errors.append(str(err)),
                    # Delivery reports for failures only: a Python callback per delivered message
                    # costs as much as the produce call itself.
                    "on_delivery": self._on_delivery,
                    "delivery.report.only.error": True,
                },
            )
        )
        metadata = None
        try:
            metadata = self._producer.list_topics(timeout=5)
        except Exception as exc:  # KafkaException: transport failure
            raise BrokerUnreachable(f"no Kafka broker reachable at {bootstrap}: {exc}") from exc
        if not metadata.brokers:
            raise BrokerUnreachable(f"no Kafka broker reachable at {bootstrap}")

    def _on_delivery(self, err, msg) -> None:
        if err is not None:
            if "AUTHORIZATION" in err.name():
                err = topic_error(err, msg.topic(), "write", *self._where)
            self.stats.record_failure(err)

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key)
                break
            except BufferError:  # local queue full: let librdkafka drain it
                self._producer.poll(0.05)
        self.stats.sent += 1
        if self.stats.sent % POLL_EVERY == 0:
            self._producer.poll(0)

    def send_many(self, topic: str, keys: list[bytes], values: list[bytes]) -> None:
        if len(keys) != len(values):
            raise ValueError(f"{len(keys)} keys for {len(values)} values")
        produce, poll = self._producer.produce, self._producer.poll
        todo_values, todo_keys = iter(values), iter(keys)
        rejected = None  # index of a message the full queue turned away, not yet produced
        try:
            while length_hint(todo_values):
                try:
                    # A slice of produce calls run by C (map, consumed by a zero-length deque): no
                    # Python bytecode per message, which is most of the cost of a produce loop.
                    deque(map(produce, repeat(topic), islice(todo_values, POLL_EVERY), todo_keys), maxlen=0)
                except BufferError:  # local queue full: map already took the message from the iterators
                    rejected = len(values) - length_hint(todo_values) - 1
                    while True:
                        poll(0.05)  # let librdkafka drain it, then retry that one message
                        try:
                            produce(topic, values[rejected], keys[rejected])
                            break
                        except BufferError:
                            continue
                    rejected = None
                poll(0)
        finally:  # exact even when Ctrl-C lands mid-batch
            self.stats.sent += len(values) - length_hint(todo_values) - (rejected is not None)

    def flush(self, timeout_s: float = 30.0) -> None:
        remaining = self._producer.flush(timeout_s)
        if remaining:
            for _ in range(remaining):
                self.stats.record_failure(f"not delivered within {timeout_s}s")

    def close(self) -> None:
        self.flush()
        # Destroy the client now, not when the garbage collector gets to it: a client left alive keeps
        # reconnecting (and logging each attempt) to a broker that has since gone.
        self._producer = None  # type: ignore[assignment]


def _compression() -> str:
    try:
        import lz4  # noqa: F401
    except ImportError:
        return "gzip"
    return "lz4"


def make_producer(backend: str, bootstrap: str, security: KafkaSecurity = PLAINTEXT) -> EventProducer:
    if backend == "kafka-python":
        return KafkaPythonProducer(bootstrap, security)
    if backend == "confluent":
        return ConfluentProducer(bootstrap, security)
    raise InvalidSetting(f"unknown producer backend {backend!r}; expected one of {', '.join(BACKENDS)}")
