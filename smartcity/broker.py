"""The embedded broker, Apache Kafka in KRaft mode (one process that is broker and controller), run
from the jars ``make install`` resolves (jvm/pom.xml); and topic admin.

Used when ``KAFKA_BOOTSTRAP_SERVERS`` is not set. Its data lives in ``<data dir>/kafka``: a broker
stopped and started again keeps its topics and offsets. Every listener is on loopback unless the
caller binds it wider (``SMARTCITY_BIND_ADDRESS``).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path

from contract.events import EVENT_TYPES, topic_name
from ingestion.producer import BrokerUnreachable, check_reachable
from kafkaclient.access import KafkaAccessError, check_access, topic_error
from kafkaclient.clients import confluent_config
from kafkaclient.settings import PLAINTEXT, KafkaSecurity, parse_properties
from smartcity import jvm
from smartcity.config import ConfigError, Settings

log = logging.getLogger(__name__)

# Sized for a laptop: the broker keeps little on the heap (records live in the page cache), so
# 512 MB instead of the scripts' 1 GB; 64 MB segments (Kafka: 1 GB) so retention can delete in
# small steps; a day of data, at most 1 GB per partition (the five topics' 20 partitions: 20 GB).
HEAP_MB = 512
LAPTOP_PROPERTIES = {
    "log.segment.bytes": str(64 * 1024 * 1024),
    "log.retention.hours": "24",
    "log.retention.bytes": str(1024 * 1024 * 1024),
    "num.partitions": "4",
    "auto.create.topics.enable": "false",  # ensure_topics creates the five topics, as on a cluster
    # One node: the internal topics have one replica; few partitions, so the first group is quick.
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
}
# Kafka's own JVM flags (kafka-run-class.sh), and an exit instead of a half-dead broker on OOM.
JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
]


class BrokerError(RuntimeError):
    """The embedded broker could not be started or stopped."""


def kafka_version() -> str:
    return jvm.artifact_version("kafka", "kafka_2.13")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_free(host: str, port: int) -> bool:
    """Whether the broker could listen on ``port`` again (as Kafka does, with SO_REUSEADDR: a port
    with connections in TIME_WAIT after a stop is free)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


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


@dataclass(frozen=True, slots=True)
class Listener:
    """A listener beside the broker's plaintext one: ``SASL_SSL``, ``SSL`` (its settings go in the
    broker's properties, under ``listener.name.<name lower-cased>.``)."""

    name: str
    protocol: str
    port: int = 0  # 0: a free port


