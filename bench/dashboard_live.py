"""The dashboard while the pipeline streams (`make bench`): `smartcity up` at its defaults, `smartcity
dashboard` beside it, and Chromium on the auto-refreshing page, as a user runs them.

- Freshness, event sent to visible on the page, per event (Kafka send time to the first page refresh
  that shows it; both clocks are this machine's). A refresh that shows a newest send time S_k at wall
  time r_k made visible every event sent after the previous refresh's S_(k-1), each after r_k minus its
  send time; events are taken as sent evenly over time (the fleet's ticks). Target p95 < 10 s.
- Marts lag: every second, how far the marts on screen trail the lake (wall clock minus the newest
  landing the marts include). Target: at most 90 s.

    python -m bench.dashboard_live [--seconds S]
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from smartcity.broker import free_port, wait_until_listening

SENT = re.compile(r"Newest event on screen: sent (\S+ \S+) UTC")
MARTS = re.compile(r"marts built from the data landed up to (\S+ \S+) UTC")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def event_ages(refreshes: list[tuple[datetime, datetime]], step_s: float = 0.01) -> list[float]:
    """Sent-to-visible seconds of events sent every ``step_s`` between consecutive refreshes."""
    ages = []
    for (previous, _), (newest, shown_at) in itertools.pairwise(refreshes):
        span = (newest - previous).total_seconds()
        first_age = (shown_at - newest).total_seconds()
        ages += [first_age + k * step_s for k in range(int(span / step_s))]
    return ages


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240, help="how long to watch the page (default 240)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="smartcity-live-bench-") as tmp,
        Path(tmp, "console.log").open("w") as log,
    ):
        port = free_port()
        env = os.environ | {"SMARTCITY_DATA_DIR": tmp, "SMARTCITY_DASHBOARD_PORT": str(port)}
        smartcity = [sys.executable, "-m", "smartcity"]
        up = subprocess.Popen([*smartcity, "up", "--duration", str(args.seconds + 90)], env=env, stdout=log, stderr=log)
        dashboard = subprocess.Popen([*smartcity, "dashboard"], env=env, stdout=log, stderr=log)
        refreshes: list[tuple[datetime, datetime]] = []  # (newest send time shown, when it first showed)
        lags: list[tuple[float, float]] = []  # (seconds into the run, marts lag)
        try:
            wait_until_listening("127.0.0.1", port, timeout_s=60)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1600, "height": 2000})
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector('[data-testid="stCaptionContainer"]', timeout=120_000)
                shown, began = None, time.monotonic()
                while time.monotonic() - began < args.seconds:
                    text = page.locator("body").inner_text()
                    now = datetime.now(UTC)
                    sent = SENT.search(text)
                    if sent and sent.group(1) != shown:
                        shown = sent.group(1)
                        refreshes.append((utc(shown), now))
                    marts = MARTS.search(text)
                    if marts:
                        lags.append((time.monotonic() - began, (now - utc(marts.group(1))).total_seconds()))
                    time.sleep(0.25)
                browser.close()
        finally:
            for process in (dashboard, up):
                process.terminate()
            for process in (dashboard, up):
                process.wait(120)
        print(f"watched the live page for {args.seconds:.0f} s (smartcity up at its defaults, refresh every 5 s)")
        log.flush()
        # `smartcity up` writes its full log under the data folder; the console has only the status lines.
        lines = Path(tmp, "logs", "up.log").read_text().splitlines()
        builds = [line.split("msg=")[-1].strip() for line in lines if "smartcity.marts" in line]
        print("refresher:", "; ".join(builds) or "no build finished")
        ages = event_ages(refreshes)
        if ages:
            print(
                f"freshness, event sent to visible: p50 {statistics.median(ages):.1f} s, "
                f"p95 {percentile(ages, 0.95):.1f} s, max {max(ages):.1f} s over {len(refreshes)} page updates "
                "(target p95 < 10 s)"
            )
        else:
            print("freshness: the page never showed two updates")
        if lags:
            worst = max(lag for _, lag in lags)
            print(
                f"marts on screen behind the lake: median {statistics.median(lag for _, lag in lags):.0f} s, "
                f"max {worst:.0f} s over {len(lags)} samples from {lags[0][0]:.0f} s into the run (target <= 90 s)"
            )
        else:
            print("marts lag: the page never showed the marts")


if __name__ == "__main__":
    main()
