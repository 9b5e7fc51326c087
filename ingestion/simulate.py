"""One simulator run: fleet -> clock -> faults -> producer, with progress and a summary."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from contract.events import BY_NAME, topic_name
from ingestion.clock import Clock
from ingestion.faults import FaultConfig, FaultInjector
from ingestion.fleet import Fleet, FleetConfig, Tick, tick_groups
from ingestion.producer import EventProducer
from ingestion.serialize import Outgoing, Serializer

log = logging.getLogger(__name__)
# Events encoded per call in a backfill: the encoder's fixed cost per call is then noise.
BACKFILL_EVENTS = 50_000


@dataclass(slots=True)
class RunSummary:
    per_topic: Counter = field(default_factory=Counter)
    sent: int = 0
    failed: int = 0
    late: int = 0
    duplicates: int = 0
    malformed: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    behind_s: float = 0.0  # paced runs: the most a tick was sent after its event time had passed
    interrupted: bool = False
    stop_signal: int | None = None  # the signal that stopped the run (None: not stopped by one)
    errors: list[str] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s else 0.0

    def as_dict(self) -> dict:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "per_topic": dict(sorted(self.per_topic.items())),
            "late": self.late,
            "duplicates": self.duplicates,
            "malformed": self.malformed,
            "elapsed_s": round(self.elapsed_s, 3),
            "events_per_s": round(self.events_per_s, 1),
            "behind_s": round(self.behind_s, 3),
            "interrupted": self.interrupted,
            "delivery_errors": self.errors,
        }


class _Progress:
    def __init__(self, out: TextIO | None, every_s: float) -> None:
        self.out, self.every_s = out, every_s
        self.started = self.last = time.monotonic()

    def maybe_print(self, per_topic: Counter, total: int) -> None:
        now = time.monotonic()
        if self.out is None or now - self.last < self.every_s:
            return
        self.last = now
        rate = total / (now - self.started)
        topics = " ".join(f"{t}={n:,}" for t, n in sorted(per_topic.items()))
        try:
            print(f"[simulate] {total:,} events  {rate:,.0f} ev/s  {topics}", file=self.out, flush=True)
        except OSError:  # the terminal closed or the pipe's reader died: go on sending, unseen
            self.out = None


# Ctrl-C, SIGTERM, and SIGHUP (the terminal closed) all stop the fleet in order.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _SignalStop:
    """A stop signal only sets ``event``: the fleet stops at its next tick, so no event is ever handed
    to the client without being counted (an exception raised between a send and its count could not
    promise that, and masking signals does not help once the client runs threads of its own). A
    second signal stops at once."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None

    def __call__(self, signum: int, _frame: object) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        self.event.set()
        log.info("%s: stopping the fleet at its next tick", signal.Signals(signum).name)


def run(
    producer: EventProducer,
    fleet_config: FleetConfig,
    fault_config: FaultConfig,
    *,
    topic_prefix: str = "",
    speedup: float | None = None,
    duration_s: float | None = None,
    max_events: int | None = None,
    validate: bool = True,
    progress: TextIO | None = sys.stderr,
    progress_every_s: float = 2.0,
    summary: RunSummary | None = None,
    stop: threading.Event | None = None,
) -> RunSummary:
    """Produce the fleet's events; flushes and summarises on completion, Ctrl-C, SIGTERM or SIGHUP,
    or once another thread sets ``stop``. ``summary``, when given, is filled as the run goes (its
    ``per_topic`` counts live)."""
    topics = {name: topic_name(et, topic_prefix) for name, et in BY_NAME.items()}
    fleet = Fleet(fleet_config, validate=validate)
    clock = Clock(speedup)
    on_signal = _SignalStop()
    ticks = clock.paced(fleet.ticks(duration_s), on_signal.event, stop)
    injector = FaultInjector(fault_config, Serializer()) if fault_config.any else None
    summary = summary if summary is not None else RunSummary()
    meter = _Progress(progress, progress_every_s)
    started = time.monotonic()
    # Signal handlers can only be set from the main thread; a run on another thread stops by ``stop``.
    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS} if _main_thread() else {}
    try:
        if injector is None:
            backfill = speedup is None
            _send_batches(producer, fleet, ticks, topics, summary.per_topic, meter, max_events, backfill)
        else:
            events = fleet.events(ticks, BACKFILL_EVENTS if speedup is None else 0)
            _send_records(producer, injector.apply(events), topics, summary.per_topic, meter, max_events)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        summary.stop_signal = on_signal.signum
        summary.interrupted = on_signal.signum is not None or bool(stop and stop.is_set())
        if summary.interrupted:
            log.info("interrupted: flushing what was sent")
        producer.flush()
        summary.elapsed_s = time.monotonic() - started
        summary.behind_s = clock.behind_s
        summary.sent = producer.stats.sent
        summary.failed = producer.stats.failed
        summary.errors = list(producer.stats.errors)
        if injector is not None:
            summary.late = injector.counts.late
            summary.duplicates = injector.counts.duplicates
            summary.malformed = dict(injector.counts.malformed)
    return summary


def _send_batches(
    producer: EventProducer,
    fleet: Fleet,
    ticks: Iterable[Tick],
    topics: dict[str, str],
    per_topic: Counter,
    meter: _Progress,
    max_events: int | None,
    backfill: bool,
) -> None:
    """The fast path: each stream's events of a tick (of many ticks in a backfill) encoded at once
    and handed to the client in one call."""
    keys, sent = fleet.keys, 0
    for group in tick_groups(ticks, BACKFILL_EVENTS if backfill else 0):
        for batch in Tick.merge(group):
            values = batch.encode(fleet.validate)
            vehicles = batch.vehicle.tolist()
            if max_events is not None:
                values, vehicles = values[: max_events - sent], vehicles[: max_events - sent]
            topic, before = topics[batch.event_type.name], producer.stats.sent
            try:
                producer.send_many(topic, [keys[v] for v in vehicles], values)
            finally:
                per_topic[topic] += producer.stats.sent - before
                sent += producer.stats.sent - before
        meter.maybe_print(per_topic, sent)
        if max_events is not None and sent >= max_events:
            return


def _send_records(
    producer: EventProducer,
    records: Iterable[Outgoing],
    topics: dict[str, str],
    per_topic: Counter,
    meter: _Progress,
    max_events: int | None,
) -> None:
    """Event by event, for runs with injected faults."""
    send = producer.send
    for n, rec in enumerate(records, 1):
        topic = topics[rec.stream]
        send(topic, rec.key, rec.value)
        per_topic[topic] += 1
        if n % 2000 == 0:
            meter.maybe_print(per_topic, n)
        if max_events is not None and n >= max_events:
            return


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
