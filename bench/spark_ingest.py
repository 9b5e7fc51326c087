"""Spark ingest on this machine (`make bench`): the real broker, the real job, the Python source.

1. drain: a backlog across the five topics, read with ``Trigger.AvailableNow`` in ``local[2]``;
   rows/s = rows landed / time from the queries' start to the last commit (session start-up,
   ~8 s, reported apart).
2. latency: a producer process paced at a steady rate while the job runs with a short trigger;
   per row, latency = when the Iceberg snapshot that added its file was committed minus its
   Kafka timestamp (set by the producer when it sent the event). p50/p95 after a warm-up.
3. commit: the driver's commit per batch (p50, p95), from the job's metrics file.

With ``--baseline REV`` the same benchmark of another revision runs first, in a git worktree of it
(its own code on the driver and the workers, through PYTHONPATH), and both are printed side by side.

    python -m bench.spark_ingest [--events N] [--rate R] [--seconds S] [--only drain|latency] [--baseline REV]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from multiprocessing.synchronize import Event
from pathlib import Path

from contract import BY_NAME, topic_name
from ingestion.fleet import Fleet, FleetConfig
from ingestion.producer import make_producer
from ingestion.serialize import Serializer
from smartcity.broker import EmbeddedBroker, ensure_topics
from smartcity.synthetic import raw_rows

PARTITIONS = 4


UPGRADED_SHARE = 1.0  # of the fleet on the contract's newest version; set by --upgraded-share


def fleet_records(events: int, prefix: str) -> Iterator[tuple[str, bytes, bytes]]:
    config = FleetConfig(
        vehicles=500,
        seed=7,
        start=datetime(2026, 11, 23, 8, tzinfo=UTC),
        departure_window_s=60,
        upgraded_share=UPGRADED_SHARE,
    )
    records = Serializer(validate=False).records(Fleet(config).run(None))
    for event in itertools.islice(records, events):
        yield topic_name(BY_NAME[event.stream], prefix), event.key, event.value


def send_all(bootstrap: str, records: Iterable[tuple[str, bytes, bytes]]) -> int:
    """Send as the fleet generates, so the backlog lives in the broker only; returns events sent."""
    producer = make_producer("confluent", bootstrap)
    sent = 0
    for topic, key, value in records:
        producer.send(topic, key, value)
        sent += 1
    producer.flush()
    producer.close()
    return sent


def send_paced(bootstrap: str, records: list, rate: float, go: Event) -> None:
    """Send ``rate`` events per second in 10 ms slices, so the Kafka timestamps are spread evenly."""
    producer = make_producer("confluent", bootstrap)
    go.wait()
    started, sent = time.perf_counter(), 0
    while sent < len(records):
        due = min(len(records), int((time.perf_counter() - started) * rate))
        for topic, key, value in records[sent:due]:
            producer.send(topic, key, value)
        sent = due
        time.sleep(0.01)
    producer.flush()
    producer.close()


def options(bootstrap: str, work: Path, prefix: str, master: str = "local[2]", **overrides):
    from spark.job import StreamOptions

    return StreamOptions(
        bootstrap=bootstrap,
        lake_root=(work / "lake").as_uri(),
        checkpoint_root=(work / "checkpoints").as_uri(),
        topic_prefix=prefix,
        master=master,
        **overrides,
    )


def commit_times(lake: Path) -> str:
    """p50 and p95 of the driver's commit per batch (from the metrics file), batches that landed rows."""
    from contract import lake as layout
    from contract import metrics

    ms = sorted(
        r.commit_ms
        for r in metrics.read_all(layout.metrics_path(str(lake)))
        if isinstance(r, metrics.BatchRow) and r.rows
    )
    if not ms:
        return "no batch"
    return f"p50 {ms[len(ms) // 2]} ms, p95 {ms[int(len(ms) * 0.95)]} ms over {len(ms)} batches"


def timed_drain(bootstrap: str, work: Path, prefix: str, master: str = "local[2]") -> tuple[float, float]:
    """Drain every topic into ``work`` with ``Trigger.AvailableNow``: (drain seconds, from the queries'
    start to the last commit; session start-up seconds, apart)."""
    from spark.job import Application

    began = time.perf_counter()
    app = Application(options(bootstrap, work, prefix, master, available_now=True, max_offsets_per_trigger=2_000_000))
    session_s = time.perf_counter() - began
    try:
        began = time.perf_counter()
        app.start()
        app.supervise()
        return time.perf_counter() - began, session_s
    finally:
        app.close()


def drain(bootstrap: str, events: int) -> None:
    prefix = "bench_drain_"
    ensure_topics(bootstrap, prefix, PARTITIONS)
    backlog = send_all(bootstrap, fleet_records(events, prefix))
    with tempfile.TemporaryDirectory(prefix="smartcity-bench-") as tmp:
        work = Path(tmp)
        elapsed, session_s = timed_drain(bootstrap, work, prefix)
        landed = raw_rows(work / "lake")
        commits = commit_times(work / "lake")
    print(f"drain      {backlog:>9,} events in backlog, {landed:,} landed")
    print(f"           {landed / elapsed:>9,.0f} rows/s  ({elapsed:.1f} s; session start-up {session_s:.1f} s apart)")
    print(f"           commit per batch: {commits}")
    if landed != backlog:
        sys.exit(f"drain lost or duplicated rows: {landed} != {backlog}")


