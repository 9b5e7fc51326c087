"""``smartcity simulate``: drive the fleet and stream its events to Kafka.

Drive a fleet from Boston to New York and stream five event types to Kafka. Uses
KAFKA_BOOTSTRAP_SERVERS if set, else the embedded broker (started if not running).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta

from ingestion.producer import BACKENDS
from smartcity.broker import ensure_topics, kafka_connection
from smartcity.cli.args import positive, rate, subcommand, utc_datetime
from smartcity.config import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    sim = subcommand(sub, "simulate", run, "drive a fleet from Boston to New York, its events to Kafka", __doc__)
    sim.add_argument("--vehicles", type=positive(int), default=20, help="fleet size (default 20)")
    sim.add_argument("--seed", type=int, default=42, help="random seed: same seed and start, same events")
    clock = sim.add_mutually_exclusive_group()
    clock.add_argument("--speedup", type=positive(float), default=1.0, help="event seconds per wall second (1)")
    clock.add_argument("--backfill", action="store_true", help="no pacing: the event-time span as fast as possible")
    sim.add_argument("--start", type=utc_datetime, help="first event time, ISO-8601 (now; --backfill: now - duration)")
    sim.add_argument("--duration", type=positive(float), help="event-time seconds (default: until all arrive)")
    sim.add_argument("--max-events", type=positive(int), help="stop after this many events")
    sim.add_argument("--tick", type=positive(float), default=1.0, help="seconds between telemetry/GPS events")
    sim.add_argument("--departure-window", type=positive(float), default=600.0, help="departures spread (s, 600)")
    sim.add_argument(
        "--schema-version",
        type=positive(int),
        help="contract version the devices write: each event type's newest up to it (default: the newest)",
    )
    sim.add_argument(
        "--upgraded-share",
        type=rate,
        default=1.0,
        help="share of the fleet on --schema-version; the rest write version 1: a rolling upgrade (default 1)",
    )
    sim.add_argument("--late-rate", type=rate, default=0.0, help="share of events sent minutes late")
    sim.add_argument("--duplicate-rate", type=rate, default=0.0, help="share of events sent twice")
    sim.add_argument("--malformed-rate", type=rate, default=0.0, help="share of events sent malformed")
    sim.add_argument("--backend", choices=BACKENDS, default="kafka-python", help="Kafka client (default kafka-python)")
    sim.add_argument("--bootstrap", help="Kafka bootstrap servers (overrides KAFKA_BOOTSTRAP_SERVERS)")
    sim.add_argument("--no-validate", action="store_true", help="skip the contract check before each send")
    sim.add_argument("--summary-json", help="also write the run summary to this file")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ingestion.faults import FaultConfig
    from ingestion.fleet import NEWEST_VERSION, FleetConfig
    from ingestion.producer import make_producer
    from ingestion.simulate import run as simulate

    now = datetime.now(UTC).replace(microsecond=0)
    start = args.start or (now - timedelta(seconds=args.duration or 4 * 3600) if args.backfill else now)
    fleet = FleetConfig(
        vehicles=args.vehicles,
        seed=args.seed,
        start=start,
        tick_s=args.tick,
        departure_window_s=args.departure_window,
        schema_version=args.schema_version or NEWEST_VERSION,
        upgraded_share=args.upgraded_share,
    )
    faults = FaultConfig(
        late_rate=args.late_rate, duplicate_rate=args.duplicate_rate, malformed_rate=args.malformed_rate, seed=args.seed
    )
    bootstrap, security = kafka_connection(settings, args.bootstrap)
    ensure_topics(bootstrap, settings.topic_prefix, settings.topic_partitions, security=security)
    producer = make_producer(args.backend, bootstrap, security)
    try:
        summary = simulate(
            producer,
            fleet,
            faults,
            topic_prefix=settings.topic_prefix,
            speedup=None if args.backfill else args.speedup,
            duration_s=args.duration,
            max_events=args.max_events,
            validate=not args.no_validate,
        )
    finally:
        producer.close()
    report = {"bootstrap": bootstrap, "backend": args.backend, **summary.as_dict()}
    print(json.dumps(report), flush=True)
    if args.summary_json:
        with open(args.summary_json, "w") as fh:
            json.dump(report, fh, indent=2)
    if summary.failed:
        print(f"smartcity: error: {summary.failed} events were not delivered: {summary.errors[:1]}", file=sys.stderr)
        return 1
    return 130 if summary.interrupted else 0
