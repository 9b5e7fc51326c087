"""``smartcity up`` (what ``make stream`` runs): broker, Spark job and simulator together.

Start the embedded broker (unless KAFKA_BOOTSTRAP_SERVERS is set), the Spark job and the simulator;
stop all of them in order on Ctrl-C, SIGTERM or after --duration.
"""

from __future__ import annotations

import argparse

from smartcity.cli.args import add_metrics_port, positive, subcommand
from smartcity.config import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    up = subcommand(sub, "up", run, "broker + Spark job + simulator together (what `make stream` runs)", __doc__)
    up.add_argument("--vehicles", type=positive(int), default=20, help="fleet size (default 20)")
    up.add_argument("--speedup", type=positive(float), default=20.0, help="simulated seconds per wall second")
    up.add_argument("--duration", type=positive(float), help="stop after this many wall seconds")
    up.add_argument("--seed", type=int, default=42, help="random seed")
    add_metrics_port(up)
    where = up.add_mutually_exclusive_group()
    where.add_argument("--master", default="local[*]", help="Spark master URL for the job (default local[*])")
    where.add_argument(
        "--cluster",
        action="store_true",
        help="run the job on the cluster of `smartcity cluster start` (what `make stream CLUSTER=1` runs)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from smartcity.cluster import master_url_or_fail
    from smartcity.orchestrator import run_all

    master = master_url_or_fail(settings) if args.cluster else args.master
    return run_all(
        settings,
        vehicles=args.vehicles,
        speedup=args.speedup,
        duration_s=args.duration,
        seed=args.seed,
        master=master,
        metrics_port=args.metrics_port if args.metrics_port is not None else settings.metrics_port,
    )
