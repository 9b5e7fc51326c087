"""``smartcity drill``: the pipeline run while faults are injected, then an account of every event.

In a folder of its own (``<data dir>/drill/<time>/``: its own broker, lake, checkpoints and warehouse),
the drill
1. sends a fleet with late (minutes), duplicated and malformed events of every kind;
2. SIGKILLs the Spark driver in the middle of a batch ``kills`` times, restarting it each time;
3. restarts the simulator with the same seed and start, so every id of its first part is sent again;
4. sends a second fleet and replaces the broker while the job runs: a new broker on the same port
   with an empty data folder (a broker that lost its disk), so what the job had not read is gone;
   the job must see the offset reset and go on;
5. sends a third fleet to the new broker, drains, runs ``dbt build``;
then counts, per fleet (each fleet has event times of its own), what was sent, landed and lost.
Anything lost outside the broker restart, or a duplicate in the marts, fails the drill (exit 1).
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from contract import lake, metrics
from ingestion.faults import FaultConfig
from ingestion.fleet import FleetConfig
from ingestion.producer import make_producer
from ingestion.simulate import RunSummary, run
from smartcity.broker import EmbeddedBroker, ensure_topics
from smartcity.config import Settings
from smartcity.marts import build_and_export
from smartcity.pipeline import JobProcess, own_environment, stream_command

FLEET_GAP = timedelta(hours=4)  # event-time distance between the drill's fleets
LATE_BY_S = 600.0  # late events arrive ten minutes after their event time


def say(message: str) -> None:
    print(f"[drill] {message}", file=sys.stderr, flush=True)


FLEET_SECONDS = 900.0  # event time each fleet of the drill drives


@dataclass(frozen=True, slots=True)
class DrillConfig:
    vehicles: int = 20
    fleet_seconds: float = FLEET_SECONDS
    kills: int = 3
    seed: int = 7
    late_rate: float = 0.02
    duplicate_rate: float = 0.02
    malformed_rate: float = 0.01


@dataclass
class DrillFleet:
    """One simulator run of the drill and what it sent."""

    name: str
    config: FleetConfig
    summaries: list[RunSummary] = field(default_factory=list)

    @property
    def unique_valid(self) -> int:
        """Distinct well-formed events: the first run's sends minus its duplicates and malformed ones
        (a replay with the same seed and start sends ids of the first run again, nothing new)."""
        first = self.summaries[0]
        return first.sent - first.duplicates - sum(first.malformed.values())

    @property
    def malformed(self) -> int:
        return sum(sum(s.malformed.values()) for s in self.summaries)

    def window(self) -> tuple[datetime, datetime]:
        start = self.config.start
        return start - timedelta(minutes=1), start + FLEET_GAP / 2


class Drill:
    def __init__(self, settings: Settings, config: DrillConfig, prefix: str = "") -> None:
        self.config = config
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.home = settings.data_dir / "drill" / stamp
        self.settings = Settings(
            None, prefix, 3, self.home, str(self.home / "lake"), str(self.home / "checkpoints"),
            marts_every_s=0,
        )  # fmt: skip
        self.broker = EmbeddedBroker(self.home / "kafka")
        self.rng = random.Random(config.seed)
        self.job: JobProcess | None = None
        self.restarts = 0
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
        self.fleets = [
            DrillFleet(name, FleetConfig(vehicles=config.vehicles, seed=config.seed + n, start=start + n * FLEET_GAP))
            for n, name in enumerate(("before the kills", "across the broker restart", "after the broker restart"))
        ]

    # -- the pieces ------------------------------------------------------------------------

    def _started_job(self) -> JobProcess:
        assert self.job is not None, "the job is started before the fleets"
        return self.job

    def _send(self, fleet: DrillFleet, max_events: int | None = None) -> RunSummary:
        faults = FaultConfig(
            late_rate=self.config.late_rate,
            late_by_s=LATE_BY_S,
            duplicate_rate=self.config.duplicate_rate,
            malformed_rate=self.config.malformed_rate,
            seed=fleet.config.seed,
        )
        producer = make_producer("confluent", self.broker.bootstrap)
        try:
            summary = run(
                producer, fleet.config, faults, topic_prefix=self.settings.topic_prefix,
                duration_s=self.config.fleet_seconds, max_events=max_events, progress=None,
            )  # fmt: skip
        finally:
            producer.close()
        fleet.summaries.append(summary)
        return summary

    def _start_job(self) -> JobProcess:
        # Batches small enough that the first fleet takes several of them (a kill needs a batch in
        # flight after one committed), however small the fleet.
        per_trigger = max(100, min(4000, self.fleets[0].summaries[0].sent // 20))
        options = ("--no-fail-on-data-loss", "--max-offsets-per-trigger", str(per_trigger), "--trigger-seconds", "1")
        command = stream_command(self.broker.bootstrap, *options)
        env = own_environment(self.home, self.settings.topic_prefix)  # the drill's own broker and folder
        self.job = JobProcess(command, self.home / "job.log", env)
        self.job.start()
        return self.job

    def _kill_mid_batch(self) -> bool:
        """SIGKILL the driver at a random moment, then while the next batch is being staged."""
        time.sleep(self.rng.uniform(0, 3))
        return self._started_job().kill_mid_batch(self.settings.lake_root)

    def landed(self, fleet: DrillFleet) -> int:
        """Distinct events of ``fleet`` in the raw lake (each fleet has event times of its own)."""
        import duckdb

        from lakehouse.snapshot import lake_union

        raw = lake_union(self.settings.lake_catalog(), lake.RAW, "event_id, event_time", lake.STREAMS)
        lo, hi = fleet.window()
        sql = f"select count(distinct event_id) from {raw} where event_time >= ? and event_time < ?"
        return duckdb.execute(sql, [lo, hi]).fetchall()[0][0]

    def _wait_until_landed(self, fleet: DrillFleet, timeout_s: float = 300, restart: bool = False) -> None:
        """Until the fleet's events are in raw; with ``restart``, a job that stops meanwhile (it
        finds the broker it read gone, however long that takes it) is started again."""
        deadline = time.monotonic() + timeout_s
        while self.landed(fleet) < fleet.unique_valid and time.monotonic() < deadline:
            if self._started_job().poll() is not None:
                if not restart:
                    return
                say("the job stopped when the broker went away; restarting it")
                self._start_job()
            time.sleep(1)

    # -- the drill -------------------------------------------------------------------------

    def run(self) -> DrillReport:
        self.home.mkdir(parents=True, exist_ok=True)
        say(f"working in {self.home} (logs: drill.log, job.log)")
        self.broker.start(isolated=True)
        try:
            ensure_topics(self.broker.bootstrap, self.settings.topic_prefix, 3)
            first, second, third = self.fleets
            sent = self._send(first)
            say(f"fleet 1: {sent.sent:,} events sent (late, duplicated and malformed ones among them)")
            self._start_job()
            for n in range(self.config.kills):
                if self._kill_mid_batch():
                    say(f"SIGKILL {n + 1} of {self.config.kills} to the Spark driver mid-batch; restarting it")
                    self.restarts += 1
                    self._start_job()
            replay = self._send(first, max_events=sent.sent // 2)
            say(f"simulator restarted with the same seed and start: {replay.sent:,} events sent again")
            self._wait_until_landed(first)  # before the broker restart, which would take it along
            self._send(second)
            say(f"fleet 2: {second.summaries[0].sent:,} events sent; restarting the broker now")
            self.broker.stop()  # its data, and what the job had not read yet, is gone with its folder
            self.broker = EmbeddedBroker(self.home / "kafka-replaced", port=self.broker.port)
            self.broker.start(isolated=True)
            ensure_topics(self.broker.bootstrap, self.settings.topic_prefix, 3)
            self._send(third)
            say(f"fleet 3: {third.summaries[0].sent:,} events sent to the new broker")
            say("draining: waiting until the job has landed the third fleet")
            self._wait_until_landed(third, restart=True)
            code = self._started_job().stop(120)  # the queries stop between batches
            if code != 0:
                say(f"the job exited with code {code}; see {self.home / 'job.log'}")
        finally:
            if self.job is not None and self.job.poll() is None:
                self.job.kill()
            self.broker.stop()
        say("dbt build")
        built = build_and_export(self.settings)
        return DrillReport.measure(self, built)


@dataclass
class DrillReport:
    rows: list[tuple[str, int, int, int, int]]  # fleet, unique sent, landed, lost, replayed copies
    quarantined: dict[str, int]
    malformed_sent: int
    raw_rows: int
    raw_distinct: int
    mart_duplicates: int | None
    late_sent: int
    dbt_ok: bool
    driver_kills: int
    offset_resets: int

    @property
    def lost_elsewhere(self) -> int:
        return sum(lost for name, _, _, lost, _ in self.rows if name != "across the broker restart")

    @property
    def passed(self) -> bool:
        return self.lost_elsewhere == 0 and self.mart_duplicates == 0 and self.dbt_ok

    @classmethod
    def measure(cls, drill: Drill, dbt_ok: bool) -> DrillReport:
        import duckdb

        from lakehouse.snapshot import lake_union

        catalog = drill.settings.lake_catalog()
        raw = lake_union(catalog, lake.RAW, "event_id", lake.STREAMS)
        quarantine = lake_union(catalog, lake.QUARANTINE, "quarantine_reason", lake.STREAMS)
        rows = []
        for fleet in drill.fleets:
            landed = drill.landed(fleet)
            copies = sum(s.sent for s in fleet.summaries[1:])
            rows.append((fleet.name, fleet.unique_valid, landed, max(fleet.unique_valid - landed, 0), copies))
        raw_rows, raw_distinct = duckdb.execute(f"select count(*), count(distinct event_id) from {raw}").fetchall()[0]
        reasons = dict(
            duckdb.execute(
                f"select split_part(quarantine_reason, ':', 1), count(*) from {quarantine} group by 1 order by 2 desc"
            ).fetchall()
        )
        mart_duplicates = None
        if drill.settings.duckdb_path.exists():  # built even when a dbt test failed: count what it left
            staged = [
                "stg_smartcity__vehicle_readings",
                "stg_smartcity__gps_fixes",
                "stg_smartcity__camera_sightings",
                "stg_smartcity__weather_observations",
                "stg_smartcity__incident_events",
            ]
            # Not read-only: dbt-duckdb, run in this process, keeps the file open (see smartcity/marts.py).
            with contextlib.suppress(duckdb.Error), duckdb.connect(str(drill.settings.duckdb_path)) as con:
                mart_duplicates = sum(
                    con.execute(f"select count(*) - count(distinct event_id) from main_staging.{name}").fetchall()[0][0]
                    for name in staged
                )
        rows_written = metrics.read_all(lake.metrics_path(drill.settings.lake_root))
        resets = sum(isinstance(row, metrics.DataLossRow) for row in rows_written)
        return cls(
            rows=rows,
            quarantined=reasons,
            malformed_sent=sum(f.malformed for f in drill.fleets),
            raw_rows=raw_rows,
            raw_distinct=raw_distinct,
            mart_duplicates=mart_duplicates,
            late_sent=sum(s.late for f in drill.fleets for s in f.summaries),
            dbt_ok=dbt_ok,
            driver_kills=drill.restarts,
            offset_resets=resets,
        )

    def render(self) -> str:
        lines = [f"{'fleet':<28}{'sent (distinct)':>16}{'landed':>9}{'lost':>7}{'replayed':>10}"]
        for name, unique, landed, lost, copies in self.rows:
            lines.append(f"{name:<28}{unique:>16,}{landed:>9,}{lost:>7,}{copies:>10,}")
        restart = next(lost for name, _, _, lost, _ in self.rows if name == "across the broker restart")
        lines += [
            f"driver SIGKILLs mid-batch: {self.driver_kills}; "
            f"offset resets the job reported after the broker restart: {self.offset_resets}",
            f"quarantined: {sum(self.quarantined.values()):,} of {self.malformed_sent:,} malformed sent "
            f"(by reason: {', '.join(f'{k} {v}' for k, v in self.quarantined.items()) or 'none'})",
            f"raw rows {self.raw_rows:,}, distinct events {self.raw_distinct:,}: "
            f"{self.raw_rows - self.raw_distinct:,} copies in raw for dbt's de-duplication to remove",
            f"late events sent (10 min late): {self.late_sent:,}; dbt build and tests "
            f"(every reading counted in its own hour): {'passed' if self.dbt_ok else 'FAILED'}",
            f"duplicates left in staging and marts: {'n/a' if self.mart_duplicates is None else self.mart_duplicates}",
            f"lost with the replaced broker (never read): {restart:,}",
            f"lost anywhere else: {self.lost_elsewhere:,}",
            f"verdict: {'PASS' if self.passed else 'FAIL'}",
        ]
        return "\n".join(lines)


def run_drill(settings: Settings, config: DrillConfig) -> int:
    from smartcity.orchestrator import logs_to_file

    drill = Drill(settings, config)
    with logs_to_file(drill.home / "drill.log"):
        report = drill.run()
    print(report.render())
    return 0 if report.passed else 1
