"""``smartcity cluster start|stop|status``: a Spark standalone cluster on this machine (smartcity/cluster.py).

Start, stop or inspect a Spark standalone cluster on this machine: a master and N workers on
SMARTCITY_BIND_ADDRESS (default 127.0.0.1), logs and pids under <data dir>/cluster/. Run the
pipeline on it with `make stream CLUSTER=1` (= `smartcity up --cluster`).
"""

from __future__ import annotations

import argparse

from smartcity import cluster
from smartcity.cli.args import positive, subcommand
from smartcity.config import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = subcommand(sub, "cluster", run, "a Spark standalone cluster (master + workers) from pyspark", __doc__)
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--workers", type=positive(int), default=2, help="workers to start (default 2)")
    parser.add_argument("--cores", type=positive(int), default=1, help="cores per worker (default 1)")
    parser.add_argument("--memory", default="2g", help="memory per worker, Spark's notation (default 2g)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "start":
        running = cluster.read_state(settings)
        state = cluster.start(settings, workers=args.workers, cores=args.cores, memory=args.memory)
        print(f"spark cluster {'already ' if running else ''}running at {state.master_url}")
        print(f"  master UI {state.master.ui_url} (pid {state.master.pid})")
        for worker in state.workers:
            print(f"  {worker.name} UI {worker.ui_url} (pid {worker.pid})")
        print(f"  logs in {cluster.cluster_dir(settings) / 'logs'}; stop with `smartcity cluster stop`")
        return 0
    if args.action == "stop":
        print("spark cluster stopped" if cluster.stop(settings) else "spark cluster was not running")
        return 0
    found = cluster.read_state(settings)
    if found is None:
        print("spark cluster not running")
        return 3
    try:
        view = cluster.master_json(found.master.ui_url)
    except OSError as exc:
        print(f"spark cluster at {found.master_url}: the master's UI does not answer ({exc})")
        return 1
    alive = [w for w in view["workers"] if w["state"] == "ALIVE"]
    print(f"spark cluster running at {found.master_url}, master UI {found.master.ui_url}")
    print(f"  workers alive: {len(alive)} of {len(found.workers)}, cores {view['cores']} ({view['coresused']} used)")
    for app in view.get("activeapps", []):
        print(f"  running application: {app['name']} ({app['id']}, {app['cores']} cores)")
    return 0
