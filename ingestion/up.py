"""``smartcity up`` / ``make stream``: broker, Spark job and simulator together, stopped together."""

from __future__ import annotations

import _thread
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from ingestion.broker import EmbeddedBroker, ensure_topics, stop_pid
from ingestion.config import Settings
from ingestion.faults import FaultConfig
from ingestion.fleet import FleetConfig
from ingestion.producer import make_producer
from ingestion.simulate import run


def landed_rows(lake_root: str) -> Counter:
    """Rows landed per stream so far, from the job's metrics file."""
    totals: Counter = Counter()
    path = Path(lake_root) / "_metrics" / "progress.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            totals[row["stream"]] += row.get("rows", 0)
    return totals


def _report(settings: Settings, stop: threading.Event, every_s: float = 5.0) -> None:
    while not stop.wait(every_s):
        landed = landed_rows(settings.lake_root)
        summary = " ".join(f"{k}={v:,}" for k, v in sorted(landed.items())) or "waiting for the first batch"
        print(f"[lake] landed {sum(landed.values()):,} rows: {summary}", file=sys.stderr, flush=True)


def _watch(job: subprocess.Popen, stop: threading.Event) -> None:
    """A job that dies stops the simulator at once (as Ctrl-C would), instead of feeding a
    broker nobody reads until the duration runs out."""
    while not stop.wait(1.0):
        code = job.poll()
        if code is not None:
            print(f"[up] the Spark job exited with code {code}; stopping", file=sys.stderr, flush=True)
            _thread.interrupt_main()
            return


def run_all(settings: Settings, *, vehicles: int, speedup: float, duration_s: float | None, seed: int) -> int:
    broker = None
    bootstrap = settings.bootstrap_servers
    if not bootstrap:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        broker = EmbeddedBroker(log_path=settings.data_dir / "tansu.log")
        bootstrap = broker.start()
        print(f"[up] embedded broker (tansu) at {bootstrap}", file=sys.stderr, flush=True)
    job = None
    stop_reporting = threading.Event()
    try:
        ensure_topics(bootstrap, settings.topic_prefix, settings.topic_partitions)
        # Tansu keeps topics in memory: a new broker starts at offset 0, so old checkpoints must go.
        if broker is not None:
            _reset_checkpoints(settings)
        job = subprocess.Popen(
            [sys.executable, "-m", "ingestion.cli", "stream", "--bootstrap", bootstrap], env=os.environ.copy()
        )
        print(f"[up] spark job pid {job.pid}; lake {settings.lake_root}", file=sys.stderr, flush=True)
        threading.Thread(target=_report, args=(settings, stop_reporting), daemon=True).start()
        threading.Thread(target=_watch, args=(job, stop_reporting), daemon=True).start()
        fleet = FleetConfig(vehicles=vehicles, seed=seed, start=datetime.now(UTC).replace(microsecond=0))
        producer = make_producer("kafka-python", bootstrap)
        try:
            summary = run(
                producer,
                fleet,
                FaultConfig(seed=seed),
                topic_prefix=settings.topic_prefix,
                speedup=speedup,
                duration_s=duration_s * speedup if duration_s else None,
            )
        finally:
            producer.close()
        print(f"[up] simulator done: {json.dumps(summary.as_dict())}", file=sys.stderr, flush=True)
        if not summary.interrupted:
            time.sleep(6)  # a few triggers so the last events land before the job stops
        return 0 if job.poll() in (None, 0) else 1
    except KeyboardInterrupt:
        return 1 if job is not None and job.poll() not in (None, 0) else 130
    finally:
        stop_reporting.set()
        if job is not None and job.poll() is None:
            job.send_signal(signal.SIGTERM)
            try:
                job.wait(90)
            except subprocess.TimeoutExpired:
                stop_pid(job.pid)
        if broker is not None:
            broker.stop()
        landed = landed_rows(settings.lake_root)
        print(
            f"[up] stopped; lake holds {sum(landed.values()):,} rows landed this run and before",
            file=sys.stderr,
            flush=True,
        )


def _reset_checkpoints(settings: Settings) -> None:
    import shutil

    if "://" not in settings.checkpoint_root:
        shutil.rmtree(settings.checkpoint_root, ignore_errors=True)
