"""``smartcity drill --soak 30m``: the pipeline at a steady rate for a long time; does it stay flat?

In ``<data dir>/drill/soak-<time>/``: its own broker, the job, the simulator at ``--speedup`` with event
times ending twelve hours back (so hours close while it runs), and compaction of closed hours every
minute, as a deployment would schedule it. A fleet drives for two hours of event time, then the next
fleet leaves Boston, so every vehicle is on the road for the whole soak. Every ``every_s`` seconds it
samples the simulator's rate, the job's lag, the resident memory of each process and the lake's file
count; at the end it compares the last third of the run with the first: the rate must hold and lag,
memory and files must not grow (exit 1 if one does, or if the simulator stopped early).
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contract import lake, metrics
from contract.errors import InvalidSetting
from ingestion.faults import FaultConfig
from ingestion.fleet import FleetConfig
from ingestion.producer import make_producer
from ingestion.simulate import RunSummary, run
from smartcity.broker import HEAP_MB, EmbeddedBroker, ensure_topics
from smartcity.config import Settings
from smartcity.pipeline import JobProcess, own_environment, stream_command
from smartcity.procfs import descendants, rss_bytes

BROKER = "embedded broker"
BROKER_OFF_HEAP_MB = 400  # the broker's JVM beside its heap: metaspace, code cache, threads, buffers
MEMORY_SLACK_MB = 64.0  # growth below this is noise (JIT, caches warming)
# Event time one fleet drives before the next leaves Boston: the route is ~350 km and speeds are
# capped at 160 km/h, so no vehicle arrives (and the rate does not fall) within a shift.
SHIFT_S = 2 * 3600.0


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``2h`` or plain seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise InvalidSetting(f"--soak: expected a duration such as 90s, 30m or 2h, got {text!r}")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def rss_mb(pid: int) -> float:
    return rss_bytes(pid) / 2**20


@dataclass
class Sample:
    at_s: float
    lag: int
    memory_mb: dict[str, float]
    files: int
    partitions: int  # hour folders: compaction leaves one file in each closed one
    sent_per_s: float = 0.0  # the simulator's rate since the previous sample

    @property
    def small_files(self) -> int:
        """Files beyond one per hour folder: what compaction has not merged (yet)."""
        return self.files - self.partitions


@dataclass
class SoakReport:
    samples: list[Sample] = field(default_factory=list)
    sent: int = 0
    compactions: int = 0
    fleets: int = 0
    duration_s: float = 0.0
    stopped_early: str | None = None  # why the simulator stopped before the soak's end

    def _thirds(self) -> tuple[list[Sample], list[Sample]]:
        """The first and last thirds of the run after a warm-up (the JVM's JIT, the first batches)."""
        warm_up = min(120.0, 0.2 * self.samples[-1].at_s)
        steady = [s for s in self.samples if s.at_s >= warm_up] or self.samples
        third = max(len(steady) // 3, 1)
        return steady[:third], steady[-third:]

    def checks(self) -> list[tuple[str, str, bool]]:
        """(what, first third -> last third, flat) for the lag, each process's memory and the files."""
        first, last = self._thirds()
        rate_first = statistics.median(s.sent_per_s for s in first)
        rate_last = statistics.median(s.sent_per_s for s in last)
        lag_first, lag_last = statistics.median(s.lag for s in first), statistics.median(s.lag for s in last)
        out: list[tuple[str, str, bool]] = [
            ("simulator rate (ev/s)", f"{rate_first:,.0f} -> {rate_last:,.0f}", rate_last >= 0.8 * rate_first),
            ("lag (records)", f"{lag_first:,.0f} -> {lag_last:,.0f}", lag_last <= max(2 * lag_first, 5_000)),
        ]
        for name in self.samples[0].memory_mb:
            a, b = max(s.memory_mb.get(name, 0) for s in first), max(s.memory_mb.get(name, 0) for s in last)
            if name == BROKER:  # a JVM grows its heap up to -Xmx as it warms up: judged against that cap
                out.append((f"memory of {name} (MB)", f"{a:,.0f} -> {b:,.0f}", b <= HEAP_MB + BROKER_OFF_HEAP_MB))
                continue
            out.append((f"memory of {name} (MB)", f"{a:,.0f} -> {b:,.0f}", b <= 1.25 * a + MEMORY_SLACK_MB))
        # One file per hour folder is the floor compaction keeps; the files beyond it must not pile up.
        small_first, small_last = max(s.small_files for s in first), max(s.small_files for s in last)
        change = f"{small_first:,} -> {small_last:,}"
        out.append(("lake files beyond one per hour", change, small_last <= 1.5 * small_first + 50))
        return out

    @property
    def flat(self) -> bool:
        return self.stopped_early is None and len(self.samples) >= 3 and all(ok for _, _, ok in self.checks())

    def render(self) -> str:
        names = list(self.samples[0].memory_mb) if self.samples else []
        header = f"{'t (s)':>7}{'ev/s':>9}{'lag':>9}{'files':>7}{'hours':>7}"
        lines = [header + "".join(f"{n[:20]:>22}" for n in names)]
        for s in self.samples:
            memory = "".join(f"{s.memory_mb[n]:>19,.0f} MB" for n in names)
            lines.append(f"{s.at_s:>7.0f}{s.sent_per_s:>9,.0f}{s.lag:>9,}{s.files:>7,}{s.partitions:>7,}{memory}")
        lines.append(
            f"sent {self.sent:,} events in {self.duration_s:,.0f} s by {self.fleets} fleet(s); "
            f"compactions {self.compactions}"
        )
        if self.stopped_early:
            lines.append(f"the simulator stopped early: {self.stopped_early}")
        for what, change, ok in self.checks() if len(self.samples) >= 3 else []:
            verdict = "flat" if ok else "GROWS"
            if what.startswith("simulator rate"):
                verdict = "steady" if ok else "FELL"
            lines.append(f"{what:<38}{change:>18}   {verdict}")
        lines.append(
            f"verdict: {'FLAT' if self.flat else 'NOT FLAT' if len(self.samples) >= 3 else 'too short to tell'}"
        )
        return "\n".join(lines)


class Soak:
    def __init__(
        self, settings: Settings, duration_s: float, vehicles: int, speedup: float, every_s: float, shift_s: float
    ) -> None:
        self.duration_s, self.vehicles, self.speedup, self.every_s = duration_s, vehicles, speedup, every_s
        self.shift_s = shift_s
        self.home = settings.data_dir / "drill" / f"soak-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        self.lake_root = self.home / "lake"
        self.broker = EmbeddedBroker(self.home / "kafka")
        self.report = SoakReport()
        self.summary = RunSummary()

    def _simulate(self, stop: threading.Event) -> None:
        total_s = self.duration_s * self.speedup  # event time
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12, seconds=total_s)
        producer = make_producer("confluent", self.broker.bootstrap)
        try:
            driven_s = 0.0
            while driven_s < total_s and not stop.is_set():
                shift_s = min(self.shift_s, total_s - driven_s)
                fleet = FleetConfig(
                    vehicles=self.vehicles, seed=11 + self.report.fleets, start=start + timedelta(seconds=driven_s)
                )
                run(
                    producer, fleet, FaultConfig(), speedup=self.speedup, duration_s=shift_s,
                    progress=None, summary=self.summary, stop=stop,
                )  # fmt: skip
                self.report.fleets += 1
                driven_s += shift_s
        except Exception as exc:  # reported with the verdict; the soak must not pass on a dead simulator
            self.report.stopped_early = f"{type(exc).__name__}: {exc}"
        finally:
            producer.close()
            stop.set()

    def _lag(self, metrics_file: Path, latest: dict[str, int]) -> int:
        for row in metrics.read_all(metrics_file):
            if isinstance(row, metrics.BatchRow) and row.source_lag_records is not None:
                latest[row.stream] = row.source_lag_records
        return sum(latest.values())

    def _memory(self, job: JobProcess) -> dict[str, float]:
        jvm = [p for p in descendants(job.pid) if "java" in _command(p)]
        workers = [p for p in descendants(job.pid) if p not in jvm and "python" in _command(p)]
        return {
            BROKER: rss_mb(self.broker.process.pid) if self.broker.process else 0.0,
            "spark driver (python)": rss_mb(job.pid),
            "spark JVM": sum(rss_mb(p) for p in jvm),
            "python workers": sum(rss_mb(p) for p in workers),
            "simulator + compaction": rss_mb(os.getpid()),
        }

    def run(self) -> SoakReport:
        from lakehouse.catalogs import CatalogConfig, default_catalog
        from lakehouse.maintain import maintain_lake
        from lakehouse.rewrite import compact_lake
        from lakehouse.snapshot import current_paths, load_table

        self.home.mkdir(parents=True, exist_ok=True)
        print(f"[soak] {self.duration_s:.0f} s in {self.home} (logs: job.log)", file=sys.stderr, flush=True)
        self.broker.start(isolated=True)
        ensure_topics(self.broker.bootstrap, "", 3)
        # The soak's own broker and data folder, whatever the environment names.
        job = JobProcess(stream_command(self.broker.bootstrap), self.home / "job.log", own_environment(self.home))
        job.start()
        stop = threading.Event()
        simulator = threading.Thread(target=self._simulate, args=(stop,), daemon=True)
        began = time.monotonic()
        simulator.start()
        latest: dict[str, int] = {}
        metrics_file = lake.metrics_path(str(self.lake_root))
        assert metrics_file is not None, "the soak's lake is a local folder"
        last_compaction = began
        catalog = CatalogConfig(default_catalog(str(self.lake_root)), str(self.lake_root))
        sent_before, sampled_before = 0, began
        try:
            while not stop.wait(self.every_s) and time.monotonic() - began < self.duration_s:
                if (code := job.poll()) is not None:
                    raise RuntimeError(f"the Spark job exited with code {code}; see {self.home / 'job.log'}")
                if time.monotonic() - last_compaction >= 60:
                    compact_lake(catalog, grace=timedelta(0))
                    maintain_lake(catalog)
                    self.report.compactions += 1
                    last_compaction = time.monotonic()
                files = [
                    path
                    for zone in lake.ZONES
                    for stream in lake.STREAMS
                    for path in current_paths(load_table(catalog, zone, stream))
                ]
                sent, now = sum(self.summary.per_topic.values()), time.monotonic()
                sample = Sample(
                    at_s=now - began,
                    lag=self._lag(metrics_file, latest),
                    memory_mb=self._memory(job),
                    files=len(files),
                    partitions=len({os.path.dirname(f) for f in files}),
                    sent_per_s=(sent - sent_before) / (now - sampled_before),
                )
                sent_before, sampled_before = sent, now
                self.report.samples.append(sample)
                print(
                    f"[soak] {sample.at_s:.0f} s: {sample.sent_per_s:,.0f} ev/s, lag {sample.lag:,}, "
                    f"files {sample.files:,}, memory "
                    + ", ".join(f"{k} {v:,.0f} MB" for k, v in sample.memory_mb.items()),
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            stop.set()
            job.stop(120)
            self.broker.stop()
        self.report.duration_s = time.monotonic() - began
        if self.report.stopped_early is None and self.report.duration_s < 0.95 * self.duration_s:
            self.report.stopped_early = f"after {self.report.duration_s:,.0f} of {self.duration_s:,.0f} s"
        self.report.sent = self.summary.sent or sum(self.summary.per_topic.values())
        return self.report


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def run_soak(
    settings: Settings, duration_s: float, vehicles: int, speedup: float, every_s: float, shift_s: float = SHIFT_S
) -> int:
    report = Soak(settings, duration_s, vehicles, speedup, every_s, shift_s).run()
    print(report.render())
    return 0 if report.flat else 1
