"""The pipeline against a Kafka reachable only through TLS: stunnel in front of the embedded broker,
a test CA, broker and client certificates. Both simulator clients and the Spark job (driver and
tasks) land every event exactly once; every misconfiguration is one line; no secret leaks."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.events import BY_NAME, topic_name
from tests.helpers.cli import command, environment, smartcity
from tests.helpers.lake import count_rows
from tests.helpers.launch import Launcher
from tests.helpers.processes import descendants
from tests.helpers.tls import KEY_PASSWORD, Pki, TlsBroker, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def mutual(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    with TlsBroker(tmp_path_factory.mktemp("mtls"), pki, mutual=True) as broker:
        yield broker


@pytest.fixture(scope="module")
def one_way(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    with TlsBroker(tmp_path_factory.mktemp("tls"), pki) as broker:
        yield broker


def tls_env(broker: TlsBroker, pki: Pki, prefix: str, *, client_cert: bool = True, **extra: str) -> dict[str, str]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "KAFKA_SECURITY_PROTOCOL": "SSL",
        "KAFKA_SSL_CA_LOCATION": str(pki.ca),
        "SMARTCITY_TOPIC_PREFIX": prefix,
        "SMARTCITY_TOPIC_PARTITIONS": "2",
    }
    if client_cert:
        env |= {
            "KAFKA_SSL_CERTIFICATE_LOCATION": str(pki.client_cert),
            "KAFKA_SSL_KEY_LOCATION": str(pki.client_key_encrypted),
            "KAFKA_SSL_KEY_PASSWORD": KEY_PASSWORD,
        }
    return env | extra


def run_with_env(*args: str, data_dir: Path, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """``smartcity`` with the environment given: the one under test, KAFKA_BOOTSTRAP_SERVERS included."""
    return subprocess.run(
        command(*args), capture_output=True, text=True, timeout=timeout, env=environment(data_dir) | env
    )


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("smartcity: error: "), result.stderr[-2000:]
    return lines[0]


def secret_free(folder: Path) -> list[Path]:
    """Files under ``folder`` that contain the test secret."""
    return [p for p in folder.rglob("*") if p.is_file() and KEY_PASSWORD.encode() in p.read_bytes()]


def test_both_simulator_clients_and_up_land_every_event_once_over_mutual_tls_and_no_process_shows_the_secret(
    mutual: TlsBroker, pki: Pki, tmp_path: Path, launch: Launcher
) -> None:
    env = tls_env(mutual, pki, "mtls_", SMARTCITY_MARTS_EVERY="0")
    sent: Counter = Counter()
    for seed, backend in ((1, "kafka-python"), (2, "confluent")):
        summary = tmp_path / f"{backend}.json"
        result = run_with_env(
            "simulate", "--backfill", "--vehicles", "4", "--duration", "900", "--seed", str(seed),
            "--start", f"2026-11-20T0{seed}:00:00Z", "--backend", backend, "--summary-json", str(summary),
            data_dir=tmp_path, env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(summary.read_text())
        assert report["failed"] == 0 and report["sent"] > 0
        sent.update(report["per_topic"])

    # `smartcity up` against the secured cluster: its simulator (kafka-python) sends more, and its job
    # (driver and tasks) lands the backfills above and what it sent. While it runs, no process of the
    # run (up, the job's driver, its JVM, the Python workers) has the key's password on its command line.
    out = tmp_path / "up.out"
    run = launch.start("up", "--vehicles", "5", "--speedup", "20", "--duration", "8", data_dir=tmp_path, log=out, **env)
    commands: dict[int, bytes] = {}
    while run.poll() is None:
        for pid in descendants(run.pid):
            try:
                commands[pid] = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
        time.sleep(0.3)
    log = out.read_text()
    assert run.returncode == 0, log[-3000:]
    assert "embedded broker" not in log  # it ran against the cluster of KAFKA_BOOTSTRAP_SERVERS
    sent.update(json.loads(re.search(r"\[up\] simulator done: (\{.*\})", log).group(1))["per_topic"])
    assert any(b"java" in c for c in commands.values()) and len(commands) >= 4
    assert [c for c in commands.values() if KEY_PASSWORD.encode() in c] == []

    lake = tmp_path / "lake"
    for name, event_type in BY_NAME.items():
        expected = sent.get(topic_name(event_type, "mtls_"), 0)
        rows, distinct = count_rows(lake, name)
        assert rows == distinct == expected, (name, rows, distinct, expected)
    assert all(sent.get(topic_name(BY_NAME[n], "mtls_")) for n in ("vehicle", "gps", "weather")), sent
    # Nothing the run wrote (logs, metrics, checkpoints, the lake) holds the secret.
    assert KEY_PASSWORD not in log
    assert secret_free(tmp_path) == []


def test_mutual_tls_without_a_client_certificate_is_one_line(mutual: TlsBroker, pki: Pki, tmp_path: Path) -> None:
    env = tls_env(mutual, pki, "nocert_", client_cert=False)
    for backend in ("kafka-python", "confluent"):
        line = one_error_line(
            run_with_env("simulate", "--max-events", "10", "--backend", backend, data_dir=tmp_path, env=env)
        )
        assert "requires a client certificate (mutual TLS)" in line, line


def test_stream_with_a_wrong_ca_is_one_line_before_spark_starts(one_way: TlsBroker, pki: Pki, tmp_path: Path) -> None:
    env = tls_env(one_way, pki, "wrongca_", client_cert=False, KAFKA_SSL_CA_LOCATION=str(pki.other_ca))
    started = time.monotonic()
    line = one_error_line(run_with_env("stream", "--available-now", data_dir=tmp_path, env=env))
    assert "not signed by a CA the client trusts" in line and "KAFKA_SSL_CA_LOCATION" in line, line
    assert time.monotonic() - started < 20  # no Spark session was started for it


def test_a_plaintext_client_against_the_tls_port_is_one_line(one_way: TlsBroker, tmp_path: Path) -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": one_way.bootstrap, "SMARTCITY_TOPIC_PREFIX": "plain_"}
    line = one_error_line(run_with_env("simulate", "--max-events", "10", data_dir=tmp_path, env=env))
    assert "speaks TLS but the client connects in plaintext" in line, line


def test_a_certificate_for_another_host_is_one_line(pki: Pki, tmp_path: Path) -> None:
    with TlsBroker(tmp_path / "wrong-host", pki, cert=pki.wrong_host_cert, key=pki.wrong_host_key) as broker:
        env = tls_env(broker, pki, "host_", client_cert=False)
        line = one_error_line(run_with_env("topics", data_dir=tmp_path, env=env))
        assert "certificate is not valid for 127.0.0.1" in line, line
        # With host name verification off (KAFKA_SSL_ENDPOINT_IDENTIFICATION=none) the same cluster works.
        env["KAFKA_SSL_ENDPOINT_IDENTIFICATION"] = "none"
        result = run_with_env("topics", data_dir=tmp_path, env=env)
        assert result.returncode == 0 and "host_vehicle_data" in result.stdout, result.stderr


def test_failed_sasl_authentication_is_one_line_without_the_password(
    one_way: TlsBroker, pki: Pki, tmp_path: Path
) -> None:
    password = "sasl-pass-58d0a1"
    env = tls_env(
        one_way, pki, "sasl_", client_cert=False,
        KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        KAFKA_SASL_USERNAME="alice", KAFKA_SASL_PASSWORD=password,
    )  # fmt: skip
    line = one_error_line(run_with_env("simulate", "--max-events", "10", data_dir=tmp_path, env=env))
    assert line.startswith("smartcity: error: authentication failed at") and "SCRAM-SHA-512 as user alice" in line
    assert password not in line


def test_security_settings_without_a_cluster_are_refused_for_the_embedded_broker(pki: Pki, tmp_path: Path) -> None:
    result = smartcity(
        "simulate",
        "--max-events",
        "5",
        data_dir=tmp_path,
        KAFKA_SECURITY_PROTOCOL="SSL",
        KAFKA_SSL_CA_LOCATION=str(pki.ca),
    )
    line = one_error_line(result)
    assert "KAFKA_BOOTSTRAP_SERVERS is not" in line and "plaintext on loopback" in line
    assert not (tmp_path / "broker" / "broker.json").exists()  # no embedded broker was started for it
