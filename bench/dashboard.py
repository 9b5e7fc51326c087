"""The dashboard at scale (`make bench`): every panel's query and the page in Chromium, over a lake of
10M raw events (the 1M fleet of bench/dbt_build.py plus nine fleets an hour apart) and its marts.

    python -m bench.dashboard [--base-events N] [--copies K] [--repeat R]
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.lakes import FLEET, lake_parser
from dashboard.data import DashboardData
from smartcity.config import Settings
from smartcity.marts import build_and_export
from smartcity.synthetic import copy_fleet, fleet_payloads, land, raw_files, raw_rows

PANELS = (
    "kpis",
    "positions",
    "pipeline_health",
    "quarantine_reasons",
    "speed_over_time",
    "segments_last_hour",
    "incidents_over_time",
    "weather",
    "heatmap",
)


def panel_times(data: DashboardData, repeat: int) -> dict[str, float]:
    """Median wall time of each panel's data, in ms."""
    times = {}
    for panel in PANELS:
        runs = []
        for _ in range(repeat):
            began = time.perf_counter()
            getattr(data, panel)()
            runs.append((time.perf_counter() - began) * 1000)
        times[panel] = statistics.median(runs)
    return times


def page_seconds(settings: Settings, repeat: int) -> list[float]:
    """From navigation to every panel drawn (`?refresh=off`), in a fresh Chromium page each time."""
    from playwright.sync_api import sync_playwright

    from smartcity.broker import free_port, wait_until_listening
    from smartcity.cli.dashboard import command

    port = free_port()
    argv, env = command(settings, port)
    server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening("127.0.0.1", port, timeout_s=60)
        seconds = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            for n in range(repeat + 1):
                page = browser.new_page(viewport={"width": 1600, "height": 2000})
                began = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/?refresh=off")
                page.wait_for_selector('.st-key-route_map [data-testid="stVegaLiteChart"] svg.marks', timeout=60_000)
                page.wait_for_function(
                    """() => document.querySelectorAll('[data-testid="stVegaLiteChart"] svg.marks').length === 5
                        && document.querySelectorAll('[data-testid="stTable"]').length === 2""",
                    timeout=60_000,
                )
                if n:  # the first load warms Streamlit's and Chromium's caches
                    seconds.append(time.perf_counter() - began)
                page.close()
            browser.close()
        return seconds
    finally:
        server.terminate()
        server.wait(20)


def main(argv: list[str] | None = None) -> None:
    parser = lake_parser(__doc__)
    parser.add_argument("--copies", type=int, default=9, help="extra fleets copied from it")
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (the median is shown)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="smartcity-dashboard-bench-") as tmp:
        root = Path(tmp)
        lake = root / "lake"
        fleet = FLEET
        land(lake, fleet_payloads(fleet, None, args.base_events), first_offset=0, sent_at=datetime.now(UTC))
        base_files = raw_files(lake)
        copy_fleet(lake, args.copies, base_files, hours_apart=1)
        print(f"lake       {raw_rows(lake):>11,} raw events in {len(raw_files(lake)):,} files")
        settings = Settings(None, "", 4, root, str(lake), str(root / "ck"))
        began = time.perf_counter()
        assert build_and_export(settings), "dbt build failed"
        print(f"dbt build + marts export: {time.perf_counter() - began:.1f} s (the refresher's cycle, first build)")
        began = time.perf_counter()
        assert build_and_export(settings)
        print(f"incremental dbt build + marts export, nothing new: {time.perf_counter() - began:.1f} s")
        times = panel_times(DashboardData(lake), args.repeat)
        print(f"{'panel':<22}{'median ms':>10}   (target < 300 ms each)")
        for panel, ms in times.items():
            print(f"{panel:<22}{ms:>10.0f}")
        loads = page_seconds(settings, args.repeat)
        print(
            f"page in Chromium, navigation to every panel drawn: median {statistics.median(loads):.2f} s, "
            f"max {max(loads):.2f} s over {len(loads)} loads (target < 3 s)"
        )


if __name__ == "__main__":
    main()
