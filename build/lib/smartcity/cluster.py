"""A Spark standalone cluster on this machine, from the installed pyspark: one master, N workers.

``smartcity cluster start`` runs ``$SPARK_HOME/bin/spark-class`` with the master's and the workers'
main classes (pyspark ships no ``sbin/`` start scripts), each a process of its own that outlives the
command, on the bind address (loopback by default) with web UIs on free ports. Pids, ports and logs
live under ``<data dir>/cluster/``; ``smartcity cluster stop`` stops the workers (and with them their
executors), then the master.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from importlib.util import find_spec
from pathlib import Path

from smartcity.broker import _alive, free_port, stop_pid
from smartcity.config import Settings

log = logging.getLogger(__name__)

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
STATE_FILE = "cluster.json"


class ClusterError(RuntimeError):
    """The cluster could not be started, or is not running when it is needed."""


@dataclass(frozen=True, slots=True)
class Daemon:
    name: str
    pid: int
    ui_url: str
    log_path: str


@dataclass(frozen=True, slots=True)
class ClusterState:
    master_url: str
    master: Daemon
    workers: list[Daemon] = field(default_factory=list)

    @classmethod
    def from_json(cls, text: str) -> ClusterState:
        raw = json.loads(text)
        return cls(raw["master_url"], Daemon(**raw["master"]), [Daemon(**w) for w in raw["workers"]])

    def daemons(self) -> list[Daemon]:
        return [*self.workers, self.master]


def cluster_dir(settings: Settings) -> Path:
    return settings.data_dir / "cluster"


def spark_home() -> Path:
    spec = find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise ClusterError("pyspark is not installed: run `make install`")
    return Path(spec.submodule_search_locations[0])


def daemon_env(settings: Settings) -> dict[str, str]:
    """The daemons bind (and name themselves by) the bind address. With a shared secret, the master,
    the workers and every application authenticate; Spark reads ``_SPARK_AUTH_SECRET`` from the
    environment, which keeps the secret off command lines and out of files."""
    env = {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": settings.bind_address}
    env.pop("PYSPARK_PYTHON", None)  # the application decides its workers' Python (spark/job.py)
    if settings.spark_auth_secret:
        env["SPARK_DAEMON_JAVA_OPTS"] = "-Dspark.authenticate=true"
        env["_SPARK_AUTH_SECRET"] = settings.spark_auth_secret
    return env


def read_state(settings: Settings) -> ClusterState | None:
    """The running cluster, or None when there is none (or its master is gone)."""
    try:
        state = ClusterState.from_json((cluster_dir(settings) / STATE_FILE).read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state if _alive(state.master.pid) else None


def _launch(settings: Settings, name: str, main_class: str, args: list[str]) -> tuple[subprocess.Popen, Path]:
    log_path = cluster_dir(settings) / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        process = subprocess.Popen(
            [str(spark_home() / "bin" / "spark-class"), main_class, *args],
            env=daemon_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this command; a terminal's Ctrl-C does not reach it
        )
    return process, log_path


def master_json(ui_url: str, timeout_s: float = 2.0) -> dict:
    """The master's own view: workers (with state ALIVE/DEAD), cores, running applications."""
    with urllib.request.urlopen(f"{ui_url}/json/", timeout=timeout_s) as response:
        return json.loads(response.read())


def _wait_for_workers(settings: Settings, master: subprocess.Popen, ui_url: str, workers: int, log_path: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if master.poll() is not None:
            raise ClusterError(f"the Spark master exited with code {master.returncode}; see {log_path}")
        try:
            alive = [w for w in master_json(ui_url)["workers"] if w["state"] == "ALIVE"]
        except (OSError, ValueError):  # not serving yet, or an empty answer while it starts
            alive = []
        if len(alive) >= workers:
            return
        time.sleep(0.25)
    raise ClusterError(
        f"{workers} workers did not register with the master within 90 s; see {cluster_dir(settings)}/logs"
    )


def start(settings: Settings, workers: int = 2, cores: int = 1, memory: str = "2g") -> ClusterState:
    """Start a master and ``workers`` workers (``cores`` cores and ``memory`` each), wait until every
    worker has registered, and record them. A running cluster is returned as it is."""
    existing = read_state(settings)
    if existing:
        return existing
    host = settings.bind_address
    ui_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    port, ui_port = free_port(), free_port()
    master, master_log = _launch(
        settings, "master", MASTER_CLASS, ["--host", host, "--port", str(port), "--webui-port", str(ui_port)]
    )
    master_url, master_ui = f"spark://{ui_host}:{port}", f"http://{ui_host}:{ui_port}"
    started: list[tuple[subprocess.Popen, Daemon]] = [
        (master, Daemon("master", master.pid, master_ui, str(master_log)))
    ]
    try:
        work_dir = cluster_dir(settings) / "work"
        for n in range(1, workers + 1):
            worker_ui = free_port()
            process, worker_log = _launch(
                settings,
                f"worker-{n}",
                WORKER_CLASS,
                [
                    master_url,
                    "--host", host,
                    "--cores", str(cores),
                    "--memory", memory,
                    "--webui-port", str(worker_ui),
                    "--work-dir", str(work_dir),
                ],
            )  # fmt: skip
            started.append(
                (process, Daemon(f"worker-{n}", process.pid, f"http://{ui_host}:{worker_ui}", str(worker_log)))
            )
        _wait_for_workers(settings, master, master_ui, workers, master_log)
    except BaseException:
        for process, _ in reversed(started):
            stop_pid(process.pid, process)
        raise
    state = ClusterState(master_url, started[0][1], [daemon for _, daemon in started[1:]])
    (cluster_dir(settings) / STATE_FILE).write_text(json.dumps(asdict(state), indent=2))
    log.info("spark cluster at %s (master UI %s), %d workers", master_url, master_ui, workers)
    return state


def stop(settings: Settings) -> bool:
    """Stop the workers, then the master; False when no cluster was running. A worker takes its
    executors down with it (their worker watcher ends them when the worker goes)."""
    path = cluster_dir(settings) / STATE_FILE
    try:
        state = ClusterState.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return False
    for daemon in state.daemons():
        stop_pid(daemon.pid, timeout_s=20)
    path.unlink(missing_ok=True)
    return True


def master_url_or_fail(settings: Settings) -> str:
    state = read_state(settings)
    if state is None:
        raise ClusterError("no Spark cluster is running: start one with `smartcity cluster start`")
    return state.master_url
