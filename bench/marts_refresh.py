"""The marts refresher of `smartcity up` on a large lake (`make bench`): one cycle (an incremental
`dbt build` and the export of the marts, in-process as the refresher runs it) after one more minute
of the fleet's data, at 10M and at 30M raw events, with the data tests over the whole lake (what
`dbt build` by hand runs) and with the tests over the partitions that received rows since the last
build (what the refresher runs), side by side in one run.

The lakes are written by the job's landing code (smartcity/synthetic.py): a 1M-event fleet and
copies of it as other fleets, an hour apart.

    python -m bench.marts_refresh [--base-events N] [--sizes 10,30] [--slowest K]
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.lakes import FLEET, lake_parser, print_slowest
from ingestion.fleet import FleetConfig
from smartcity import marts
from smartcity.config import Settings
from smartcity.marts import build_and_export
from smartcity.synthetic import copy_fleet, fleet_payloads, land, newest_event, raw_files, raw_rows


def add_minute(lake: Path, seed: int) -> int:
    """One minute of a fleet after the newest event, landed now: what arrives between two cycles."""
    before = raw_rows(lake)
    fleet = FleetConfig(
        vehicles=200, seed=seed, start=newest_event(lake).astimezone(UTC) + timedelta(seconds=1), departure_window_s=1
    )
    land(lake, fleet_payloads(fleet, duration_s=60), first_offset=seed * 10**8, sent_at=datetime.now(UTC))
    return raw_rows(lake) - before


def cycle(settings: Settings, tests_since: datetime | None, runner, slowest: int) -> float:
    began = time.perf_counter()
    assert build_and_export(settings, runner, tests_since=tests_since), "dbt build failed (see data/dbt/logs)"
    elapsed = time.perf_counter() - began
    print_slowest(settings.data_dir / "dbt" / "target" / "run_results.json", slowest)
    return elapsed


def main(argv: list[str] | None = None) -> None:
    from dbt.cli.main import dbtRunner

    parser = lake_parser(__doc__)
    parser.add_argument("--sizes", default="10,30", help="lake sizes in multiples of the base fleet")
    parser.add_argument("--slowest", type=int, default=0, help="also list the K slowest nodes of each cycle")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    # The refresher looks a few minutes further back than its previous build; in a lake grown over
    # hours that reaches only the last cycles, here it would reach the copies written a moment ago.
    marts.TESTS_LOOKBACK = timedelta(0)
    fleet = FLEET
    with tempfile.TemporaryDirectory(prefix="smartcity-refresh-bench-") as tmp:
        root = Path(tmp)
        lake = root / "lake"
        settings = Settings(None, "", 4, root, str(lake), str(root / "checkpoints"), marts_every_s=60)
        land(lake, fleet_payloads(fleet, duration_s=None, max_events=args.base_events), 0, datetime.now(UTC))
        base_files = raw_files(lake)
        copies, runner = 0, dbtRunner()
        print(f"{'raw events':>12}{'new events':>12}{'tests over':>14}{'cycle (s)':>11}")
        for size in sizes:
            copy_fleet(lake, size - 1 - copies, base_files, hours_apart=1, first=copies + 1)
            copies = size - 1
            began = time.perf_counter()
            assert build_and_export(settings, runner)  # the build that brings the warehouse up to the lake
            print(f"{raw_rows(lake):>12,}{'':>12}{'first build':>14}{time.perf_counter() - began:>11.1f}")
            for label, windowed in (("whole lake", False), ("new hours", True)):
                since = datetime.now(UTC)  # the previous cycle started now: what lands next is new
                added = add_minute(lake, seed=100 + size * 2 + windowed)
                elapsed = cycle(settings, since if windowed else None, runner, args.slowest)
                print(f"{raw_rows(lake):>12,}{added:>12,}{label:>14}{elapsed:>11.1f}")


if __name__ == "__main__":
    main()
