"""Prometheus metrics of a run, in Prometheus' text format, on the bind address (``--metrics-port``).

Everything comes from what the run already records: the job's metrics file (one row per batch and per
offset reset, contract/lake.py), the simulator's counts, the marts refresher's builds and /proc for
memory. Values are computed when Prometheus scrapes, so nothing here runs on the hot path.

The metrics, their labels and meaning are listed in the README (Operating).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime

from contract import metrics
from contract.events import BY_NAME, topic_name
from smartcity.procfs import descendants, rss_bytes

log = logging.getLogger("smartcity.metrics")

BATCH_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
COMMIT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MARTS_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.total += 1
        self.sum += value
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1

    def family_buckets(self) -> list[tuple[str, int]]:
        return [(repr(b), c) for b, c in zip(self.buckets, self.counts, strict=True)] + [("+Inf", self.total)]


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class RunMetrics:
    """The state behind the metrics, fed by the metrics file's rows and the run's parts."""

    def __init__(self, topic_prefix: str = "") -> None:
        self._lock = threading.Lock()
        self.read: Counter = Counter()
        self.landed: Counter = Counter()
        self.quarantined: Counter = Counter()  # (stream, reason) -> rows
        self.batches: Counter = Counter()
        self.batch_s: dict[str, Histogram] = defaultdict(lambda: Histogram(BATCH_BUCKETS))
        self.commit_s: dict[str, Histogram] = defaultdict(lambda: Histogram(COMMIT_BUCKETS))
        self.lag: dict[str, int] = {}
        self.newest_event: dict[str, float] = {}
        self.last_batch: dict[str, float] = {}
        self.resets: Counter = Counter()
        self.lost: Counter = Counter()
        self.marts_s = Histogram(MARTS_BUCKETS)
        self.marts_results: Counter = Counter()
        self.marts_newest_landing: float | None = None
        self.newest_landing: float | None = None
        self.sent: Callable[[], dict[str, int]] | None = None  # topic -> events, read live
        self.failures: Callable[[], int] | None = None
        self.processes: dict[str, Callable[[], set[int]]] = {"this process": lambda: {os.getpid()}}
        self.stream_of_topic = {topic_name(et, topic_prefix): name for name, et in BY_NAME.items()}

    # -- feeding -------------------------------------------------------------------------------

    def observe_rows(self, rows: Iterable[metrics.MetricsRow]) -> None:
        with self._lock:
            for row in rows:
                if isinstance(row, metrics.DataLossRow):
                    self.resets[row.topic] += 1
                    self.lost[row.topic] += row.lost_offsets or 0
                else:
                    self._batch(row)

    def _batch(self, row: metrics.BatchRow) -> None:
        stream = row.stream
        if row.source_lag_records is not None:
            self.lag[stream] = row.source_lag_records
        if not row.input_rows:
            return  # an idle trigger: no batch to count
        self.read[stream] += row.input_rows
        self.landed[stream] += row.rows
        for reason, n in row.quarantine_reasons.items():
            self.quarantined[(stream, reason)] += n
        if row.quarantined and not row.quarantine_reasons:
            self.quarantined[(stream, "unknown")] += row.quarantined
        self.batches[stream] += 1
        self.batch_s[stream].observe(row.batch_ms / 1000)
        self.commit_s[stream].observe(row.commit_ms / 1000)
        if row.newest_event_time:
            newest = _seconds(row.newest_event_time)
            self.newest_event[stream] = max(self.newest_event.get(stream, newest), newest)
        landed_at = _seconds(row.at)
        self.last_batch[stream] = landed_at
        self.newest_landing = max(self.newest_landing or landed_at, landed_at)

    def marts_started(self) -> float | None:
        """The newest landing a build that starts now will include."""
        with self._lock:
            return self.newest_landing

    def marts_built(self, duration_s: float, ok: bool, includes_landing: float | None) -> None:
        with self._lock:
            self.marts_s.observe(duration_s)
            self.marts_results["success" if ok else "failure"] += 1
            if ok and includes_landing is not None:
                self.marts_newest_landing = includes_landing

    # -- exposing -------------------------------------------------------------------------------

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        def counter(name: str, doc: str, labels: list[str], values: dict) -> CounterMetricFamily:
            family = CounterMetricFamily(name, doc, labels=labels)
            for key, value in sorted(values.items()):
                family.add_metric(list(key) if isinstance(key, tuple) else [key], value)
            return family

        def gauge(name: str, doc: str, labels: list[str], values: dict) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=labels)
            for key, value in sorted(values.items()):
                family.add_metric([key] if labels else [], value)
            return family

        def histograms(name: str, doc: str, by_stream: dict[str, Histogram]) -> HistogramMetricFamily:
            family = HistogramMetricFamily(name, doc, labels=["stream"])
            for stream, h in sorted(by_stream.items()):
                family.add_metric([stream], h.family_buckets(), h.sum)
            return family

        now = time.time()
        with self._lock:
            families = [
                counter("smartcity_stream_records_read", "Kafka records the job read", ["stream"], self.read),
                counter("smartcity_stream_records_landed", "Rows committed to the raw zone", ["stream"], self.landed),
                counter(
                    "smartcity_stream_records_quarantined",
                    "Rows committed to quarantine, by the field or check that failed",
                    ["stream", "reason"],
                    self.quarantined,
                ),
                counter("smartcity_stream_batches", "Micro-batches that read records", ["stream"], self.batches),
                histograms("smartcity_stream_batch_duration_seconds", "A micro-batch, trigger to commit", self.batch_s),
                histograms("smartcity_stream_commit_duration_seconds", "The driver's commit of a batch", self.commit_s),
                gauge("smartcity_stream_source_lag_records", "Records beyond the last batch", ["stream"], self.lag),
                gauge(
                    "smartcity_stream_event_time_lag_seconds",
                    "Now minus the newest event time landed (0 when event time is ahead)",
                    ["stream"],
                    {s: max(0.0, now - t) for s, t in self.newest_event.items()},
                ),
                gauge(
                    "smartcity_stream_newest_event_timestamp_seconds",
                    "The newest event time landed",
                    ["stream"],
                    self.newest_event,
                ),
                gauge(
                    "smartcity_stream_last_batch_timestamp_seconds",
                    "When the last batch that read records committed",
                    ["stream"],
                    self.last_batch,
                ),
                counter(
                    "smartcity_stream_offset_resets",
                    "Partitions whose checkpointed offsets Kafka no longer had",
                    ["topic"],
                    self.resets,
                ),
                counter("smartcity_stream_offsets_lost", "Offsets skipped by those resets", ["topic"], self.lost),
            ]
            if self.sent is not None:
                sent = {self.stream_of_topic.get(t, t): n for t, n in self.sent().items()}
                families.append(counter("smartcity_simulator_events_sent", "Events handed to Kafka", ["stream"], sent))
            if self.failures is not None:
                families.append(
                    counter(
                        "smartcity_simulator_send_failures",
                        "Events Kafka did not acknowledge",
                        [],
                        {(): self.failures()},
                    )
                )
            if self.marts_results or self.marts_s.total:
                marts = HistogramMetricFamily("smartcity_marts_refresh_duration_seconds", "One dbt build and export")
                marts.add_metric([], self.marts_s.family_buckets(), self.marts_s.sum)
                families.append(marts)
                families.append(
                    counter("smartcity_marts_refreshes", "Builds by result", ["result"], dict(self.marts_results))
                )
            if self.marts_newest_landing is not None:
                families.append(
                    gauge(
                        "smartcity_marts_newest_landing_timestamp_seconds",
                        "The newest landing the marts include",
                        [],
                        {"": self.marts_newest_landing},
                    )
                )
        memory = GaugeMetricFamily(
            "smartcity_process_resident_memory_bytes", "Resident memory of the run's processes", labels=["process"]
        )
        for name, pids in self.processes.items():
            memory.add_metric([name], sum(rss_bytes(pid) for pid in pids()))
        families.append(memory)
        yield from families


def process_tree(pid: Callable[[], int | None]) -> Callable[[], set[int]]:
    """A process and its descendants, found when asked (the job's JVM and workers come and go)."""

    def pids() -> set[int]:
        root = pid()
        return set() if root is None else {root, *descendants(root)}

    return pids


class MetricsServer:
    """The HTTP endpoint Prometheus scrapes, on a thread; ``stop`` closes it."""

    def __init__(self, metrics: RunMetrics, address: str, port: int) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry(auto_describe=False)
        registry.register(metrics)
        try:
            self._server, self._thread = start_http_server(port, addr=address, registry=registry)
        except OSError as exc:
            raise MetricsPortError(
                f"cannot serve metrics on {address}:{port}: {os.strerror(exc.errno or 0).lower()}"
            ) from None
        self.url = f"http://{address}:{self._server.server_port}/metrics"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class MetricsPortError(RuntimeError):
    """The metrics port cannot be served (in use, not allowed)."""
