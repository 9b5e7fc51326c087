"""`make stream` (= `smartcity up`) as users run it: broker, Spark job and simulator started
together, the lake readable by DuckDB, and everything the command started stopped at exit."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from contract import BY_NAME
from contract.lake import mart_path
from smartcity.broker import EmbeddedBroker
from tests.helpers.cli import command, environment
from tests.helpers.kafka import end_offsets
from tests.helpers.lake import query, relation
from tests.helpers.launch import Launcher
from tests.helpers.processes import descendants, listening, wait_gone


def up(launch: Launcher, data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return launch.run("up", *args, data_dir=data_dir, **env)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_lands_every_stream_readable_by_duckdb_and_stops_what_it_started(tmp_path: Path, launch: Launcher) -> None:
    # A backlog in the data folder's broker, from before the run (`simulate` starts the broker, which
    # keeps it across the stop): `up` must land it as well as what it sends, before it stops.
    summary = tmp_path / "backlog.json"
    backlog = launch.run(
        "simulate", "--backfill", "--vehicles", "20", "--duration", "600", "--summary-json", str(summary),
        data_dir=tmp_path,
    )  # fmt: skip
    assert backlog.returncode == 0, backlog.stderr[-3000:]
    assert launch.run("broker", "stop", data_dir=tmp_path).returncode == 0
    result = up(launch, tmp_path, "--vehicles", "20", "--speedup", "20", "--duration", "30", SMARTCITY_MARTS_EVERY="10")
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stderr
    produced = Counter(json.loads(re.search(r"\[up\] simulator done: (\{.*\})", log).group(1))["per_topic"])
    produced.update(json.loads(summary.read_text())["per_topic"])
    job_pid = int(re.search(r"\[up\] spark job pid (\d+)", log).group(1))
    broker_port = int(re.search(r"\[up\] embedded broker \(Apache Kafka 4[\d.]+\) at 127\.0\.0\.1:(\d+)", log).group(1))

    lake = tmp_path / "lake"
    landed = {}
    for name, event_type in BY_NAME.items():
        if produced.get(event_type.topic):
            landed[name] = query(
                f"select count(*), count(distinct event_id), min(event_hour) >= 0 from {relation(lake, name)}"
            )[0]
    # Four streams always flow; incidents are random (seeded) and usually do too.
    assert {"vehicle", "gps", "traffic", "weather"} <= set(landed)
    for name, (rows, distinct, partitioned) in landed.items():
        assert rows == distinct > 0 and partitioned, name
    # The job lands what the broker holds, then stops: the backlog and what this run sent, all of it.
    assert sum(rows for rows, _, _ in landed.values()) == sum(produced.values())
    # The screen: the status line every few seconds (not a terminal here), no per-batch log lines;
    # those, Spark's and the refresher's go to the log file the screen names.
    logs = tmp_path / "logs" / "up.log"
    assert f"logs {logs}" in log
    status = [line for line in log.splitlines() if line.startswith("[status] ")]
    assert len(status) >= 3 and all(len(line) < 200 for line in status)
    assert "msg=batch stream=" not in log and "log4j" not in log
    assert "msg=batch stream=vehicle" in logs.read_text()
    # The marts were built and handed to the dashboard as Parquet files, last after the job stopped.
    assert "marts rebuilt and exported" in logs.read_text()
    assert re.search(r"\[up\] marts built and exported in [\d.]+ s\n(.*\n)*\[up\] stopping the broker", log)
    # The status line says where the marts stand (when a build lands between two lines is timing).
    assert all(re.search(r", marts (built \d+ s ago|first build within \d+ s|last build failed)", x) for x in status)
    speed = query(f"select sum(readings) from read_parquet('{mart_path(lake, 'fct_vehicle_speed_hourly')}')")[0][0]
    assert speed == landed["vehicle"][0], "the last build holds every vehicle reading the run landed"

    assert not alive(job_pid), "the Spark job outlived `smartcity up`"
    probe = subprocess.run(
        [sys.executable, "-c", f"import socket; socket.create_connection(('127.0.0.1', {broker_port}), 1)"],
        capture_output=True,
    )
    assert probe.returncode != 0, "the embedded broker outlived `smartcity up`"


def test_up_stops_at_once_when_the_spark_job_dies(tmp_path: Path, launch: Launcher) -> None:
    """A job that cannot start (here: a lake URI with an unknown scheme) ends the whole command
    with the job's error, instead of simulating for the rest of the 10 minutes asked for."""
    began = time.monotonic()
    result = up(launch, tmp_path, "--vehicles", "2", "--duration", "600", SMARTCITY_LAKE_ROOT="nowhere://lake")
    assert result.returncode == 1, result.stderr[-2000:]
    assert time.monotonic() - began < 120
    assert "smartcity: error: SMARTCITY_LAKE_ROOT: unsupported scheme 'nowhere'" in result.stderr
    assert re.search(r"\[up\] the Spark job exited with code 1; stopping", result.stderr)
    assert "Traceback" not in result.stderr


