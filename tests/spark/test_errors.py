"""Errors a person can act on: the job's locations and broker checked before Spark starts, and a query
that fails later reported in one line with its root cause, the whole error in a log file it names."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.events import BY_NAME, topic_name
from ingestion.fleet import FleetConfig
from smartcity.broker import EmbeddedBroker, ensure_topics, free_port
from spark.errors import root_cause
from tests.conftest import START
from tests.helpers.cli import command, environment, smartcity
from tests.helpers.kafka import produce
from tests.helpers.lake import count_rows
from tests.helpers.launch import Launcher


def one_line(result: subprocess.CompletedProcess) -> str:
    """The command's screen output minus Spark's start-up banner: exactly one error line, no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "py4j" not in result.stderr.lower(), result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("smartcity: error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    return errors[0].removeprefix("smartcity: error: ")


def two_vehicles(bootstrap: str, prefix: str, seed: int, duration_s: float) -> None:
    """A fleet of two on one-partition topics of its own: a few hundred events, enough for a first batch."""
    ensure_topics(bootstrap, prefix, partitions=1)
    produce(
        bootstrap,
        FleetConfig(vehicles=2, seed=seed, start=START, departure_window_s=1),
        prefix=prefix,
        duration_s=duration_s,
    )


@pytest.mark.parametrize(
    ("variable", "blocked", "label"),
    [
        ("SMARTCITY_LAKE_ROOT", "in-the-way/lake", "lake folder"),
        ("SMARTCITY_CHECKPOINT_ROOT", "in-the-way/checkpoints", "checkpoint folder"),
    ],
)
def test_a_location_that_cannot_be_written_is_named_before_spark_starts(
    variable: str, blocked: str, label: str, tmp_path: Path
) -> None:
    (tmp_path / "in-the-way").write_text("a file where a folder must go")
    began = time.monotonic()
    result = smartcity("stream", "--bootstrap", "127.0.0.1:9", data_dir=tmp_path, **{variable: str(tmp_path / blocked)})
    assert one_line(result).startswith(f"cannot write {label} {tmp_path / blocked}: not a directory")
    assert time.monotonic() - began < 15  # no Spark session was started


def test_a_quarantine_folder_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "quarantine").write_text("a file where a folder must go")
    result = smartcity("stream", "--bootstrap", "127.0.0.1:9", data_dir=tmp_path)
    assert one_line(result).startswith(f"cannot write quarantine folder {tmp_path / 'lake' / 'quarantine'}:")


