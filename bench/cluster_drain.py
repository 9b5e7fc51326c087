"""Backlog drain on a Spark standalone cluster (two one-core workers, `smartcity cluster start`) next to
`local[2]`, in one run over the same backlog in the real broker (`make bench`).

Each drain reads every topic from the start with ``Trigger.AvailableNow`` into a lake of its own;
rows/s = rows landed / time from the queries' start to the last commit (session start-up apart).
Where the time goes comes from the job's metrics file: batches, the sum of batch durations per stream
(the five queries run concurrently) and the tasks' share (reading, parsing, writing Parquet).

    python -m bench.cluster_drain [--events N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.spark_ingest import PARTITIONS, fleet_records, send_all, timed_drain
from contract import lake, metrics
from smartcity import cluster
from smartcity.broker import EmbeddedBroker, ensure_topics
from smartcity.config import Settings
from smartcity.synthetic import raw_rows


def drain_once(bootstrap: str, prefix: str, master: str, work: Path) -> dict:
    elapsed, session_s = timed_drain(bootstrap, work, prefix, master)
    rows = metrics.read_all(lake.metrics_path(str(work / "lake")))
    batches = [r for r in rows if isinstance(r, metrics.BatchRow)]
    return {
        "rows": raw_rows(work / "lake"),
        "elapsed_s": elapsed,
        "session_s": session_s,
        "batches": len(batches),
        "batch_s": sum(b.batch_ms for b in batches) / 1000,
        "write_s": sum(b.write_ms for b in batches) / 1000,
        "median_batch_s": statistics.median(b.batch_ms for b in batches) / 1000,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="backlog size")
    args = parser.parse_args(argv)
    prefix = "bench_cluster_"
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory(prefix="smartcity-cluster-bench-") as tmp:
        root = Path(tmp)
        ensure_topics(broker.bootstrap, prefix, PARTITIONS)
        backlog = send_all(broker.bootstrap, fleet_records(args.events, prefix))
        settings = Settings(None, prefix, PARTITIONS, root / "cluster-home", str(root / "unused"), str(root / "unused"))
        began = time.perf_counter()
        state = cluster.start(settings, workers=2, cores=1, memory="2g")
        print(f"cluster    master and 2 one-core workers up in {time.perf_counter() - began:.1f} s")
        results = {}
        try:
            for n, (label, master) in enumerate((("local[2]", "local[2]"), ("cluster 2x1", state.master_url))):
                results[label] = drain_once(broker.bootstrap, prefix, master, root / f"drain-{n}")
        finally:
            cluster.stop(settings)
        print(f"backlog    {backlog:,} events; every drain must land all of them once")
        print(
            f"{'master':<13}{'rows/s':>9}{'drain s':>9}{'session s':>11}{'batches':>9}{'sum batch s':>13}"
            f"{'tasks+commit s':>16}"
        )
        for label, r in results.items():
            print(
                f"{label:<13}{r['rows'] / r['elapsed_s']:>9,.0f}{r['elapsed_s']:>9.1f}{r['session_s']:>11.1f}"
                f"{r['batches']:>9}{r['batch_s']:>13.1f}{r['write_s']:>16.1f}"
            )
        local, remote = results["local[2]"], results["cluster 2x1"]
        ratio = (remote["rows"] / remote["elapsed_s"]) / (local["rows"] / local["elapsed_s"])
        print(f"ratio      cluster / local[2] = {ratio:.2f}")
        if any(r["rows"] != backlog for r in results.values()):
            sys.exit(f"a drain lost or duplicated rows: {[r['rows'] for r in results.values()]} != {backlog}")


if __name__ == "__main__":
    main()
