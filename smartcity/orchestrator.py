"""``smartcity up`` / ``make stream``: broker, Spark job and simulator together, stopped together.

Stopping is one orderly sequence whatever starts it (the end of ``--duration``, Ctrl-C, SIGTERM
to this process): stop the simulator, let the job land everything the broker holds, stop the
job's queries between batches, stop the broker. A run that reaches the end of ``--duration``
builds the marts once more before the broker stops, so they hold everything it landed. The job
and the broker run in process groups of their own, so a terminal's Ctrl-C reaches only this
process, which runs that sequence. A second Ctrl-C (or SIGTERM) forces an immediate stop and says
how many events may not have landed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contract import lake, metrics
from ingestion.faults import FaultConfig
from ingestion.fleet import FleetConfig
from ingestion.producer import EventProducer, make_producer
from ingestion.simulate import RunSummary, run
from kafkaclient.settings import PLAINTEXT
from smartcity import screen
from smartcity.broker import EmbeddedBroker, ensure_topics, external_kafka, kafka_version, read_state
from smartcity.config import Settings
from smartcity.exporter import MetricsServer, RunMetrics, process_tree
from smartcity.locking import exclusive
from smartcity.maintenance import LakeMaintainer
from smartcity.marts import MartsRefresher
from smartcity.pipeline import JobProcess, stream_command
from smartcity.status import StatusBoard

# Event-time span of a fleet run with no --duration, used to bound how far ahead of the wall
# clock an accelerated simulation may run (the job quarantines events too far ahead).
FLEET_SPAN_S = 12 * 3600
MAX_CLOCK_SKEW_S = 3600
DRAIN_TIMEOUT_S = 120.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

log = logging.getLogger("smartcity.up")


def say(message: str) -> None:
    log.info("%s", message)  # first: the log keeps every line, whether or not anyone reads the screen
    screen.write(f"[up] {message}")


@contextlib.contextmanager
def logs_to_file(path: Path) -> Iterator[None]:
    """This process's log records (the marts refresher's, dbt's) go to ``path`` for the run, not to
    the screen, which shows the status display."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    saved = root.handlers[:]
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s"))
    root.handlers = [handler]
    try:
        yield
    finally:
        root.handlers = saved
        handler.close()


class ForcedStop(Exception):
    """A second stop request: stop everything now."""


@dataclass
class MetricsTail:
    """What the job has written to its metrics file (Settings.metrics_file) since this run started."""

    path: Path | None
    reader: metrics.MetricsReader
    landed: Counter = field(default_factory=Counter)  # raw and quarantine rows, per stream
    data_loss: list[metrics.DataLossRow] = field(default_factory=list)
    listeners: list = field(default_factory=list)  # called with every batch of new rows

    @classmethod
    def from_now(cls, path: Path) -> MetricsTail:
        return cls(path, metrics.MetricsReader(path, from_end=True))

    def read(self) -> list[metrics.MetricsRow]:
        """New rows since the last call (from any thread: the display's and the main one)."""
        rows = self.reader.read()
        for row in rows:
            if isinstance(row, metrics.DataLossRow):
                self.data_loss.append(row)
            else:
                self.landed[row.stream] += row.rows + row.quarantined
        for listener in self.listeners:
            listener(rows)
        return rows


def job_command(
    bootstrap: str,
    speedup: float,
    duration_s: float | None,
    master: str = "local[*]",
    spark_log: Path | None = None,
) -> list[str]:
    # An accelerated fleet runs ahead of the wall clock: (speedup - 1) seconds per wall second.
    lead = (speedup - 1) * (duration_s if duration_s else FLEET_SPAN_S / speedup)
    command = stream_command(bootstrap, "--master", master)
    command += ["--max-event-time-ahead", str(MAX_CLOCK_SKEW_S + max(lead, 0))]
    if spark_log is not None:
        command += ["--spark-log", str(spark_log)]
    return command