def test_a_broker_that_does_not_answer_is_named_before_spark_starts(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    assert one_line(smartcity("stream", "--bootstrap", address, data_dir=tmp_path)) == (
        f"no Kafka broker reachable at {address}"
    )


def test_a_query_that_fails_mid_run_gives_its_root_cause_and_the_log_file(
    broker: EmbeddedBroker, tmp_path: Path, launch: Launcher
) -> None:
    prefix = "errors_commit_"
    two_vehicles(broker.bootstrap, prefix, seed=3, duration_s=60)
    blocked = tmp_path / "lake" / "raw" / "vehicle" / "data"
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the table's data files must go")
    result = launch.run(
        "stream", "--bootstrap", broker.bootstrap, "--available-now", "--streams", "vehicle",
        data_dir=tmp_path, SMARTCITY_TOPIC_PREFIX=prefix,
    )  # fmt: skip
    log = tmp_path / "logs" / "stream-errors.log"
    line = one_line(result)
    assert line.startswith(f"query vehicle failed: cannot write {blocked}/event_date="), line
    assert line.endswith(f": not a directory (whole error in {log})"), line
    assert "Traceback" in log.read_text() and "NotADirectoryError" in log.read_text()


def test_a_broker_that_stops_answering_mid_run_is_named(tmp_path: Path, launch: Launcher) -> None:
    prefix = "errors_gone_"
    with EmbeddedBroker() as gone:
        two_vehicles(gone.bootstrap, prefix, seed=4, duration_s=30)
        # A broker that stays away is reported after --broker-retry-seconds (a restart is survived within it).
        options = ("--streams", "vehicle", "--trigger-seconds", "1", "--broker-retry-seconds", "3")
        job = subprocess.Popen(
            command("stream", "--bootstrap", gone.bootstrap, *options),
            env=environment(tmp_path, SMARTCITY_TOPIC_PREFIX=prefix),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        launch.started.append(job)
        deadline = time.monotonic() + 240
        while not count_rows(tmp_path / "lake", "vehicle")[0]:
            if job.poll() is not None or time.monotonic() > deadline:
                job.kill()
                pytest.fail(f"the first batch never landed:\n{job.communicate()[1][-3000:]}")
            time.sleep(0.2)
    _, stderr = job.communicate(timeout=240)
    result = subprocess.CompletedProcess(job.args, job.returncode, "", stderr)
    assert one_line(result).startswith(f"query vehicle failed: the Kafka broker at {gone.bootstrap} stopped answering")
    assert "rdkafka" not in stderr


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (
            "An exception was raised by the Python Proxy. Return Message: Traceback (most recent call last):\n"
            '  File "x.py", line 1, in f\n'
            "PermissionError: [Errno 13] Permission denied: '/srv/lake/_staging'\n",
            "cannot write /srv/lake/_staging: permission denied",
        ),
        (
            "org.apache.spark.SparkException: Job aborted.\n"
            "Caused by: org.apache.spark.api.python.PythonException: Traceback (most recent call last):\n"
            "OSError: [Errno 28] No space left on device: '/data/lake/raw/gps/part.parquet'\n"
            "\tat org.apache.spark.api.python.BasePythonRunner.handlePythonException(PythonRunner.scala:1)\n",
            "cannot write /data/lake/raw/gps/part.parquet: no space left on device",
        ),
        ("TimeoutError: no records from t:0 for 120 s", "no records from t:0 for 120 s"),
        ("java.lang.IllegalStateException: checkpoint mismatch", "IllegalStateException: checkpoint mismatch"),
        ("something odd\nmore", "something odd"),
    ],
)
def test_root_cause_unwraps_spark_and_py4j(error: str, cause: str) -> None:
    assert root_cause(error) == cause


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB file system of its own (tmpfs; mounting needs root, which CI has)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_disk_that_fills_mid_drain_is_one_line_and_the_next_run_lands_every_event_once(
    broker: EmbeddedBroker, small_disk: Path, tmp_path: Path, launch: Launcher
) -> None:
    prefix = "fulldisk_"
    ensure_topics(broker.bootstrap, prefix, partitions=2)
    summary = produce(broker.bootstrap, FleetConfig(vehicles=30, seed=8, start=START), prefix=prefix, duration_s=1200)
    env = {"SMARTCITY_TOPIC_PREFIX": prefix, "SMARTCITY_LAKE_ROOT": str(small_disk / "lake")}
    args = ("stream", "--bootstrap", broker.bootstrap, "--available-now", "--max-offsets-per-trigger", "20000")
    full = launch.run(*args, data_dir=tmp_path, **env)
    assert "no space left on device" in one_line(full).lower()
    # Nothing but this command's own lines on the screen: Spark's and the executors' logs and the
    # Python tracebacks are in the log file.
    foreign = [line for line in full.stderr.splitlines() if line.strip() and " level=" not in line]
    assert foreign == [next(line for line in foreign if line.startswith("smartcity: error:"))], full.stderr[-3000:]
    assert "No space left on device" in (tmp_path / "logs" / "stream.log").read_text()

    subprocess.run(["mount", "-o", "remount,size=256m", str(small_disk)], check=True)
    again = launch.run(*args, data_dir=tmp_path, **env)
    assert again.returncode == 0, (tmp_path / "logs" / "stream-errors.log").read_text()[-6000:]
    for name, event_type in BY_NAME.items():
        expected = summary.per_topic.get(topic_name(event_type, prefix), 0)
        rows, distinct = count_rows(small_disk / "lake", name)
        assert rows == distinct == expected, (name, rows, distinct, expected)


def test_stream_alone_stops_in_order_on_sighup_with_nothing_on_the_screen_but_its_own_lines(
    broker: EmbeddedBroker, tmp_path: Path, launch: Launcher
) -> None:
    import signal
    import urllib.request

    prefix = "hup_"
    ensure_topics(broker.bootstrap, prefix, partitions=1)
    screen = tmp_path / "screen.txt"
    metrics_port = free_port()
    with screen.open("w") as out:
        job = subprocess.Popen(
            command(
                "stream", "--bootstrap", broker.bootstrap, "--trigger-seconds", "1", "--metrics-port", str(metrics_port)
            ),
            env=environment(tmp_path, SMARTCITY_TOPIC_PREFIX=prefix),
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
        launch.started.append(job)
    deadline = time.monotonic() + 180
    while "started 5 queries" not in screen.read_text():
        assert job.poll() is None and time.monotonic() < deadline, screen.read_text()[-3000:]
        time.sleep(0.5)
    # The job alone serves its metrics on the bind address too.
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as answer:
        assert b'smartcity_process_resident_memory_bytes{process="this process"}' in answer.read()
    job.send_signal(signal.SIGHUP)  # what the terminal sends as it closes
    assert job.wait(120) == 0, screen.read_text()[-3000:]
    shown = screen.read_text()
    assert "Traceback" not in shown + (tmp_path / "logs" / "stream.log").read_text()
    assert all(" level=" in line for line in shown.splitlines() if line.strip()), shown[-3000:]