def latency(bootstrap: str, rate: float, seconds: float, trigger_s: float) -> None:
    import duckdb

    from spark.job import Application

    prefix = "bench_latency_"
    ensure_topics(bootstrap, prefix, PARTITIONS)
    records = list(fleet_records(int(rate * seconds), prefix))
    ctx = mp.get_context("fork")  # the producer forks before the JVM and its threads exist
    go = ctx.Event()
    producer = ctx.Process(target=send_paced, args=(bootstrap, records, rate, go), daemon=True)
    producer.start()
    with tempfile.TemporaryDirectory(prefix="smartcity-bench-") as tmp:
        work = Path(tmp)
        app = Application(options(bootstrap, work, prefix, trigger_seconds=trigger_s, starting_offsets="latest"))
        app.start()
        supervisor = threading.Thread(target=app.supervise, daemon=True)
        supervisor.start()
        time.sleep(3)  # the queries' first (empty) batches
        go.set()
        producer.join()
        lake = work / "lake"
        deadline = time.monotonic() + 60
        while raw_rows(lake) < len(records) and time.monotonic() < deadline:
            time.sleep(0.5)
        app.request_stop()
        supervisor.join()
        app.close()
        visible = committed_at(lake)
        commits = commit_times(lake)
        files = sorted(visible)
        con = duckdb.connect()
        con.execute("create table visible (file varchar, visible_at double)")
        con.executemany("insert into visible values (?, ?)", list(visible.items()))
        p50, p95, p99, n = con.execute(
            f"""
            with rows as (
                select v.visible_at - epoch_ms(r.kafka_timestamp) / 1000.0 as latency_s, r.kafka_timestamp
                from read_parquet({files!r}, filename = true, union_by_name = true) as r
                join visible as v on v.file = r.filename
            ), steady as (
                select * from rows where kafka_timestamp >= (select min(kafka_timestamp) from rows) + interval 5 second
            )
            select quantile_cont(latency_s, 0.5), quantile_cont(latency_s, 0.95), quantile_cont(latency_s, 0.99),
                   count(*)
            from steady
            """
        ).fetchall()[0]
    print(f"latency    {rate:>9,.0f} ev/s for {seconds:.0f} s, trigger {trigger_s} s, {n:,} rows after a 5 s warm-up")
    print(f"           p50 {p50:.2f} s   p95 {p95:.2f} s   p99 {p99:.2f} s  (event sent -> its snapshot committed)")
    print(f"           commit per batch: {commits}")


def committed_at(lake: Path) -> dict[str, float]:
    """Each raw data file and when the snapshot that added it was committed (epoch seconds)."""
    from contract import lake as layout
    from lakehouse.snapshot import added_files, load_table, local_path
    from smartcity.synthetic import catalog

    return {
        local_path(data_file.file_path): ms / 1000
        for stream in layout.STREAMS
        for ms, data_file in added_files(load_table(catalog(lake), layout.RAW, stream))
    }


def baseline_output(revision: str, argv: list[str]) -> str:
    """This benchmark's output for another revision, run from a git worktree of it."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="smartcity-baseline-") as tmp:
        subprocess.run(["git", "worktree", "add", "--detach", tmp, revision], cwd=root, check=True, capture_output=True)
        try:
            run = subprocess.run(
                [sys.executable, "-m", "bench.spark_ingest", *argv],
                cwd=tmp,
                env={**os.environ, "PYTHONPATH": tmp},  # ahead of the editable install: that revision's code
                capture_output=True,
                text=True,
            )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", tmp], cwd=root, capture_output=True)
    if run.returncode:
        sys.exit(f"the baseline's benchmark failed:\n{run.stderr[-3000:]}")
    return run.stdout.rstrip()


def _own_option(arg: str, previous: str) -> bool:
    """Whether ``arg`` is one of this revision's options (or its value) that a baseline does not take."""
    own = ("--baseline", "--upgraded-share")
    return arg in own or previous in own or arg.startswith("--upgraded-share=")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="backlog size for the drain run")
    parser.add_argument("--rate", type=float, default=10_000, help="steady events/s for the latency run")
    parser.add_argument("--seconds", type=float, default=60, help="length of the latency run")
    parser.add_argument("--trigger", type=float, default=1.0, help="trigger interval of the latency run")
    parser.add_argument("--only", choices=("drain", "latency"))
    parser.add_argument(
        "--upgraded-share",
        type=float,
        default=1.0,
        help="share of the fleet on the newest contract version, the rest on version 1 (not passed to a baseline)",
    )
    parser.add_argument("--baseline", metavar="REV", help="also run this git revision's benchmark first (A/B)")
    args = parser.parse_args(argv)
    global UPGRADED_SHARE
    UPGRADED_SHARE = args.upgraded_share
    if args.baseline:
        given = argv if argv is not None else sys.argv[1:]
        rest = [a for a, b in zip(given, ["", *given[:-1]], strict=True) if not _own_option(a, b)]
        print(f"== baseline {args.baseline}", flush=True)
        print(baseline_output(args.baseline, rest), flush=True)
        print("== this revision", flush=True)
    with EmbeddedBroker() as broker:
        if args.only in (None, "drain"):
            drain(broker.bootstrap, args.events)
        if args.only in (None, "latency"):
            latency(broker.bootstrap, args.rate, args.seconds, args.trigger)


if __name__ == "__main__":
    main()