class Orchestrator:
    def __init__(
        self,
        settings: Settings,
        *,
        vehicles: int,
        speedup: float,
        duration_s: float | None,
        seed: int,
        master: str = "local[*]",
        metrics_port: int | None = None,
    ):
        self.settings = settings
        self.metrics_port = metrics_port
        self.master = master
        self.vehicles, self.speedup, self.duration_s, self.seed = vehicles, speedup, duration_s, seed
        self.phase = "starting"
        self.stop_signal: int | None = None
        self.forced = False
        self.job_died = threading.Event()
        self.fleet_stop = threading.Event()  # the fleet stops at its next tick: a stop request or a dead job
        self.job: JobProcess | None = None
        self.broker: EmbeddedBroker | None = None
        self.security = PLAINTEXT
        self.metrics = MetricsTail.from_now(settings.metrics_file)
        self.summary = RunSummary()
        self.marts: MartsRefresher | None = None
        self.upkeep: LakeMaintainer | None = None
        self._quiet = threading.Event()
        self.log_path = settings.data_dir / "logs" / "up.log"
        self.board = StatusBoard(
            settings.topic_prefix,
            self.summary.per_topic,
            str(self.log_path),
            settings.dashboard_url if settings.marts_every_s else None,
        )
        self.metrics.listeners.append(self.board.update)
        self.live: Any = None  # rich's Live display on a terminal
        self.producer: EventProducer | None = None
        self.exported = RunMetrics(settings.topic_prefix)
        self.exported.sent = lambda: dict(self.summary.per_topic)
        self.exported.failures = lambda: self.producer.stats.failed if self.producer else self.summary.failed
        self.exported.processes |= {
            "broker": lambda: {self.broker.process.pid} if self.broker and self.broker.process else set(),
            "job": process_tree(lambda: self.job.process.pid if self.job and self.job.process else None),
        }
        self.metrics.listeners.append(self.exported.observe_rows)
        self.metrics_server: MetricsServer | None = None

    # -- signals ---------------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self.forced:
            return  # already stopping everything at once
        if self.job_died.is_set():
            return  # the main thread is leaving already (the job watcher stopped the fleet)
        if self.stop_signal is None:
            self._stop_requested(signum)
            self.fleet_stop.set()  # while the fleet runs, its own handlers take signals; this covers the rest
            return
        self.forced = True
        raise ForcedStop

    def _stop_requested(self, signum: int) -> None:
        self.stop_signal = signum
        say(
            f"{signal.Signals(signum).name}: stopping in order (simulator, then the job lands what the broker "
            "holds, then job and broker); press Ctrl-C again to stop at once"
        )

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> int:
        # SIGHUP: the terminal closed (or an ssh session dropped); the same orderly stop as SIGTERM.
        handlers = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            with logs_to_file(self.log_path):
                return self._run()
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    def _run(self) -> int:
        bootstrap, self.security = external_kafka(self.settings) or (None, PLAINTEXT)
        try:
            if not bootstrap and (running := read_state(self.settings)):
                bootstrap = running.bootstrap  # `smartcity broker start`'s: it outlives this run
                say(f"embedded broker (Apache Kafka {running.version}) at {bootstrap}, started before this run")
            elif not bootstrap:
                self.broker = EmbeddedBroker(self.settings.kafka_dir, host=self.settings.bind_address)
                bootstrap = self.broker.start(isolated=True)
                say(f"embedded broker (Apache Kafka {kafka_version()}) at {bootstrap}; data {self.broker.data_dir}")
            ensure_topics(bootstrap, self.settings.topic_prefix, self.settings.topic_partitions, security=self.security)
            if self.metrics_port is not None:
                self.metrics_server = MetricsServer(self.exported, self.settings.bind_address, self.metrics_port)
                say(f"Prometheus metrics at {self.metrics_server.url}")
            command = job_command(bootstrap, self.speedup, self.duration_s, self.master, self.log_path)
            job = JobProcess(command, self.log_path, isolated=True)  # the job's logs, Spark's included
            job.start()
            self.job = job
            say(f"spark job pid {job.pid} on {self.master}; lake {self.settings.lake_root}; logs {self.log_path}")
            self._start_display()
            threading.Thread(target=self._report, daemon=True).start()
            threading.Thread(target=self._watch, daemon=True).start()
            if self.settings.marts_every_s:
                self.marts = MartsRefresher(self.settings, self.settings.marts_every_s, self.exported)
                self.marts.start()
                say(
                    f"marts rebuilt every {self.settings.marts_every_s} s; dashboard: `smartcity dashboard` "
                    f"(make dashboard), then {self.settings.dashboard_url}"
                )
            if self.settings.compact_every_s:
                self.upkeep = LakeMaintainer(self.settings.lake_catalog(), self.settings.compact_every_s)
                self.upkeep.start()
            if self.stop_signal is None:
                self._simulate(bootstrap)
            if self.job_died.is_set():
                return 1
            self._drain()
            self._stop_job()
            if self._started_job().poll() not in (0, None):
                return 1
            if self.stop_signal is None:
                self._last_marts()
            return self._exit_code()
        except KeyboardInterrupt:
            if self.job_died.is_set():
                return 1
            self.forced = True
            return 130
        except ForcedStop:
            return 130
        finally:
            self.phase = "stopping"  # from here on a late interrupt from the job watcher is ignored
            self._quiet.set()
            self._stop_display()
            if self.marts is not None:
                self.marts.stop()
            if self.upkeep is not None:
                self.upkeep.stop()
            if self.job is not None and self.job.poll() is None:
                self.job.kill(10)
            if self.broker is not None:
                say("stopping the broker")
                self.broker.stop()
            self._final_report()
            if self.metrics_server is not None:
                self.metrics_server.stop()

    def _exit_code(self) -> int:
        return 130 if self.stop_signal == signal.SIGINT else 0

    def _simulate(self, bootstrap: str) -> None:
        fleet = FleetConfig(vehicles=self.vehicles, seed=self.seed, start=datetime.now(UTC).replace(microsecond=0))
        producer = self.producer = make_producer("kafka-python", bootstrap, self.security)
        self.phase = "simulating"
        try:
            self.summary = run(
                producer,
                fleet,
                FaultConfig(seed=self.seed),
                topic_prefix=self.settings.topic_prefix,
                speedup=self.speedup,
                duration_s=self.duration_s * self.speedup if self.duration_s else None,
                progress=None,  # the status display shows the simulator's counts
                summary=self.summary,
                stop=self.fleet_stop,
            )
        finally:
            self.phase = "draining"
            producer.close()
        if self.summary.stop_signal is not None and self.stop_signal is None:
            # The simulator's handlers, in place while the fleet runs, took the signal.
            self._stop_requested(self.summary.stop_signal)
        say(f"simulator done: {json.dumps(self.summary.as_dict())}")

    def _drain(self) -> None:
        """Wait until the job has landed (or quarantined) every event the simulator sent."""
        sent = self.summary.sent
        say(f"waiting for the job to land the {sent:,} events sent")
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while sum(self.metrics.landed.values()) < sent:
            if self._started_job().poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.5)
            self.metrics.read()

    def _last_marts(self) -> None:
        """A run that reached its end: the marts are built once more over everything it landed (a
        round only sees what landed before it started). A stop on a signal skips this: it asked for a
        quick end, and the marts trail the lake by one period at most."""
        if self.marts is None:
            return
        if not self.marts.stop():
            say("the marts refresher's build is still running: the marts are as its last build left them")
            return
        say("building the marts over everything landed")
        started = time.monotonic()
        if self.marts.last_round():
            say(f"marts built and exported in {time.monotonic() - started:.1f} s")
        elif self.forced:  # dbt turns the second Ctrl-C's exception into a failed build
            say("marts build interrupted: the marts are as the refresher's last build left them")
        else:
            say(f"the last marts build failed (see {self.log_path})")

    def _started_job(self) -> JobProcess:
        assert self.job is not None, "the job is started before the fleet"
        return self.job

    def _stop_job(self) -> None:
        self.phase = "stopping"
        # The job lands what the topics hold before it stops: this run's events, and any an earlier run
        # left in the broker (this run's count alone would not wait for those).
        say("stopping the Spark job (it lands what Kafka holds, then its queries stop between batches)")
        self._started_job().stop(
            180, on_timeout=lambda: say("the Spark job did not stop within 180 s: killing it"), drain=True
        )
        self.metrics.read()

    # -- watching --------------------------------------------------------------------------

    def _start_display(self) -> None:
        """A table redrawn in place on a terminal; elsewhere, a line every few seconds (_report)."""
        if not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.live import Live

        self.live = Live(self.board.table(), console=Console(stderr=True), refresh_per_second=2, redirect_stderr=True)
        self.live.start()

    def _stop_display(self) -> None:
        self.metrics.read()
        if self.marts is not None:
            self.board.marts = self.marts.describe()
        if self.live is not None:
            with contextlib.suppress(OSError):  # a closed terminal: nothing to draw on
                self.live.update(self.board.table())
                self.live.stop()
            self.live = None
        elif self.job is not None:
            screen.write(self.board.line())  # the state the run ends in

    def _report(self, line_every_s: float = 5.0) -> None:
        last_line = time.monotonic()
        while not self._quiet.wait(0.5):
            rows = self.metrics.read()
            if self.marts is not None:
                self.board.marts = self.marts.describe()
            for row in rows:
                if isinstance(row, metrics.DataLossRow):
                    say(
                        f"offsets reset: {row.topic}/{row.partition} checkpoint at {row.checkpoint_offset}, "
                        f"broker holds {row.earliest_offset}..{row.end_offset} ({row.cause}); {row.action}"
                    )
            if self.live is not None and not screen.gone():
                try:
                    self.live.update(self.board.table())
                except OSError:
                    screen.mark_gone()
            elif time.monotonic() - last_line >= line_every_s:
                last_line = time.monotonic()
                screen.write(self.board.line())

    def _watch(self) -> None:
        """A job that dies stops the simulator at once, instead of feeding a broker nobody reads."""
        while not self._quiet.wait(1.0):
            code = self._started_job().poll()
            if code is not None and self.phase in ("starting", "simulating", "draining") and not self.job_died.is_set():
                for line in self._job_errors():
                    screen.write(line)
                say(f"the Spark job exited with code {code}; stopping (its log: {self.log_path})")
                self.job_died.set()
                self.fleet_stop.set()

    def _job_errors(self) -> list[str]:
        """The job's own one-line errors, from the end of the log file."""
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(max(fh.seek(0, os.SEEK_END) - 65536, 0))
                tail = fh.read().decode(errors="replace")
        except OSError:
            return []
        return [line for line in tail.splitlines() if line.startswith("smartcity: error:")]

    def _final_report(self) -> None:
        self.metrics.read()
        landed = sum(self.metrics.landed.values())
        resets = len(self.metrics.data_loss)
        missing = max(self.summary.sent - landed, 0)
        if self.forced and missing:
            say(f"forced stop: {missing:,} events sent this run had not landed; they are still in Kafka")
        say(
            f"stopped; {landed:,} of the {self.summary.sent:,} events sent this run landed"
            + (f"; offsets of {resets} partitions were reset (see {lake.METRICS_FILE})" if resets else "")
        )


def run_all(settings: Settings, **options: Any) -> int:
    """One run per data folder; ``options`` are the Orchestrator's."""
    with exclusive(settings.data_dir, "data folder"):
        return Orchestrator(settings, **options).run()
