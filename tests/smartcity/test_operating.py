"""Operating a run: the alert rules (promtool), and a real Prometheus server scraping `smartcity up`."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from smartcity.broker import free_port
from tests.helpers.lake import catalog
from tests.helpers.launch import Launcher

RULES = Path(__file__).resolve().parents[2] / "ops" / "prometheus"


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise AssertionError(f"{name} is not installed (Debian's prometheus package; .ci/run installs it)")
    return found


def test_alert_rules_are_valid_and_their_unit_tests_pass() -> None:
    checked = subprocess.run([tool("promtool"), "check", "rules", str(RULES / "alerts.yml")], capture_output=True)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    assert b"7 rules found" in checked.stdout
    for config in ("prometheus.yml", "prometheus-compose.yml"):
        result = subprocess.run([tool("promtool"), "check", "config", "--syntax-only", str(RULES / config)])
        assert result.returncode == 0, config
    tested = subprocess.run(
        [tool("promtool"), "test", "rules", "alerts_test.yml"], cwd=RULES, capture_output=True, text=True
    )
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def api(base: str, path: str, **params: str) -> dict:
    url = f"{base}/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=10) as answer:
        body = json.load(answer)
    assert body["status"] == "success", body
    return body["data"]


def ready(base: str, timeout_s: float = 60) -> None:
    """Prometheus listens before it serves queries (503 while its storage opens)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{base}/-/ready", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:  # refused, or HTTPError 503
            pass
        assert time.monotonic() < deadline, "prometheus did not become ready"
        time.sleep(0.5)


def scalar(base: str, expr: str) -> float | None:
    result = api(base, "query", query=expr)["result"]
    return float(result[0]["value"][1]) if result else None


EXPECTED = {
    "smartcity_stream_records_read_total",
    "smartcity_stream_records_landed_total",
    "smartcity_stream_batches_total",
    "smartcity_stream_batch_duration_seconds_bucket",
    "smartcity_stream_commit_duration_seconds_bucket",
    "smartcity_stream_source_lag_records",
    "smartcity_stream_event_time_lag_seconds",
    "smartcity_stream_newest_event_timestamp_seconds",
    "smartcity_stream_last_batch_timestamp_seconds",
    "smartcity_simulator_events_sent_total",
    "smartcity_simulator_send_failures_total",
    "smartcity_marts_refreshes_total",
    "smartcity_marts_refresh_duration_seconds_bucket",
    "smartcity_process_resident_memory_bytes",
}


def test_prometheus_scrapes_a_running_up_and_its_numbers_agree_with_the_lake(tmp_path: Path, launch: Launcher) -> None:
    metrics_port, prometheus_port = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{RULES / 'alerts.yml'}']\n"
        f"scrape_configs: [{{job_name: smartcity, static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]}}]\n"
    )
    prometheus = subprocess.Popen(
        [
            tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("w"),
    )
    base = f"http://127.0.0.1:{prometheus_port}"
    data = tmp_path / "data"
    run = launch.start(
        "up", "--vehicles", "10", "--metrics-port", str(metrics_port),
        data_dir=data, log=tmp_path / "up.out", SMARTCITY_MARTS_EVERY="5",
    )  # fmt: skip
    try:
        ready(base)
        deadline = time.monotonic() + 240
        while True:
            names = set(api(base, "label/__name__/values"))
            refreshed = scalar(base, "sum(smartcity_marts_refreshes_total)") or 0
            if (
                names >= EXPECTED
                and refreshed >= 1
                and (scalar(base, "sum(smartcity_stream_records_landed_total)") or 0)
            ):
                break
            assert run.poll() is None, (tmp_path / "up.out").read_text()[-3000:]
            assert time.monotonic() < deadline, f"missing series: {sorted(EXPECTED - names)}"
            time.sleep(1)

        # A scrape against the lake's snapshots: Prometheus holds the value of its last scrape, some
        # batches behind the lake, so each stream's count must be exactly the rows of its first k batches
        # for some k (a batch's rows count once its progress is reported, just after its snapshot commits).
        lake = data / "lake"
        for _ in range(10):
            scraped = {
                r["metric"]["stream"]: float(r["value"][1])
                for r in api(base, "query", query="smartcity_stream_records_landed_total")["result"]
            }
            batches = landed_batches(lake)
            prefixes: dict[str, list[int]] = {}
            for stream, _batch, n in batches:
                sums = prefixes.setdefault(stream, [0])
                sums.append(sums[-1] + n)
            if all(scraped.get(s, 0) in sums for s, sums in prefixes.items()):
                break
            time.sleep(1)  # a scrape between a batch's commit and its progress row: once more
        else:
            pytest.fail(f"Prometheus counts are no batch boundary of the lake: {scraped} vs {prefixes}")
        landed = sum(scraped.values())
        sent = scalar(base, "sum(smartcity_simulator_events_sent_total)")
        assert sent is not None and sent >= landed > 0
        assert scalar(base, 'smartcity_process_resident_memory_bytes{process="job"}') > 200e6  # the JVM is in it
        assert scalar(base, 'smartcity_process_resident_memory_bytes{process="broker"}') > 1e6
        assert scalar(base, "sum(smartcity_stream_batch_duration_seconds_count)") >= 1
        assert scalar(base, "smartcity_simulator_send_failures_total") == 0
        rules = [r for group in api(base, "rules")["groups"] for r in group["rules"]]
        written = [r["alert"] for g in yaml.safe_load((RULES / "alerts.yml").read_text())["groups"] for r in g["rules"]]
        assert sorted(r["name"] for r in rules) == sorted(written) and all(r["health"] == "ok" for r in rules), rules
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(240)
        finally:
            run.kill()
            prometheus.terminate()
            prometheus.wait(30)


def landed_batches(lake: Path) -> list[tuple[str, int, int]]:
    """(stream, batch id, rows) of each batch in the raw tables' snapshot history, in batch order."""
    from contract import lake as layout
    from lakehouse.commit import BATCH_ID
    from lakehouse.snapshot import load_table

    rows = []
    for stream in layout.STREAMS:
        table = load_table(catalog(lake), layout.RAW, stream)
        for snapshot in table.metadata.snapshots:
            summary = snapshot.summary
            if summary is not None and BATCH_ID in summary:
                rows.append((stream, int(summary[BATCH_ID]), int(summary["added-records"])))
    return sorted(rows)
