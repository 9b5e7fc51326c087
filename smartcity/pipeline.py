"""The pieces every run of the pipeline is made of, in one place for `smartcity up`, the fault drill
and the soak: the Spark job as a child process (its command, its environment, stopping it in order,
killing it, killing it mid-batch) and the moment a batch is in flight."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from contract import lake
from kafkaclient import settings as kafka_settings
from smartcity import children

if TYPE_CHECKING:
    from lakehouse.catalogs import CatalogConfig


def stream_command(bootstrap: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "smartcity", "stream", "--bootstrap", bootstrap, *args]


def own_environment(data_dir: Path, topic_prefix: str = "") -> dict[str, str]:
    """The environment of a job that reads a broker of the run's own (plaintext on loopback) into a
    data folder of its own, whatever Kafka, lake or checkpoints the caller's environment names."""
    env = {k: v for k, v in os.environ.items() if k not in _OWN_RUN_OVERRIDES}
    return env | {"SMARTCITY_DATA_DIR": str(data_dir), "SMARTCITY_TOPIC_PREFIX": topic_prefix}


_OWN_RUN_OVERRIDES = frozenset(
    {
        "KAFKA_BOOTSTRAP_SERVERS",
        *kafka_settings.ENV_NAMES,
        "SMARTCITY_LAKE_ROOT",
        "SMARTCITY_CHECKPOINT_ROOT",
        "SMARTCITY_CATALOG",
    }
)


def batch_in_flight(lake_root: str | Path, committed_files: int = 1, catalog: CatalogConfig | None = None) -> bool:
    """At least ``committed_files`` raw files are committed and a batch's files are being written
    (in a table's folder, in no snapshot yet, written in the last few seconds: not the orphans of
    an earlier attempt): the moment to kill a driver or a worker mid-batch."""
    from lakehouse.catalogs import CatalogConfig, default_catalog
    from lakehouse.snapshot import current_paths, load_table, uncommitted_files

    config = catalog or CatalogConfig(default_catalog(str(lake_root)), str(lake_root))
    recent = time.time() - IN_FLIGHT_S
    committed, writing = 0, False
    for zone in lake.ZONES:
        for stream in lake.STREAMS:
            table = load_table(config, zone, stream)
            pending = uncommitted_files(table, recent)
            if pending:
                # A commit between reading the snapshot and listing the folder makes a committed batch
                # look in flight: files the table's newest snapshot lists are not.
                table = load_table(config, zone, stream)
            newest = current_paths(table) if pending or zone == lake.RAW else []
            writing = writing or bool(set(pending) - set(newest))
            if zone == lake.RAW:
                committed += len(newest)
    return writing and committed >= committed_files


# A batch's files are this fresh while its tasks write them (its commit follows within a second or two).
IN_FLIGHT_S = 5.0


class JobProcess:
    """The Spark job (`smartcity stream`) as a child in a process group of its own, its output to a
    log file. ``isolated``: it also ends with this process (see smartcity/children.py)."""

    def __init__(self, command: list[str], log_path: Path, env: dict[str, str] | None = None, isolated: bool = False):
        self.command, self.log_path, self.env, self.isolated = command, log_path, env, isolated
        self.process: subprocess.Popen | None = None

    def start(self) -> subprocess.Popen:
        if self.isolated:
            spawn = children.isolated(self.env)
        else:
            spawn = {"start_new_session": True, **({"env": self.env} if self.env is not None else {})}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:  # the job's lines and Spark's
            self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT, **spawn)
        return self.process

    @property
    def running(self) -> subprocess.Popen:
        assert self.process is not None, "the job is started first"
        return self.process

    @property
    def pid(self) -> int:
        return self.running.pid

    def poll(self) -> int | None:
        return self.running.poll()

    def stop(
        self, timeout_s: float = 90, on_timeout: Callable[[], None] | None = None, drain: bool = False
    ) -> int | None:
        """SIGTERM (the queries stop between batches), or with ``drain`` the job's drain signal (they land
        what the topics hold first); killed if it has not ended within ``timeout_s``."""
        from spark.job import DRAIN_SIGNAL

        self.running.send_signal(DRAIN_SIGNAL if drain else signal.SIGTERM)
        try:
            return self.running.wait(timeout_s)
        except subprocess.TimeoutExpired:
            if on_timeout is not None:
                on_timeout()
            self.kill()
            return self.running.returncode

    def kill(self, timeout_s: float = 30) -> None:
        """SIGKILL the driver, its JVM and its Python workers (one process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.running.pid, signal.SIGKILL)
        self.running.wait(timeout_s)

    def kill_mid_batch(self, lake_root: str | Path, timeout_s: float = 180) -> bool:
        """SIGKILL while a batch is being staged; False if the job ended or none came in time."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if batch_in_flight(lake_root):
                self.kill()
                return True
            if self.poll() is not None:
                return False
            time.sleep(0.02)
        return False
