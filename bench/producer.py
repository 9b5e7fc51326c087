"""Simulator throughput on this machine, both Kafka clients side by side in one run (`make bench`).

1. producer only: the fleet's events, encoded beforehand, handed to the client as fast as it takes them;
2. backfill end to end: what `smartcity simulate --backfill` does (fleet, contract check, encoding, send);
3. real time: `smartcity simulate --speedup 1 --duration 60` with every vehicle on the road, per client
   at the fleet size it must keep up with; its send rate against the event-time rate, how far a tick
   fell behind, and the simulator's peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from contract import topic_name
from ingestion.faults import FaultConfig
from ingestion.fleet import Fleet, FleetConfig, Tick, tick_groups
from ingestion.producer import BACKENDS, make_producer
from ingestion.simulate import BACKFILL_EVENTS, run
from smartcity.broker import EmbeddedBroker, ensure_topics

FLEET = FleetConfig(vehicles=500, seed=1, start=datetime(2026, 11, 23, 8, tzinfo=UTC), departure_window_s=60)
BACKFILL_S = 400
# Fleet sizes the real-time run must keep up with, per client.
REAL_TIME_VEHICLES = {"confluent": 50_000, "kafka-python": 7_500}
CHUNK = 50_000


def encoded(prefix: str) -> list[tuple[str, list[bytes], list[bytes]]]:
    """The backfill's events as (topic, keys, values) chunks, ready for the client."""
    fleet = Fleet(FLEET, validate=False)
    chunks = []
    for group in tick_groups(fleet.ticks(BACKFILL_S), BACKFILL_EVENTS):
        for batch in Tick.merge(group):
            keys = [fleet.keys[v] for v in batch.vehicle.tolist()]
            chunks.append((topic_name(batch.event_type, prefix), keys, batch.encode(validate=False)))
    return chunks


def producer_only(bootstrap: str, backend: str, chunks: list) -> float:
    producer = make_producer(backend, bootstrap)
    started = time.perf_counter()
    for topic, keys, values in chunks:
        producer.send_many(topic, keys, values)
    producer.flush()
    elapsed = time.perf_counter() - started
    producer.close()
    assert producer.stats.failed == 0
    return producer.stats.sent / elapsed


def end_to_end(bootstrap: str, backend: str, prefix: str) -> float:
    producer = make_producer(backend, bootstrap)
    try:
        summary = run(producer, FLEET, FaultConfig(), topic_prefix=prefix, duration_s=BACKFILL_S, progress=None)
    finally:
        producer.close()
    assert summary.failed == 0
    return summary.events_per_s


def real_time(bootstrap: str, backend: str, vehicles: int, duration_s: float) -> dict:
    """`smartcity simulate` in real time as its own process: its summary and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        summary_path = Path(tmp) / "summary.json"
        command = [
            str(Path(sys.executable).with_name("smartcity")), "simulate",
            "--bootstrap", bootstrap, "--backend", backend, "--vehicles", str(vehicles),
            "--speedup", "1", "--duration", str(duration_s), "--departure-window", "1",
            "--summary-json", str(summary_path),
        ]  # fmt: skip
        env = {**os.environ, "SMARTCITY_TOPIC_PREFIX": f"rt_{backend.replace('-', '_')}_", "SMARTCITY_DATA_DIR": tmp}
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        assert child.returncode == 0, child.stderr.read()[-2000:]
        summary = json.loads(summary_path.read_text())
    sent_rate = summary["sent"] / summary["elapsed_s"]
    event_time_rate = summary["sent"] / duration_s
    return {
        "sent": summary["sent"],
        "sent_rate": sent_rate,
        "event_time_rate": event_time_rate,
        "keeps_up": sent_rate / event_time_rate,
        "behind_s": summary["behind_s"],
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-time-s", type=float, default=60.0, help="event time of each real-time run")
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, "bench_", 4)
        chunks = encoded("bench_")
        total = sum(len(values) for _, _, values in chunks)
        print(f"backfill: {total:,} events (500 vehicles, {BACKFILL_S} s of event time)")
        print(f"{'client':<14}{'producer only ev/s':>20}{'end to end ev/s':>18}{'end to end / producer':>24}")
        for backend in BACKENDS:
            raw = producer_only(broker.bootstrap, backend, chunks)
            e2e = end_to_end(broker.bootstrap, backend, "bench_")
            print(f"{backend:<14}{raw:>20,.0f}{e2e:>18,.0f}{e2e / raw:>24.2f}")

        print(f"\nreal time: smartcity simulate --speedup 1 --duration {args.real_time_s:g}, every vehicle on the road")
        print(f"{'client':<14}{'vehicles':>9}{'events':>12}{'event-time ev/s':>17}{'sent ev/s':>11}"
              f"{'sent / event time':>19}{'worst tick late s':>19}{'peak RSS MB':>13}")  # fmt: skip
        for backend, vehicles in sorted(REAL_TIME_VEHICLES.items(), key=lambda kv: kv[1]):
            r = real_time(broker.bootstrap, backend, vehicles, args.real_time_s)
            print(
                f"{backend:<14}{vehicles:>9,}{r['sent']:>12,}{r['event_time_rate']:>17,.0f}{r['sent_rate']:>11,.0f}"
                f"{r['keeps_up']:>19.3f}{r['behind_s']:>19.2f}{r['peak_rss_mb']:>13,.0f}"
            )


if __name__ == "__main__":
    main()