# -- stopping, second runs and network exposure, as users meet them ------------------------------


def start_up(launch: Launcher, data_dir: Path, log: Path, *args: str, **env: str) -> subprocess.Popen:
    """`smartcity up` in a process group of its own, as a terminal runs it."""
    return launch.start("up", "--vehicles", "10", *args, data_dir=data_dir, log=log, **env)


def wait_until_landing(log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and re.search(r"\[status\] .*landed [1-9][\d,]* rows this run", log.read_text()):
            return
        time.sleep(0.5)
    raise AssertionError(f"nothing landed within {timeout_s}s:\n{log.read_text()[-3000:]}")


def sent_this_run(log: str) -> int:
    return json.loads(re.search(r"\[up\] simulator done: (\{.*\})", log).group(1))["sent"]


def raw_rows(lake: Path, since: str = "1970-01-01") -> tuple[int, int]:
    """(rows, distinct event ids) over every stream, for rows landed at or after ``since`` (UTC)."""
    every = " union all ".join(f"select event_id, ingested_at from {relation(lake, s)}" for s in BY_NAME)
    rows = query(
        f"select count(*), count(distinct event_id) from ({every}) where ingested_at >= '{since}'::timestamptz"
    )
    return rows[0]


def test_sigterm_stops_in_order_and_a_second_run_is_refused_while_everything_listens_on_loopback(
    tmp_path: Path, launch: Launcher
) -> None:
    log = tmp_path / "up.log"
    first = start_up(launch, tmp_path / "data", log)
    try:
        wait_until_landing(log)
        run = descendants(first.pid)
        addresses = listening(run)
        assert addresses, "the run listens on nothing?"
        assert addresses <= {"127.0.0.1", "::1"}, addresses

        second = up(launch, tmp_path / "data", "--vehicles", "2", "--duration", "5")
        assert second.returncode == 1
        assert f"data folder {tmp_path / 'data'} is in use by pid {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        job_pid = int(re.search(r"\[up\] spark job pid (\d+)", log.read_text()).group(1))
        stream = launch.run("stream", "--bootstrap", "127.0.0.1:9", "--available-now", data_dir=tmp_path / "data")
        assert stream.returncode == 1
        assert f"checkpoint folder {tmp_path / 'data' / 'checkpoints'} is in use by pid {job_pid}" in stream.stderr

        first.send_signal(signal.SIGTERM)  # what a process manager or `kill` does: this process only
        assert first.wait(240) == 0
    finally:
        first.kill()
    out = log.read_text()
    assert "Traceback" not in out
    for step in ("SIGTERM: stopping in order", "stopping the Spark job", "stopping the broker"):
        assert f"[up] {step}" in out
    sent = sent_this_run(out)
    assert sent > 0
    assert raw_rows(tmp_path / "data" / "lake") == (sent, sent)
    assert wait_gone(run, 15) == {}, "a process of the run outlived it"


def test_a_killed_run_leaves_nothing_behind_and_the_next_run_lands_everything_after_ctrl_c(
    tmp_path: Path, launch: Launcher
) -> None:
    data = tmp_path / "data"
    killed_log = tmp_path / "killed.log"
    killed = start_up(launch, data, killed_log)
    wait_until_landing(killed_log)
    run = descendants(killed.pid)
    killed.send_signal(signal.SIGKILL)
    killed.wait(10)
    # Each child gets SIGTERM from the kernel as its parent dies; the job, finding its broker gone too,
    # stops at once instead of retrying it, and quietly.
    assert wait_gone(run, 60) == {}, "the job or the broker outlived a killed `smartcity up`"
    assert "Traceback" not in (data / "logs" / "up.log").read_text()

    # The next run needs no clean-up: the locks died with their holders, and the broker starts again on
    # its data, so the job goes on from its checkpoint with nothing reset. It binds wider only when asked.
    log = tmp_path / "up.log"
    second = start_up(launch, data, log, SMARTCITY_BIND_ADDRESS="0.0.0.0")
    try:
        wait_until_landing(log)
        second_run = descendants(second.pid)
        assert listening(second_run) & {"0.0.0.0", "::"}  # Java's any-address is dual-stack
        os.killpg(second.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
        assert second.wait(240) in (0, 130)
    finally:
        second.kill()
    assert wait_gone(second_run, 15) == {}, "a process of the run outlived Ctrl-C"
    out = log.read_text()
    assert "Traceback" not in out
    assert re.search(r"\[up\] stopped; [\d,]+ of the [\d,]+ events sent this run landed\n", out), out[-2000:]
    assert "were reset" not in out, out[-2000:]
    # Every event both runs sent is in the broker's data folder, and landed once: the killed run's too.
    rows, distinct = raw_rows(data / "lake")
    assert rows == distinct, "an event landed twice"
    with EmbeddedBroker(data / "kafka") as kept:
        assert rows == sum(end_offsets(kept.bootstrap).values()) > sent_this_run(out)


def test_sighup_to_the_process_group_stops_in_order_like_a_closing_terminal(tmp_path: Path, launch: Launcher) -> None:
    log = tmp_path / "up.log"
    run = start_up(launch, tmp_path / "data", log)
    try:
        wait_until_landing(log)
        processes = descendants(run.pid)
        os.killpg(run.pid, signal.SIGHUP)  # what a terminal sends its foreground group as it closes
        assert run.wait(240) == 0
    finally:
        run.kill()
    assert wait_gone(processes, 15) == {}, "a process of the run outlived SIGHUP"
    out = log.read_text()
    assert "[up] SIGHUP: stopping in order" in out and "[up] stopping the broker" in out
    sent = sent_this_run(out)
    assert sent > 0 and raw_rows(tmp_path / "data" / "lake") == (sent, sent)
    assert "Traceback" not in out + (tmp_path / "data" / "logs" / "up.log").read_text()


def test_ctrl_c_with_the_output_piped_through_tee_still_stops_in_order(tmp_path: Path, launch: Launcher) -> None:
    data, copy = tmp_path / "data", tmp_path / "tee.log"
    # The terminal's Ctrl-C reaches the whole pipeline: tee dies with it, and every later write of
    # `smartcity up` to the pipe fails (EPIPE). The shutdown must go on regardless.
    pipeline = subprocess.Popen(
        f"{shlex.join(command('up', '--vehicles', '10'))} 2>&1 | tee {shlex.quote(str(copy))} >/dev/null",
        shell=True,
        env=environment(data),
        start_new_session=True,
    )
    launch.started.append(pipeline)
    try:
        wait_until_landing(copy)
        processes = descendants(pipeline.pid)
        os.killpg(pipeline.pid, signal.SIGINT)
        pipeline.wait(240)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pipeline.pid, signal.SIGKILL)
    assert wait_gone(processes, 240) == {}, "a process of the run outlived Ctrl-C"
    out = (data / "logs" / "up.log").read_text()
    assert "Traceback" not in out
    assert "SIGINT: stopping in order" in out and "stopping the broker" in out
    sent = json.loads(re.search(r"msg=simulator done: (\{.*\})", out).group(1))["sent"]
    landed = re.search(r"stopped; ([\d,]+) of the ([\d,]+) events sent this run landed", out)
    assert landed and landed.group(1) == landed.group(2) == f"{sent:,}", out[-2000:]
    assert raw_rows(data / "lake") == (sent, sent)


def test_the_status_line_and_table_sum_the_job_metrics() -> None:
    from collections import Counter
    from datetime import UTC, datetime

    from contract.metrics import BatchRow, DataLossRow, decode, encode
    from smartcity.status import StatusBoard

    board = StatusBoard("p_", Counter({"p_vehicle_data": 120, "p_gps_data": 80}), "/data/logs/up.log")
    at = "2026-11-24T09:00:00.000+00:00"
    rows = [
        BatchRow(at, "vehicle", 3, input_rows=102, rows=100, quarantined=2, source_lag_records=18),
        BatchRow(at, "gps", 3, input_rows=80, rows=80, source_lag_records=0),
        DataLossRow("p_gps_data", 0, 10, 0, 5, "offsets moved back", None, at=at, stream="gps", action="continued"),
    ]
    assert [decode(encode(row)) for row in rows] == rows  # the file's rows read back as written
    board.update(rows)
    line = board.line(now=datetime(2026, 11, 24, 9, 0, 4, tzinfo=UTC))
    assert line.startswith("[status] sent 200 (")
    assert "landed 180 rows this run, quarantined 2, lag 18, last batch 4.0 s ago" in line
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(board.table(now=datetime(2026, 11, 24, 9, 0, 4, tzinfo=UTC)))
    text = console.export_text()
    assert re.search(r"vehicle\s+│\s+120\s+│\s+100\s+│\s+2\s+│\s+18\s+│\s+4.0 s ago", text), text
    assert "/data/logs/up.log" in text
