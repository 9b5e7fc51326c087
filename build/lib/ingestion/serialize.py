"""Fleet events -> Kafka records, keyed by vehicle, so one vehicle's events keep their order in
one partition. The fleet encodes (and checks) events in bulk; this is the event-by-event path
the fault injector works on."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from contract.validate import validator_for
from ingestion.fleet import Emitted


@dataclass(slots=True)
class Outgoing:
    """A serialized event on its way to Kafka."""

    stream: str
    key: bytes
    value: bytes


class Serializer:
    """Turns events into records; with ``validate`` on, checks each one again with the contract's
    per-event validator (the fleet already checked them as columns)."""

    def __init__(self, validate: bool = False) -> None:
        self.validate = validate
        self._keys: dict[str, bytes] = {}

    def key(self, vehicle_id: str) -> bytes:
        key = self._keys.get(vehicle_id)
        if key is None:
            key = self._keys[vehicle_id] = vehicle_id.encode()
        return key

    def check(self, event: Emitted) -> None:
        if self.validate:
            validator_for(event.event_type.name).check(event.body)

    def record(self, event: Emitted) -> Outgoing:
        self.check(event)
        return Outgoing(event.event_type.name, self.key(event.vehicle_id), event.value)

    def records(self, events: Iterable[Emitted]) -> Iterator[Outgoing]:
        record = self.record
        for event in events:
            yield record(event)
