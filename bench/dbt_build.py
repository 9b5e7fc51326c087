"""dbt on the local target at scale (`make bench`): `dbt build` wall time at 1M and 10M raw
events, then an incremental `dbt run` after one more minute of the fleet's data on top of 10M.

The lakes are written by the job's landing code (smartcity/synthetic.py); 10M is the 1M fleet plus
nine copies of it as other fleets. Each build starts from an empty DuckDB file.

    python -m bench.dbt_build [--base-events N] [--copies K]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.lakes import FLEET, START, lake_parser, print_slowest
from ingestion.fleet import FleetConfig
from smartcity.synthetic import copy_fleet, fleet_payloads, land, newest_event, raw_files, raw_rows

PROJECT = Path(__file__).resolve().parent.parent / "dbt_project"
DBT = str(Path(sys.executable).with_name("dbt"))
SLOWEST = 0


def dbt(command: str, lake: Path, database: Path) -> float:
    env = {
        **os.environ,
        "SMARTCITY_LAKE_ROOT": str(lake),
        "SMARTCITY_DUCKDB_PATH": str(database),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DBT_PROFILES_DIR": str(PROJECT),
    }
    began = time.perf_counter()
    done = subprocess.run([DBT, command, "--quiet"], cwd=PROJECT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"dbt {command} failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    import json

    run = json.loads((PROJECT / "target" / "run_results.json").read_text())
    print(f"    ({run['elapsed_time']:.1f} s running nodes; the rest is dbt starting and loading the project)")
    print_slowest(PROJECT / "target" / "run_results.json", SLOWEST)
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = lake_parser(__doc__)
    parser.add_argument("--copies", type=int, default=9, help="extra fleets copied from it for the large run")
    parser.add_argument("--slowest", type=int, default=0, help="also list the N slowest nodes of each dbt run")
    args = parser.parse_args(argv)
    global SLOWEST
    SLOWEST = args.slowest
    fleet = FLEET
    with tempfile.TemporaryDirectory(prefix="smartcity-dbt-bench-") as tmp:
        lake = Path(tmp) / "lake"
        began = time.perf_counter()
        payloads = fleet_payloads(fleet, duration_s=None, max_events=args.base_events)
        land(lake, payloads, first_offset=0, sent_at=datetime.now(UTC))
        base_files = raw_files(lake)
        print(f"lake       {raw_rows(lake):>11,} raw events written in {time.perf_counter() - began:.0f} s")
        print(f"{'raw events':>22}{'dbt build (s)':>16}")
        print(f"{raw_rows(lake):>22,}{dbt('build', lake, Path(tmp) / 'small.duckdb'):>16.1f}")

        # The other fleets drive one after another, an hour apart: 10M events over ~10 hours.
        copy_fleet(lake, args.copies, base_files, hours_apart=1)
        database = Path(tmp) / "large.duckdb"
        large = raw_rows(lake)
        print(f"{large:>22,}{dbt('build', lake, database):>16.1f}")

        # One more minute of traffic after the last fleet's data (another seed: new event ids).
        minute_start = START + timedelta(seconds=_fleet_seconds(lake))
        more = fleet_payloads(
            FleetConfig(vehicles=200, seed=12, start=minute_start, departure_window_s=1), duration_s=60
        )
        land(lake, more, first_offset=10**8, sent_at=datetime.now(UTC))
        added = raw_rows(lake) - large
        print(f"incremental dbt run after 1 more minute ({added:,} events): {dbt('run', lake, database):.1f} s")


def _fleet_seconds(lake: Path) -> float:
    return newest_event(lake).timestamp() - START.timestamp() + 1


if __name__ == "__main__":
    main()
