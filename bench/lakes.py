"""What the benchmarks over a landed lake share (dbt build, the marts refresher, the dashboard): the
fleet they land, the option that sizes it, and the list of dbt's slowest nodes."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from ingestion.fleet import FleetConfig

START = datetime(2026, 11, 23, 6, tzinfo=UTC)
FLEET = FleetConfig(vehicles=200, seed=11, start=START, departure_window_s=900)


def lake_parser(doc: str | None) -> argparse.ArgumentParser:
    """The benchmark's command line (its description: the first line of ``doc``), with --base-events."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("--base-events", type=int, default=1_000_000, help="events of the simulated fleet")
    return parser


def print_slowest(run_results: Path, count: int) -> None:
    """The ``count`` slowest nodes of the dbt run whose ``run_results.json`` this is."""
    if count <= 0:
        return
    results = json.loads(run_results.read_text())["results"]
    for node in sorted(results, key=lambda r: -r["execution_time"])[:count]:
        print(f"      {node['execution_time']:6.2f} s  {node['unique_id'].split('.', 2)[-1][:80]}")
