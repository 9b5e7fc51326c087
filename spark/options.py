"""Command-line options of ``smartcity stream`` (kept apart so ``--help`` never imports pyspark)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from contract.events import BY_NAME

SOURCES = ("auto", "python", "native")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _utc_date(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 date or time: {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _streams(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [n for n in names if n not in BY_NAME]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown stream(s) {unknown}; choose from {','.join(BY_NAME)}")
    return names


def add_stream_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--master", default="local[*]", help="Spark master URL (default local[*])")
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="auto",
        help="Kafka source: Spark's native connector, the Python data source, "
        "or auto (native if the connector is on the classpath)",
    )
    parser.add_argument("--trigger-seconds", type=_positive_float, default=2.0, help="micro-batch interval (default 2)")
    parser.add_argument("--available-now", action="store_true", help="drain everything in Kafka now, then exit")
    parser.add_argument(
        "--max-offsets-per-trigger",
        type=int,
        default=500_000,
        help="upper bound on records per stream per micro-batch (default 500000)",
    )
    parser.add_argument("--duration", type=_positive_float, help="stop cleanly after this many seconds")
    parser.add_argument(
        "--streams",
        type=_streams,
        default=tuple(BY_NAME),
        help=f"comma-separated subset of {','.join(BY_NAME)} (default all)",
    )
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (overrides KAFKA_BOOTSTRAP_SERVERS)")
    parser.add_argument(
        "--starting-offsets",
        choices=("earliest", "latest"),
        default="earliest",
        help="where a query without a checkpoint starts (default earliest)",
    )
    parser.add_argument(
        "--fail-on-data-loss",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="when offsets in the checkpoint are gone from Kafka (topic re-created, broker state lost, "
        "retention): stop with an error (default), or warn, count it in the metrics file and go on "
        "from the earliest offset still available",
    )
    parser.add_argument(
        "--event-time-floor",
        type=_utc_date,
        default=datetime(2000, 1, 1, tzinfo=UTC),
        help="events dated before this go to quarantine (default 2000-01-01)",
    )
    parser.add_argument(
        "--max-event-time-ahead",
        type=_positive_float,
        default=3600.0,
        help="seconds an event time may be ahead of its Kafka timestamp before it goes to quarantine (default 3600)",
    )
    parser.add_argument("--ui", action="store_true", help="start the Spark UI (on the bind address; off by default)")
    parser.add_argument(
        "--bind-address",
        help="address the Spark driver and UI listen on (default SMARTCITY_BIND_ADDRESS, else 127.0.0.1)",
    )
