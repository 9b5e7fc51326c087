"""The pipeline against Apache Kafka secured as clusters are (tests/helpers/secure_kafka.py): SASL_SSL with
SCRAM-SHA-512, PLAIN and OAUTHBEARER, TLS with a client certificate, ACLs. Topic admin, both simulator clients and
the Spark job (driver and tasks) land every event exactly once through each; every misconfiguration is
one line; no secret shows on a command line or in a file of the run."""

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
from tests.helpers.cli import smartcity
from tests.helpers.kafka import end_offsets
from tests.helpers.lake import count_rows
from tests.helpers.launch import Launcher
from tests.helpers.processes import descendants
from tests.helpers.secure_kafka import (
    GRANTED,
    KEY_PASSWORD,
    PIPELINE_USER,
    PLAIN_PASSWORD,
    SCRAM_PASSWORD,
    WRITE_ONLY,
    Pki,
    SecuredKafka,
    make_pki,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secured(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredKafka]:
    with SecuredKafka(tmp_path_factory.mktemp("secured"), pki) as kafka:
        yield kafka


@pytest.fixture
def wrong_host(pki: Pki, tmp_path: Path) -> Iterator[SecuredKafka]:
    """A broker whose certificate names another host."""
    with SecuredKafka(tmp_path / "wrong-host", pki, cert=pki.wrong_host_cert, key=pki.wrong_host_key) as kafka:
        yield kafka


SECRETS = {"scram": SCRAM_PASSWORD, "plain": PLAIN_PASSWORD, "mtls": KEY_PASSWORD}
MODES = ["scram", "plain", "mtls", "oauth"]


def client_env(kafka: SecuredKafka, pki: Pki, mode: str, prefix: str, **extra: str) -> dict[str, str]:
    """The variables a user sets for each way in, and the topic prefix to use."""
    if mode == "oauth":
        properties = kafka.folder / "oauth.properties"  # what a user's client properties file says
        properties.write_text(
            f"enable.sasl.oauthbearer.unsecure.jwt=true\nsasl.oauthbearer.config=principal={PIPELINE_USER}\n"
        )
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka.sasl_ssl,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "OAUTHBEARER",
            "KAFKA_CLIENT_PROPERTIES": str(properties),
            "KAFKA_SSL_CA_LOCATION": str(pki.ca),
        }
    elif mode == "mtls":
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka.mtls,
            "KAFKA_SECURITY_PROTOCOL": "SSL",
            "KAFKA_SSL_CA_LOCATION": str(pki.ca),
            "KAFKA_SSL_CERTIFICATE_LOCATION": str(pki.client_cert),
            "KAFKA_SSL_KEY_LOCATION": str(pki.client_key_encrypted),
            "KAFKA_SSL_KEY_PASSWORD": KEY_PASSWORD,
        }
    else:
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka.sasl_ssl,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512" if mode == "scram" else "PLAIN",
            "KAFKA_SASL_USERNAME": PIPELINE_USER,
            "KAFKA_SASL_PASSWORD": SECRETS[mode],
            "KAFKA_SSL_CA_LOCATION": str(pki.ca),
        }
    return env | {"SMARTCITY_TOPIC_PREFIX": prefix, "SMARTCITY_TOPIC_PARTITIONS": "2"} | extra


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("smartcity: error: "), result.stderr[-2000:]
    return lines[0]


