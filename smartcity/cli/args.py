"""Argument types shared by the commands: each rejects a bad value with one clear line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NoReturn, TypeVar

from contract.events import BY_NAME

T = TypeVar("T", int, float)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def subcommand(
    sub: argparse._SubParsersAction, name: str, run: Callable[..., int], summary: str, doc: str | None
) -> argparse.ArgumentParser:
    """A command of ``smartcity``: ``summary`` in the list of commands; its --help describes it with
    ``doc`` (its module's docstring) past the title line."""
    parser = sub.add_parser(name, help=summary, description=(doc or "").partition("\n\n")[2].strip() or summary)
    parser.set_defaults(run=run)
    return parser


def positive(kind: type) -> Callable[[str], float | int]:
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


def between(kind: Callable[[str], T], low: T, high: T, noun: str) -> Callable[[str], T]:
    """An argparse type: a ``kind`` value from ``low`` to ``high``, or one clear line."""

    def parse(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {noun}: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}, got {value}")
        return value

    parse.__name__ = noun
    return parse


rate = between(float, 0.0, 1.0, "number")


def utc_datetime(text: str) -> datetime:
    """ISO-8601; a time without an offset is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def streams(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [n for n in names if n not in BY_NAME]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown stream(s) {unknown}; choose from {','.join(BY_NAME)}")
    return names


port = between(int, 0, 65535, "port number")


def add_metrics_port(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-port",
        type=port,
        help="serve Prometheus metrics on this port of the bind address (default SMARTCITY_METRICS_PORT; "
        "unset: no endpoint; 0: any free port)",
    )