def ensure_topics(
    bootstrap: str,
    prefix: str = "",
    partitions: int = 4,
    timeout_s: float = 20.0,
    security: KafkaSecurity = PLAINTEXT,
) -> list[str]:
    """Create the five topics if missing (brokers here do not create topics on first use). The
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
    """Apache Kafka, one KRaft node, with its data in ``data_dir`` (a temporary folder, removed at
    stop, when None). The storage is formatted once; a start on a formatted folder keeps its topics
    and offsets, and the ports it had when they are still free. A context manager that always stops it.

    ``listeners`` and ``properties`` add to the plaintext client listener (a secured broker for the
    tests: SASL_SSL, mutual TLS, ACLs); the plaintext listener stays the inter-broker one."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        listeners: Sequence[Listener] = (),
        properties: Mapping[str, str] | None = None,
    ) -> None:
        self._temporary = data_dir is None
        self.data_dir = Path(tempfile.mkdtemp(prefix="kafka-")) if data_dir is None else data_dir
        self.log_path = self.data_dir / "server.log"
        self.host = host
        self.extra_properties = dict(properties or {})
        ports = self._previous_ports()
        self.port = port or self._reuse(ports.get("CLIENT"))
        self.controller_port = self._reuse(ports.get("CONTROLLER"))
        self.listeners = [Listener(x.name, x.protocol, x.port or self._reuse(ports.get(x.name))) for x in listeners]
        self.process: subprocess.Popen | None = None

    # -- addresses -------------------------------------------------------------------------

    @property
    def advertised_host(self) -> str:
        return socket.getfqdn() if self.host in ("0.0.0.0", "::") else self.host

    @property
    def bootstrap(self) -> str:
        return f"{self.advertised_host}:{self.port}"

    def address(self, listener: str) -> str:
        """The bootstrap address of one of the added listeners."""
        port = next(x.port for x in self.listeners if x.name == listener)
        return f"{self.advertised_host}:{port}"

    def _reuse(self, port: int | None) -> int:
        return port if port and _port_free(self.host, port) else free_port(self.host)

    def _previous_ports(self) -> dict[str, int]:
        """Each listener's port in the configuration of the last start (none before the first)."""
        try:
            listeners = parse_properties(self.properties_file.read_text()).get("listeners", "")
        except OSError:
            return {}
        found = (re.fullmatch(r"(\w+)://.*:(\d+)", x.strip()) for x in listeners.split(","))
        return {m.group(1): int(m.group(2)) for m in found if m}

    # -- configuration ---------------------------------------------------------------------

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    def server_properties(self) -> dict[str, str]:
        named = [("CLIENT", "PLAINTEXT", self.port), *((x.name, x.protocol, x.port) for x in self.listeners)]
        protocols = [f"{name}:{protocol}" for name, protocol, _ in named] + ["CONTROLLER:PLAINTEXT"]
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            "listeners": ",".join(
                [f"{name}://{self.host}:{port}" for name, _, port in named]
                + [f"CONTROLLER://127.0.0.1:{self.controller_port}"]
            ),
            "advertised.listeners": ",".join(f"{name}://{self.advertised_host}:{port}" for name, _, port in named),
            "listener.security.protocol.map": ",".join(protocols),
            "inter.broker.listener.name": "CLIENT",
            "log.dirs": str(self.data_dir / "logs"),
            **LAPTOP_PROPERTIES,
            **self.extra_properties,
        }

    def _write_configuration(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lines = [f"{key}={value}" for key, value in self.server_properties().items()]
        self.properties_file.write_text("# written by smartcity at each start\n" + "\n".join(lines) + "\n")
        self.properties_file.chmod(0o600)  # a secured broker's properties hold its users' passwords

    @staticmethod
    def _java(main: str, *args: str, heap_mb: int) -> list[str]:
        config = files("smartcity").joinpath("resources/kafka-log4j2.yaml")
        return [
            jvm.java(),
            f"-Xmx{heap_mb}m",
            *JVM_FLAGS,
            f"-Dlog4j2.configurationFile={config}",
            # Kafka's own variable for more JVM options, as its scripts honour it (the tests: C1 only).
            *os.environ.get("KAFKA_OPTS", "").split(),
            "-cp",
            str(jvm.classpath("kafka") / "*"),
            main,
            *args,
        ]

    def _format(self) -> None:
        """Format the storage once, with a new cluster id (Kafka's form: 16 random bytes, base64url)."""
        if (self.data_dir / "logs" / "meta.properties").exists():
            return
        cluster_id = "-"
        while cluster_id.startswith("-"):  # Kafka never makes an id that reads as an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        command = self._java(
            "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.properties_file), heap_mb=128
        )
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise BrokerError(
                f"formatting the broker's storage in {self.data_dir} failed: {lines[-1] if lines else ''}"
            )

    # -- the process -----------------------------------------------------------------------

    def start(self, detached: bool = False, isolated: bool = False, timeout_s: float = 60.0) -> str:
        """``detached``: outlive this process (``smartcity broker start``); ``isolated``: a child
        of an orchestrator (see smartcity/children.py). Returns once the broker answers metadata."""
        from smartcity import children

        self._write_configuration()
        self._format()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                self._java("kafka.Kafka", str(self.properties_file), heap_mb=HEAP_MB),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.data_dir,
                **(children.isolated() if isolated else {"start_new_session": detached}),
            )
        try:
            self._wait_ready(started + timeout_s)
        except BrokerError:
            self.stop()
            raise
        log.info(
            "Apache Kafka %s listening on %s, pid %d, data %s, ready in %.1f s",
            kafka_version(), self.bootstrap, self.process.pid, self.data_dir, time.monotonic() - started,
        )  # fmt: skip
        return self.bootstrap

    def _wait_ready(self, deadline: float) -> None:
        """Until the broker lists itself in a metadata answer (it accepts connections a little earlier)."""
        from confluent_kafka.admin import AdminClient

        assert self.process is not None
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        while True:
            if self.process.poll() is not None:
                raise BrokerError(f"Apache Kafka exited with status {self.process.returncode}: {self._log_tail()}")
            if time.monotonic() > deadline:
                raise BrokerError(f"Apache Kafka did not answer on {self.bootstrap}: {self._log_tail()}")
            try:
                if admin.list_topics(timeout=0.5).brokers:
                    return
            except Exception:  # not listening yet; the deadline bounds the wait
                time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            lines = [line for line in self.log_path.read_text(errors="replace").splitlines() if " ERROR " in line]
        except OSError:
            lines = []
        return lines[-1].strip() if lines else f"see {self.log_path}"

    def stop(self) -> None:
        """A controlled shutdown (SIGTERM), then the temporary data folder, if any, goes."""
        if self.process is not None:
            stop_pid(self.process.pid, self.process)
            self.process = None
        if self._temporary:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_pid(pid: int, process: subprocess.Popen | None = None, timeout_s: float = 20.0) -> None:
    """SIGTERM, wait (a controlled shutdown takes Kafka a second or two), then SIGKILL."""
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
    data_dir: str
    version: str


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
    broker = EmbeddedBroker(settings.kafka_dir, host=settings.bind_address)
    broker.start(detached=True)
    assert broker.process is not None
    state = BrokerState(
        broker.process.pid, broker.bootstrap, str(broker.log_path), str(broker.data_dir), kafka_version()
    )
    settings.broker_state_file.write_text(json.dumps(asdict(state)))
    return state


def stop_detached(settings: Settings) -> bool:
    state = read_state(settings)
    if state is None:
        settings.broker_state_file.unlink(missing_ok=True)
        return False
    stop_pid(state.pid)
    settings.broker_state_file.unlink(missing_ok=True)
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
        f"started the embedded broker (Apache Kafka {state.version}) at {state.bootstrap}, pid {state.pid}; "
        "stop it with `smartcity broker stop`",
        file=sys.stderr,
    )
    return state.bootstrap
