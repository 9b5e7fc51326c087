"""``smartcity``: the one command-line entry point.

Bad arguments, bad configuration and an unreachable broker end with one clear line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from ingestion.broker import BrokerError, ensure_topics, read_state, resolve_bootstrap, start_detached, stop_detached
from ingestion.config import ConfigError, Settings
from ingestion.locking import AlreadyRunning, exclusive
from ingestion.producer import BACKENDS, BrokerUnreachable
from spark.errors import QueryFailed

log = logging.getLogger("smartcity")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _utc_datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _positive(kind: type) -> object:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {kind.__name__}: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {value}")
        return value

    parse.__name__ = kind.__name__
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="smartcity", description="Real-time smart-city traffic pipeline.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sim = sub.add_parser(
        "simulate",
        help="drive a fleet from Boston to New York and stream its events to Kafka",
        description="Drive a fleet from Boston to New York and stream five event types to Kafka. "
        "Uses KAFKA_BOOTSTRAP_SERVERS if set, else the embedded broker "
        "(started if not running).",
    )
    sim.add_argument("--vehicles", type=_positive(int), default=20, help="fleet size (default 20)")
    sim.add_argument("--seed", type=int, default=42, help="random seed: same seed and start, same events")
    clock = sim.add_mutually_exclusive_group()
    clock.add_argument(
        "--speedup",
        type=_positive(float),
        default=1.0,
        help="event-time seconds per wall second (1 = real time, default)",
    )
    clock.add_argument(
        "--backfill", action="store_true", help="no pacing: generate the event-time span as fast as possible"
    )
    sim.add_argument(
        "--start",
        type=_utc_datetime,
        help="event time of the first tick, ISO-8601 (default: now; with --backfill, now - duration)",
    )
    sim.add_argument(
        "--duration",
        type=_positive(float),
        help="seconds of event time to simulate (default: until every vehicle arrives)",
    )
    sim.add_argument("--max-events", type=_positive(int), help="stop after this many events")
    sim.add_argument("--tick", type=_positive(float), default=1.0, help="seconds between telemetry/GPS events")
    sim.add_argument(
        "--departure-window",
        type=_positive(float),
        default=600.0,
        help="seconds over which vehicles depart (staggered)",
    )
    sim.add_argument("--late-rate", type=_rate, default=0.0, help="share of events sent minutes late")
    sim.add_argument("--duplicate-rate", type=_rate, default=0.0, help="share of events sent twice")
    sim.add_argument("--malformed-rate", type=_rate, default=0.0, help="share of events sent malformed")
    sim.add_argument("--backend", choices=BACKENDS, default="kafka-python", help="Kafka client (default kafka-python)")
    sim.add_argument("--bootstrap", help="Kafka bootstrap servers (overrides KAFKA_BOOTSTRAP_SERVERS)")
    sim.add_argument("--no-validate", action="store_true", help="skip the contract check before each send")
    sim.add_argument("--summary-json", help="also write the run summary to this file")

    broker = sub.add_parser(
        "broker",
        help="the embedded Kafka-protocol broker (Tansu)",
        description="Start, stop or inspect the embedded broker used when KAFKA_BOOTSTRAP_SERVERS is not set.",
    )
    broker.add_argument("action", choices=("start", "stop", "status"))

    sub.add_parser(
        "topics",
        help="create the five topics if missing",
        description="Create the five topics (SMARTCITY_TOPIC_PREFIX, SMARTCITY_TOPIC_PARTITIONS).",
    )

    stream = sub.add_parser(
        "stream",
        help="run the Spark job: Kafka to the raw Parquet lake",
        description="Run the Spark Structured Streaming job for all five streams.",
    )
    from spark.options import add_stream_arguments

    add_stream_arguments(stream)

    compact = sub.add_parser(
        "compact",
        help="merge the small files of closed hours in the lake, one file per hour",
        description="Merge the Parquet files of each closed event hour (ended more than --grace minutes ago) "
        "into one, keeping one row per Kafka coordinate. Safe to run while the stream runs.",
    )
    compact.add_argument("--grace", type=_positive(float), default=60.0, help="minutes after an hour ends (60)")
    compact.add_argument("--min-files", type=_positive(int), default=2, help="leave hours with fewer files (2)")
    compact.add_argument("--zone", choices=("raw", "quarantine"), action="append", help="default: both")
    compact.add_argument("--dry-run", action="store_true", help="report what would be merged, change nothing")

    up = sub.add_parser(
        "up",
        help="broker + Spark job + simulator together (what `make stream` runs)",
        description="Start the embedded broker (unless KAFKA_BOOTSTRAP_SERVERS is set), the Spark job and the "
        "simulator; stop all of them on Ctrl-C or after --duration.",
    )
    up.add_argument("--vehicles", type=_positive(int), default=20, help="fleet size (default 20)")
    up.add_argument("--speedup", type=_positive(float), default=20.0, help="simulated seconds per wall second")
    up.add_argument("--duration", type=_positive(float), help="stop after this many wall seconds")
    up.add_argument("--seed", type=int, default=42, help="random seed")
    return parser


def _bootstrap_or_start(settings: Settings, override: str | None) -> str:
    bootstrap = override or resolve_bootstrap(settings)
    if bootstrap:
        return bootstrap
    state = start_detached(settings)
    print(
        f"started embedded broker (tansu) at {state.bootstrap}, pid {state.pid}; stop it with `smartcity broker stop`",
        file=sys.stderr,
    )
    return state.bootstrap


def _cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from ingestion.faults import FaultConfig
    from ingestion.fleet import FleetConfig
    from ingestion.producer import make_producer
    from ingestion.simulate import run

    bootstrap = _bootstrap_or_start(settings, args.bootstrap)
    ensure_topics(bootstrap, settings.topic_prefix, settings.topic_partitions)
    now = datetime.now(UTC).replace(microsecond=0)
    start = args.start or (now - timedelta(seconds=args.duration or 4 * 3600) if args.backfill else now)
    fleet = FleetConfig(
        vehicles=args.vehicles, seed=args.seed, start=start, tick_s=args.tick, departure_window_s=args.departure_window
    )
    faults = FaultConfig(
        late_rate=args.late_rate, duplicate_rate=args.duplicate_rate, malformed_rate=args.malformed_rate, seed=args.seed
    )
    producer = make_producer(args.backend, bootstrap)
    try:
        summary = run(
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


def _cmd_broker(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "start":
        state = start_detached(settings)
        ensure_topics(state.bootstrap, settings.topic_prefix, settings.topic_partitions)
        print(f"embedded broker running at {state.bootstrap} (pid {state.pid}, log {state.log_path})")
        return 0
    if args.action == "stop":
        print("embedded broker stopped" if stop_detached(settings) else "embedded broker was not running")
        return 0
    state = read_state(settings)
    if settings.bootstrap_servers:
        print(f"using external Kafka from KAFKA_BOOTSTRAP_SERVERS={settings.bootstrap_servers}")
    if state:
        print(f"embedded broker running at {state.bootstrap} (pid {state.pid})")
        return 0
    print("embedded broker not running")
    return 3


def _cmd_topics(_args: argparse.Namespace, settings: Settings) -> int:
    bootstrap = _bootstrap_or_start(settings, None)
    for name in ensure_topics(bootstrap, settings.topic_prefix, settings.topic_partitions):
        print(name)
    return 0


def _cmd_stream(args: argparse.Namespace, settings: Settings) -> int:
    from spark.job import main as stream_main

    with exclusive(settings.checkpoint_root, "checkpoint folder"):
        return stream_main(args, settings)


def _cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from ingestion.up import run_all

    return run_all(settings, vehicles=args.vehicles, speedup=args.speedup, duration_s=args.duration, seed=args.seed)


def _cmd_compact(args: argparse.Namespace, settings: Settings) -> int:
    from spark.compact import compact
    from spark.storage import to_uri

    done = compact(
        to_uri(settings.lake_root, "SMARTCITY_LAKE_ROOT"),
        zones=tuple(args.zone or ("raw", "quarantine")),
        grace=timedelta(minutes=args.grace),
        min_files=args.min_files,
        dry_run=args.dry_run,
    )
    files = sum(h.files_in for h in done)
    dropped = sum(h.rows_in - h.rows_out for h in done)
    verb = "would merge" if args.dry_run else "merged"
    print(f"{verb} {files} files into {len(done)} (one per closed hour); {dropped} duplicate rows dropped")
    return 0


COMMANDS = {
    "simulate": _cmd_simulate,
    "broker": _cmd_broker,
    "topics": _cmd_topics,
    "stream": _cmd_stream,
    "compact": _cmd_compact,
    "up": _cmd_up,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s",
    )
    for noisy in ("kafka", "py4j"):
        logging.getLogger(noisy).setLevel(logging.WARNING if args.verbose else logging.ERROR)
    try:
        settings = Settings.from_env()
        return COMMANDS[args.command](args, settings)
    except (ConfigError, BrokerUnreachable, BrokerError, ValueError, QueryFailed, AlreadyRunning) as exc:
        print(f"smartcity: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("smartcity: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
