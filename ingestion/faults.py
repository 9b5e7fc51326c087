"""Fault injection for tests and drills: late, duplicated and malformed events.

Sits between the fleet and the producer. Every fault is counted so a test can
compare what reached the lake and the quarantine with what was injected.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import orjson

from contract.errors import InvalidSetting
from ingestion.fleet import Emitted
from ingestion.serialize import Outgoing, Serializer

MALFORMED_KINDS = ("invalid_json", "wrong_type", "missing_field", "out_of_range")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    late_rate: float = 0.0
    late_by_s: float = 300.0
    duplicate_rate: float = 0.0
    malformed_rate: float = 0.0
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("late_rate", "duplicate_rate", "malformed_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidSetting(f"--{name.replace('_', '-')} must be between 0 and 1, got {value}")

    @property
    def any(self) -> bool:
        return bool(self.late_rate or self.duplicate_rate or self.malformed_rate)


@dataclass(slots=True)
class FaultCounts:
    late: int = 0
    duplicates: int = 0
    malformed: Counter = field(default_factory=Counter)


def _corrupt(value: bytes, kind: str, rng: random.Random) -> bytes:
    if kind == "invalid_json":
        return value[: rng.randrange(1, len(value) - 1)]
    broken = orjson.loads(value)
    if kind == "wrong_type":
        broken["event_time"] = 12345 if rng.random() < 0.5 else "yesterday"
    elif kind == "missing_field":
        del broken["vehicle_id"]
    elif kind == "out_of_range":
        broken["schema_version"] = 999
    return orjson.dumps(broken)


class FaultInjector:
    """Turns fleet events into Kafka records (through the serializer), some late, duplicated or
    malformed."""

    def __init__(self, config: FaultConfig, serializer: Serializer | None = None) -> None:
        self.config = config
        self.serializer = serializer or Serializer()
        self.counts = FaultCounts()
        self._rng = random.Random(f"{config.seed}/faults")
        self._held: list[tuple[float, int, Emitted]] = []  # late events waiting for their release time
        self._held_seq = 0

    def _records(self, ev: Emitted) -> Iterator[Outgoing]:
        cfg, rng = self.config, self._rng
        if cfg.malformed_rate and rng.random() < cfg.malformed_rate:
            self.serializer.check(ev)
            kind = MALFORMED_KINDS[rng.randrange(len(MALFORMED_KINDS))]
            self.counts.malformed[kind] += 1
            yield Outgoing(ev.event_type.name, self.serializer.key(ev.vehicle_id), _corrupt(ev.value, kind, rng))
            return
        record = self.serializer.record(ev)
        yield record
        if cfg.duplicate_rate and rng.random() < cfg.duplicate_rate:
            self.counts.duplicates += 1
            yield record

    def apply(self, events: Iterable[Emitted]) -> Iterator[Outgoing]:
        cfg = self.config
        for ev in events:
            while self._held and self._held[0][0] <= ev.event_time_s:
                yield from self._records(heapq.heappop(self._held)[2])
            if cfg.late_rate and self._rng.random() < cfg.late_rate:
                self.counts.late += 1
                self._held_seq += 1
                heapq.heappush(self._held, (ev.event_time_s + cfg.late_by_s, self._held_seq, ev))
                continue
            yield from self._records(ev)
        while self._held:
            yield from self._records(heapq.heappop(self._held)[2])
