"""``smartcity drill`` (``make drill``): run the pipeline under injected faults and account for every event.

In <data dir>/drill/<time>/ (its own broker, lake, checkpoints, warehouse): send a fleet with late,
duplicated and malformed events; SIGKILL the Spark driver mid-batch --kills times; replay the
simulator with the same seed and start; restart the broker under the running job; drain; dbt build.
Prints sent, landed, quarantined, removed duplicates and losses; exit 1 if anything was lost outside
the broker restart or duplicated in the marts.
"""

from __future__ import annotations

import argparse

from smartcity.cli.args import positive, rate, subcommand
from smartcity.config import Settings


def _duration(text: str) -> float:
    from smartcity.soak import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--soak: ")) from None


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = subcommand(
        sub, "drill", run, "run the pipeline while faults are injected, then account for every event", __doc__
    )
    parser.add_argument("--vehicles", type=positive(int), default=20, help="vehicles per fleet (default 20)")
    parser.add_argument(
        "--fleet-seconds", type=positive(float),
        help="event time per fleet (drill: 900; soak: 7200, one fleet's shift before the next leaves Boston)",
    )  # fmt: skip
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs of the Spark driver (default 3)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--late-rate", type=rate, default=0.02, help="share of events sent 10 min late (0.02)")
    parser.add_argument("--duplicate-rate", type=rate, default=0.02, help="share of events sent twice (0.02)")
    parser.add_argument("--malformed-rate", type=rate, default=0.01, help="share of malformed events (0.01)")
    soak = parser.add_argument_group("soak mode (instead of the drill)")
    soak.add_argument(
        "--soak", type=_duration, metavar="DURATION",
        help="run at a steady rate for DURATION (90s, 30m, 2h) and report whether lag, each process's memory "
        "and the lake's file count stay flat (compaction of closed hours every minute)",
    )  # fmt: skip
    soak.add_argument("--speedup", type=positive(float), default=20.0, help="soak: simulated s per wall s (20)")
    soak.add_argument("--every", type=positive(float), default=15.0, help="soak: seconds between samples (15)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from smartcity.drill import FLEET_SECONDS, DrillConfig, run_drill

    if args.soak:
        from smartcity.soak import SHIFT_S, run_soak

        return run_soak(settings, args.soak, args.vehicles, args.speedup, args.every, args.fleet_seconds or SHIFT_S)

    config = DrillConfig(
        vehicles=args.vehicles,
        fleet_seconds=args.fleet_seconds or FLEET_SECONDS,
        kills=max(args.kills, 0),
        seed=args.seed,
        late_rate=args.late_rate,
        duplicate_rate=args.duplicate_rate,
        malformed_rate=args.malformed_rate,
    )
    return run_drill(settings, config)
