"""The CLI as users run it: a subprocess, one clear line on errors, no tracebacks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from smartcity.broker import EmbeddedBroker, free_port
from tests.helpers.cli import smartcity
from tests.helpers.kafka import end_offsets
from tests.helpers.launch import Launcher


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--vehicles", "0"], "--vehicles: must be positive"),
        (["simulate", "--vehicles", "many"], "--vehicles: not a int"),
        (["simulate", "--malformed-rate", "1.5"], "--malformed-rate: must be between 0 and 1"),
        (["simulate", "--start", "yesterday"], "--start: not an ISO-8601 time"),
        (["simulate", "--backend", "rdkafka"], "--backend: invalid choice"),
        (["simulate", "--speedup", "2", "--backfill"], "not allowed with argument"),
        (["broker", "restart"], "invalid choice"),
        (["launch"], "invalid choice"),
        (["stream", "--streams", "bikes"], "unknown stream"),
        (["compact", "--grace", "-5"], "--grace: must be positive"),
        (["compact", "--zone", "gold"], "--zone: invalid choice"),
    ],
)
def test_bad_arguments_give_one_clear_line(args: list[str], message: str) -> None:
    result = smartcity(*args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert message in lines[0] and "Traceback" not in result.stderr


def test_unreachable_broker_is_one_line_and_non_zero(tmp_path: Path) -> None:
    result = smartcity("simulate", "--bootstrap", f"127.0.0.1:{free_port()}", "--max-events", "5", data_dir=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "no Kafka broker reachable" in result.stderr and "Traceback" not in result.stderr


def test_bad_config_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTCITY_TOPIC_PARTITIONS", "lots")
    result = smartcity("topics", data_dir=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "smartcity: error: SMARTCITY_TOPIC_PARTITIONS must be an integer, got 'lots'"


@pytest.mark.parametrize("command", [["stream", "--bootstrap", "127.0.0.1:9"], ["compact"]])
def test_a_lake_root_nothing_can_write_to_is_one_line(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTCITY_LAKE_ROOT", "nowhere://lake")
    result = smartcity(*command, data_dir=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "smartcity: error: SMARTCITY_LAKE_ROOT: unsupported scheme 'nowhere' in 'nowhere://lake' "
        "(use a path or file, s3a, s3, gs, hdfs, abfs, abfss)"
    )


def test_help_for_every_command() -> None:
    for command in ([], ["simulate"], ["broker"], ["topics"], ["stream"], ["compact"], ["up"]):
        result = smartcity(*command, "--help")
        assert result.returncode == 0 and "usage: smartcity" in result.stdout


def test_broker_lifecycle_and_simulate_through_the_cli_and_a_restart_keeps_topics_and_offsets(
    tmp_path: Path, launch: Launcher
) -> None:
    stopped = launch.run("broker", "status", data_dir=tmp_path)
    assert stopped.returncode == 3 and f"not running; data {tmp_path / 'kafka'}" in stopped.stdout
    started = launch.run("broker", "start", data_dir=tmp_path)
    assert started.returncode == 0, started.stderr
    try:
        state = json.loads((tmp_path / "kafka" / "broker.json").read_text())
        status = launch.run("broker", "status", data_dir=tmp_path)
        assert status.returncode == 0 and state["bootstrap"] in status.stdout
        assert re.search(r"Apache Kafka 4\.\d+\.\d+\) running at ", status.stdout), status.stdout
        assert f"data {tmp_path / 'kafka'}" in status.stdout
        result = launch.run(
            "simulate",
            "--vehicles",
            "5",
            "--backfill",
            "--duration",
            "300",
            "--departure-window",
            "30",
            "--start",
            "2026-11-23T08:00:00Z",
            "--summary-json",
            str(tmp_path / "s.json"),
            data_dir=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert summary["bootstrap"] == state["bootstrap"]
        assert summary["sent"] == sum(summary["per_topic"].values()) > 1000
        assert summary["failed"] == 0
        assert json.loads((tmp_path / "s.json").read_text())["sent"] == summary["sent"]
        # Stopped and started again, the broker still holds every topic and every offset.
        assert "stopped" in launch.run("broker", "stop", data_dir=tmp_path).stdout
        assert launch.run("broker", "start", data_dir=tmp_path).returncode == 0
        bootstrap = json.loads((tmp_path / "kafka" / "broker.json").read_text())["bootstrap"]
        assert {t: n for t, n in end_offsets(bootstrap).items() if n} == summary["per_topic"]
    finally:
        stopped = launch.run("broker", "stop", data_dir=tmp_path)
    assert "stopped" in stopped.stdout
    assert launch.run("broker", "status", data_dir=tmp_path).returncode == 3


@pytest.mark.broker  # starts one of its own, not through a fixture
def test_embedded_broker_stops_cleanly() -> None:
    broker = EmbeddedBroker()
    broker.start()
    process = broker.process
    broker.stop()
    assert process is not None and process.poll() is not None


def test_compact_on_an_empty_lake_reports_nothing_to_do(tmp_path: Path) -> None:
    result = smartcity("compact", "--dry-run", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == [
        "would merge 0 files into 0 (one per closed hour); 0 duplicate rows dropped",
        "0 snapshots expired, 0 orphan files found",
    ]


def test_a_fleet_too_big_for_its_event_ids_is_one_line_before_a_broker_starts(tmp_path: Path) -> None:
    result = smartcity("simulate", "--vehicles", "2000000", data_dir=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "smartcity: error: --vehicles must be between 1 and 1,048,576, got 2000000"
    assert not list(tmp_path.rglob("*")), "nothing started, nothing written"


def test_only_the_projects_own_errors_are_one_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from contract.errors import InvalidSetting
    from smartcity.cli import main as cli
    from smartcity.config import Settings

    def fails(error: Exception):
        def from_env() -> Settings:
            raise error

        return from_env

    monkeypatch.setattr(Settings, "from_env", fails(InvalidSetting("--speedup must be positive, got 0")))
    assert cli.main(["topics"]) == 1
    assert capsys.readouterr().err == "smartcity: error: --speedup must be positive, got 0\n"
    # Any other error is a bug: it keeps its traceback instead of passing for a user's mistake.
    monkeypatch.setattr(Settings, "from_env", fails(ValueError("not enough values to unpack")))
    with pytest.raises(ValueError, match="not enough values"):
        cli.main(["topics"])
