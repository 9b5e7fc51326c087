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
import statistics
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
# (client, fleet size) of the real-time runs: the targets, and kafka-python at a city fleet of 10,000.
REAL_TIME = (("kafka-python", 7_500), ("kafka-python", 10_000), ("confluent", 50_000))
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
        peak_kb = 0
        while child.poll() is None:
            # VmHWM: the peak RSS since exec (wait4's ru_maxrss would count the pages of the fork,
            # i.e. this benchmark's own memory).
            peak_kb = max(peak_kb, _high_water_kb(child.pid))
            time.sleep(0.2)
        assert child.returncode == 0, child.stderr.read()[-2000:] if child.stderr else ""
        summary = json.loads(summary_path.read_text())
    sent_rate = summary["sent"] / summary["elapsed_s"]
    event_time_rate = summary["sent"] / duration_s
    return {
        "sent": summary["sent"],
        "sent_rate": sent_rate,
        "event_time_rate": event_time_rate,
        "keeps_up": sent_rate / event_time_rate,
        "behind_s": summary["behind_s"],
        "peak_rss_mb": peak_kb / 1024,
    }


def _high_water_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real-time-s", type=float, default=60.0, help="event time of each real-time run")
    parser.add_argument("--repeat", type=int, default=3, help="backfill measurements per client (median)")
    args = parser.parse_args()
    with EmbeddedBroker() as broker:
        total = sum(len(values) for _, _, values in encoded(""))
        print(f"backfill: {total:,} events (500 vehicles, {BACKFILL_S} s of event time); median of {args.repeat}")
        print(f"{'client':<14}{'producer only ev/s':>20}{'end to end ev/s':>18}{'end to end / producer':>24}")
        runs = 0
        for backend in BACKENDS:
            raw, e2e = [], []
            for _ in range(args.repeat):  # alternating, each into new topics: the broker is in the loop
                runs += 1
                ensure_topics(broker.bootstrap, f"raw{runs}_", 4)
                raw.append(producer_only(broker.bootstrap, backend, encoded(f"raw{runs}_")))
                ensure_topics(broker.bootstrap, f"e2e{runs}_", 4)
                e2e.append(end_to_end(broker.bootstrap, backend, f"e2e{runs}_"))
            r, e = statistics.median(raw), statistics.median(e2e)
            print(f"{backend:<14}{r:>20,.0f}{e:>18,.0f}{e / r:>24.2f}")

        print(f"\nreal time: smartcity simulate --speedup 1 --duration {args.real_time_s:g}, every vehicle on the road")
        print(f"{'client':<14}{'vehicles':>9}{'events':>12}{'event-time ev/s':>17}{'sent ev/s':>11}"
              f"{'sent / event time':>19}{'worst tick late s':>19}{'peak RSS MB':>13}")  # fmt: skip
        for backend, vehicles in REAL_TIME:
            rt = real_time(broker.bootstrap, backend, vehicles, args.real_time_s)
            print(
                f"{backend:<14}{vehicles:>9,}{rt['sent']:>12,}{rt['event_time_rate']:>17,.0f}{rt['sent_rate']:>11,.0f}"
                f"{rt['keeps_up']:>19.3f}{rt['behind_s']:>19.2f}{rt['peak_rss_mb']:>13,.0f}"
            )


if __name__ == "__main__":
    main()