def files_with(folder: Path, secret: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def watched(launch: Launcher, *args: str, data_dir: Path, log: Path, env: dict[str, str]) -> tuple[int, list[bytes]]:
    """Run ``smartcity`` to its end, reading the command line of each of its processes meanwhile."""
    run = launch.start(*args, data_dir=data_dir, log=log, **env)
    commands: dict[int, bytes] = {}
    while run.poll() is None:
        for pid in descendants(run.pid):
            try:
                commands[pid] = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
        time.sleep(0.3)
    return run.returncode, list(commands.values())


@pytest.mark.parametrize("mode", MODES)
def test_topic_admin_both_simulator_clients_and_the_job_land_every_event_once_and_show_no_secret(
    mode: str, secured: SecuredKafka, pki: Pki, tmp_path: Path, launch: Launcher
) -> None:
    prefix = f"{GRANTED}{mode}_"
    env = client_env(secured, pki, mode, prefix, SMARTCITY_MARTS_EVERY="0")
    created = smartcity("topics", data_dir=tmp_path, **env)
    assert created.returncode == 0, created.stderr[-2000:]
    assert created.stdout.split() == [topic_name(et, prefix) for et in BY_NAME.values()]

    sent: Counter = Counter()
    backends = ((1, "kafka-python"), (2, "confluent"))
    if mode == "oauth":  # kafka-python takes OAUTHBEARER tokens only from MSK IAM here: one line says so
        refused = smartcity("simulate", "--max-events", "5", "--backend", "kafka-python", data_dir=tmp_path, **env)
        assert "use --backend confluent" in one_error_line(refused)
        backends = ((2, "confluent"),)
    for seed, backend in backends:
        summary = tmp_path / f"{backend}.json"
        result = smartcity(
            "simulate", "--backfill", "--vehicles", "4", "--duration", "900", "--seed", str(seed),
            "--start", f"2026-11-20T0{seed}:00:00Z", "--backend", backend, "--summary-json", str(summary),
            data_dir=tmp_path, **env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        report = json.loads(summary.read_text())
        assert report["failed"] == 0 and report["sent"] > 0
        sent.update(report["per_topic"])

    # The job lands the backfills: as `smartcity up` runs it (its own simulator, kafka-python, sends more)
    # for SCRAM, as a drain for the others. No process of the run has the secret on its command line.
    out = tmp_path / "run.out"
    if mode == "scram":
        code, commands = watched(
            launch, "up", "--vehicles", "5", "--speedup", "20", "--duration", "8", data_dir=tmp_path, log=out, env=env
        )
        log = out.read_text()
        assert code == 0, log[-3000:]
        assert "embedded broker" not in log  # it ran against the cluster of KAFKA_BOOTSTRAP_SERVERS
        sent.update(json.loads(re.search(r"\[up\] simulator done: (\{.*\})", log).group(1))["per_topic"])
    else:
        code, commands = watched(launch, "stream", "--available-now", data_dir=tmp_path, log=out, env=env)
        log = out.read_text()
        assert code == 0, log[-3000:]
    assert any(b"java" in c for c in commands) and len(commands) >= 3
    secret = SECRETS.get(mode)  # an unsecured token has none
    assert not secret or [c for c in commands if secret.encode() in c] == []

    lake = tmp_path / "lake"
    for name, event_type in BY_NAME.items():
        expected = sent.get(topic_name(event_type, prefix), 0)
        rows, distinct = count_rows(lake, name)
        assert rows == distinct == expected, (name, rows, distinct, expected)
    assert all(sent.get(topic_name(BY_NAME[n], prefix)) for n in ("vehicle", "gps", "weather")), sent
    # The broker holds exactly what the clients counted as sent: nothing twice, nothing lost.
    held = {t: n for t, n in end_offsets(secured.superuser).items() if t.startswith(prefix) and n}
    assert held == {t: n for t, n in sent.items() if n}
    # Nothing the run wrote (logs, metrics, checkpoints, the lake) holds the secret.
    assert not secret or (secret not in log and files_with(tmp_path, secret) == [])


@pytest.mark.parametrize(("mode", "mechanism"), [("scram", "SCRAM-SHA-512"), ("plain", "PLAIN")])
@pytest.mark.parametrize("backend", ["kafka-python", "confluent"])
def test_a_wrong_password_is_one_line_naming_mechanism_and_user_without_the_password(
    mode: str, mechanism: str, backend: str, secured: SecuredKafka, pki: Pki, tmp_path: Path
) -> None:
    wrong = "not-the-password-58d0a1"
    env = client_env(secured, pki, mode, f"{GRANTED}auth_", KAFKA_SASL_PASSWORD=wrong)
    started = time.monotonic()
    line = one_error_line(smartcity("simulate", "--max-events", "10", "--backend", backend, data_dir=tmp_path, **env))
    assert line.startswith(f"smartcity: error: authentication failed at {secured.sasl_ssl}"), line
    assert f"SASL_SSL/{mechanism} as user {PIPELINE_USER}" in line and wrong not in line, line
    assert time.monotonic() - started < 30  # no retry storm


@pytest.mark.parametrize("mode", ["scram", "mtls"])
def test_a_topic_without_an_acl_is_one_line_naming_topic_and_operation(
    mode: str, secured: SecuredKafka, pki: Pki, tmp_path: Path
) -> None:
    env = client_env(secured, pki, mode, "denied_")
    line = one_error_line(smartcity("simulate", "--max-events", "10", data_dir=tmp_path, **env))
    assert "not authorized to create topic denied_vehicle_data" in line, line
    assert "grant the ACL or use another principal" in line, line


def test_a_job_that_may_write_but_not_read_its_topics_is_one_line(
    secured: SecuredKafka, pki: Pki, tmp_path: Path
) -> None:
    env = client_env(secured, pki, "scram", f"{WRITE_ONLY}scram_")
    sent = smartcity("simulate", "--backfill", "--vehicles", "2", "--duration", "60", data_dir=tmp_path, **env)
    assert sent.returncode == 0, sent.stderr[-2000:]
    refused = smartcity("stream", "--available-now", "--streams", "vehicle", data_dir=tmp_path, **env)
    errors = [line for line in refused.stderr.splitlines() if "error" in line.lower()]
    assert refused.returncode == 1 and len(errors) == 1, refused.stderr[-3000:]  # the job logs its start, then one line
    line = errors[0]
    assert line.startswith("smartcity: error: query vehicle failed: "), line
    assert f"not authorized to read from topic {WRITE_ONLY}scram_vehicle_data" in line, line


def test_mutual_tls_without_a_client_certificate_is_one_line(secured: SecuredKafka, pki: Pki, tmp_path: Path) -> None:
    env = client_env(secured, pki, "mtls", f"{GRANTED}nocert_")
    for name in ("KAFKA_SSL_CERTIFICATE_LOCATION", "KAFKA_SSL_KEY_LOCATION", "KAFKA_SSL_KEY_PASSWORD"):
        del env[name]
    for backend in ("kafka-python", "confluent"):
        line = one_error_line(
            smartcity("simulate", "--max-events", "10", "--backend", backend, data_dir=tmp_path, **env)
        )
        assert "requires a client certificate (mutual TLS)" in line, line


def test_stream_with_an_unknown_ca_is_one_line_before_spark_starts(
    secured: SecuredKafka, pki: Pki, tmp_path: Path
) -> None:
    env = client_env(secured, pki, "scram", f"{GRANTED}wrongca_", KAFKA_SSL_CA_LOCATION=str(pki.other_ca))
    started = time.monotonic()
    line = one_error_line(smartcity("stream", "--available-now", data_dir=tmp_path, **env))
    assert "not signed by a CA the client trusts" in line and "KAFKA_SSL_CA_LOCATION" in line, line
    assert time.monotonic() - started < 20  # no Spark session was started for it


@pytest.mark.parametrize("port", ["sasl_ssl", "mtls"])
def test_a_plaintext_client_against_a_tls_port_is_one_line(secured: SecuredKafka, port: str, tmp_path: Path) -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": getattr(secured, port), "SMARTCITY_TOPIC_PREFIX": f"{GRANTED}plain_"}
    line = one_error_line(smartcity("simulate", "--max-events", "10", data_dir=tmp_path, **env))
    assert "speaks TLS but the client connects in plaintext" in line, line


def test_a_certificate_for_another_host_is_one_line(wrong_host: SecuredKafka, pki: Pki, tmp_path: Path) -> None:
    env = client_env(wrong_host, pki, "scram", f"{GRANTED}host_")
    line = one_error_line(smartcity("topics", data_dir=tmp_path, **env))
    assert "certificate is not valid for 127.0.0.1" in line, line
    # With host name verification off (KAFKA_SSL_ENDPOINT_IDENTIFICATION=none) the same cluster works.
    env["KAFKA_SSL_ENDPOINT_IDENTIFICATION"] = "none"
    result = smartcity("topics", data_dir=tmp_path, **env)
    assert result.returncode == 0 and f"{GRANTED}host_vehicle_data" in result.stdout, result.stderr


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
    assert not (tmp_path / "kafka" / "broker.json").exists()  # no embedded broker was started for it
