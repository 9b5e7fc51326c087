"""``smartcity dashboard``: the local live dashboard (Streamlit) on the bind address (loopback by default).

Serve the live dashboard (Streamlit) on SMARTCITY_BIND_ADDRESS (default 127.0.0.1) and
SMARTCITY_DASHBOARD_PORT (default 8501). It refreshes itself; open it while `make stream` runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.util import find_spec
from pathlib import Path

from smartcity.cli.args import subcommand
from smartcity.config import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    dashboard = subcommand(sub, "dashboard", run, "the local live dashboard over the lake and the marts", __doc__)
    dashboard.add_argument("--port", type=int, help="port (default SMARTCITY_DASHBOARD_PORT, else 8501)")


def command(settings: Settings, port: int | None = None) -> tuple[list[str], dict[str, str]]:
    """The Streamlit command line and environment: headless, no usage statistics, no file watcher."""
    spec = find_spec("dashboard")  # found, not imported: the app imports Streamlit
    assert spec is not None and spec.submodule_search_locations, "the dashboard package is installed"
    app = spec.submodule_search_locations[0] + "/app.py"
    argv = [
        sys.executable, "-m", "streamlit", "run", app,
        "--server.address", settings.bind_address,
        "--server.port", str(port or settings.dashboard_port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip
    env = {
        **os.environ,
        "SMARTCITY_LAKE_ROOT": str(Path(settings.lake_root).resolve()),
        "SMARTCITY_DUCKDB_PATH": str(settings.duckdb_path),
    }
    return argv, env


def run(args: argparse.Namespace, settings: Settings) -> int:
    argv, env = command(settings, args.port)
    address = f"http://{settings.bind_address}:{args.port}" if args.port else settings.dashboard_url
    print(f"dashboard at {address} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    # Become Streamlit: a SIGTERM to this command (a service manager, a test) then stops the server
    # itself instead of orphaning it.
    os.execve(argv[0], argv, env)
