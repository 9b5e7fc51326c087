"""One Spark application, five supervised streaming queries: Kafka topics -> raw lake + quarantine.

Every query is watched: if one dies, the others are stopped and the application exits
non-zero with that query's error. SIGINT, SIGTERM and SIGHUP stop each query between batches; SIGUSR1
first lands what the topics hold at that moment (``smartcity up``'s orderly stop), then stops the same way.

Every server the driver opens (RPC, block manager, the UI when asked for) listens on
``bind_address``: loopback unless the user binds wider (``SMARTCITY_BIND_ADDRESS``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract import lake, metrics
from contract.events import BY_NAME, topic_name
from kafkaclient import clients as kafka_clients
from kafkaclient.access import tcp_open
from kafkaclient.settings import PLAINTEXT, KafkaSecurity
from spark.errors import LakeRootError, QueryFailed, root_cause
from spark.parse import EventTimeBounds

if TYPE_CHECKING:
    from lakehouse.catalogs import CatalogConfig

log = logging.getLogger("smartcity.stream")
# Asks the job to land what the topics hold at that moment, then stop (see Application.drain).
DRAIN_SIGNAL = signal.SIGUSR1

NATIVE_PROVIDER = "org.apache.spark.sql.kafka010.KafkaSourceProvider"


@dataclass(frozen=True, slots=True)
class StreamOptions:
    bootstrap: str
    lake_root: str
    checkpoint_root: str
    kafka_security: KafkaSecurity = PLAINTEXT
    topic_prefix: str = ""
    streams: tuple[str, ...] = tuple(BY_NAME)
    master: str = "local[*]"
    source: str = "auto"
    trigger_seconds: float = 2.0
    available_now: bool = False
    max_offsets_per_trigger: int = 500_000
    starting_offsets: str = "earliest"
    duration_s: float | None = None
    fail_on_data_loss: bool = True
    broker_retry_s: float = 30.0  # how long the Python source waits for a broker that went away
    event_time_bounds: EventTimeBounds = field(default_factory=EventTimeBounds)
    bind_address: str = "127.0.0.1"
    ui: bool = False
    catalog: CatalogConfig | None = None  # the Iceberg catalog; None: the local lake's own SQLite file
    log_path: str | None = None  # where the whole error of a failed query goes
    spark_log_path: str | None = None  # where Spark's own output goes (JVM, executors, Python workers)
    metrics_file: str | None = None  # default: the local lake's; a lake on an object store has none
    extra_conf: dict[str, str] = field(default_factory=dict)

    def source_options(self, native: bool = False) -> dict[str, str]:
        """Options both Kafka sources take (Spark's connector ignores the event-time and broker-retry ones), with the
        connection's security settings: the Java client's for the native connector (secrets included,
        redacted by Spark), librdkafka's without the secrets for the Python source (its tasks read
        them from their environment, see ``secret_conf``)."""
        security = self.kafka_security
        return {
            **(kafka_clients.native_options(security) if native else kafka_clients.source_options(security)),
            "kafka.bootstrap.servers": self.bootstrap,
            "startingOffsets": self.starting_offsets,
            "maxOffsetsPerTrigger": str(self.max_offsets_per_trigger),
            "failOnDataLoss": str(self.fail_on_data_loss).lower(),
            "eventTimeFloor": self.event_time_bounds.floor.isoformat(),
            "maxEventTimeAheadSeconds": str(self.event_time_bounds.max_ahead.total_seconds()),
            "brokerRetrySeconds": str(self.broker_retry_s),
        }


def build_session(options: StreamOptions):
    from pyspark.sql import SparkSession

    # Read by PySpark for UDFs and by the JVM (which inherits it) for Python data sources.
    os.environ["PYSPARK_PYTHON"] = worker_python()
    wildcard = options.bind_address in ("0.0.0.0", "::")
    if not wildcard:
        # The address Spark's web UI binds to, and the one it picks instead of asking the hostname
        # (which warns "resolves to a loopback address" and may choose the LAN address).
        os.environ["SPARK_LOCAL_IP"] = options.bind_address
    builder = (
        SparkSession.builder.appName("smartcity-stream")
        .master(options.master)
        .config("spark.driver.bindAddress", options.bind_address)
        .config("spark.ui.enabled", str(options.ui).lower())
        .config("spark.ui.killEnabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        # Streaming queries only: adaptive execution does not apply to them (Spark warns per query).
        .config("spark.sql.adaptive.enabled", "false")
        # int64 UTC-adjusted timestamps: DuckDB, Athena and Spectrum read them as UTC instants.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        # Write each hour's rows as they come instead of sorting the batch by partition first.
        .config("spark.sql.maxConcurrentOutputFileWriters", "64")
        .config("spark.sql.streaming.stopTimeout", "60s")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "20000")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
    )
    # Executors connect back to the driver: by the bound address, or by this host's name when the
    # driver listens on every interface (a container: its name on the compose network).
    builder = builder.config("spark.driver.host", socket.gethostname() if wildcard else options.bind_address)
    # Redact JAAS lines (SASL passwords of the native connector) as well as Spark's own patterns.
    builder = builder.config("spark.redaction.regex", kafka_clients.SPARK_REDACTION_REGEX)
    builder = builder.config("spark.sql.redaction.options.regex", kafka_clients.SPARK_REDACTION_REGEX + "|url")
    public, secret = split_secret_conf(options)
    for key, value in public.items():
        builder = builder.config(key, value)
    with secret_properties_file(secret):
        spark = builder.getOrCreate()
    if options.ui:
        log.info("Spark UI at %s (jobs cannot be killed from it)", spark.sparkContext.uiWebUrl)
    spark.sparkContext.setLogLevel("WARN")
    quiet = {
        # Stopping a query cancels its job group even when no job runs; Spark warns about each one.
        "org.apache.spark.scheduler.DAGScheduler": "ERROR",
        # A failed query is reported by the application, in one line (the whole error with -v).
        "org.apache.spark.sql.execution.streaming": "OFF",
    }
    if not log.isEnabledFor(logging.DEBUG):
        set_log_levels(spark, quiet)
    return spark


def set_log_levels(spark, levels: dict[str, str]) -> None:
    jvm = spark.sparkContext._jvm
    for logger, level in levels.items():
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
            logger, jvm.org.apache.logging.log4j.Level.valueOf(level)
        )


# Once a stop is asked for, tasks cut short (a broker that stopped with us, a cancelled job) fail as
# the stop's own consequence: their batches are not committed and run again on the next start.
# Spark would log each one with its stack; the stop is reported in one line instead.
QUIET_WHILE_STOPPING = {
    "org.apache.spark.executor": "OFF",
    "org.apache.spark.scheduler": "OFF",
    "org.apache.spark.sql.execution": "OFF",
    "org.apache.spark.api.python": "OFF",
    "org.apache.spark.storage": "OFF",
}


def split_secret_conf(options: StreamOptions) -> tuple[dict[str, str], dict[str, str]]:
    """Spark settings, and those that carry secrets: the Kafka secrets for the executors' environment
    (``spark.executorEnv``, which executors on other machines receive) and any secret in
    ``extra_conf`` (Spark's authentication secret)."""
    secrets_env = kafka_clients.secrets_env(options.kafka_security)
    # Local mode: the Python workers inherit the driver's environment through the JVM.
    os.environ.update(secrets_env)
    secret = {f"spark.executorEnv.{k}": v for k, v in secrets_env.items()}
    public: dict[str, str] = {}
    for key, value in options.extra_conf.items():
        (secret if "secret" in key.lower() or "password" in key.lower() else public)[key] = value
    return public, secret


@contextlib.contextmanager
def secret_properties_file(conf: dict[str, str]):
    """PySpark passes every builder setting to ``spark-submit`` as ``--conf k=v``, on the JVM's command
    line for anyone to read in ``ps``. Secret settings go in a properties file instead, private to this
    user and removed once the JVM has read it."""
    if not conf:
        yield
        return
    import tempfile

    folder = tempfile.mkdtemp(prefix="smartcity-spark-")
    path = Path(folder) / "secret.conf"
    saved = os.environ.get("PYSPARK_SUBMIT_ARGS")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            for key, value in conf.items():
                out.write(f"{key} {_properties_escape(value)}\n")
        os.environ["PYSPARK_SUBMIT_ARGS"] = f"--properties-file {path} " + (saved or "pyspark-shell")
        yield
    finally:
        if saved is None:
            os.environ.pop("PYSPARK_SUBMIT_ARGS", None)
        else:
            os.environ["PYSPARK_SUBMIT_ARGS"] = saved
        path.unlink(missing_ok=True)
        os.rmdir(folder)


def _properties_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def worker_python() -> str:
    """Python workers run this interpreter's environment (the project and its dependencies live
    there), through the launcher that keeps Spark's zipped pyspark off their path
    (spark/worker_python.py). ``PYSPARK_PYTHON``, when set, wins (e.g. a cluster's own Python)."""
    if os.environ.get("PYSPARK_PYTHON"):
        return os.environ["PYSPARK_PYTHON"]
    launcher = Path(sys.executable).parent / "smartcity-spark-python"
    return str(launcher) if launcher.exists() else sys.executable


def native_kafka_available(spark) -> bool:
    try:
        spark.sparkContext._jvm.java.lang.Class.forName(NATIVE_PROVIDER)
    except Exception:  # Py4JJavaError: ClassNotFoundException
        return False
    return True


def staged_stream(spark, options: StreamOptions, stream: str):
    """One row per Parquet file that the batch's tasks staged for ``stream`` (see spark/stage.py).

    The native connector yields (key, value, topic, partition, offset, timestamp) and the tasks
    stage them in ``mapInArrow``; the Python source stages them inside its reader, so records
    are read, parsed and written by one Python worker and never cross into the JVM."""
    topic = topic_name(BY_NAME[stream], options.topic_prefix)
    use_native = options.source == "native" or (options.source == "auto" and native_kafka_available(spark))
    if use_native and not native_kafka_available(spark):
        raise RuntimeError("--source native needs spark-sql-kafka-0-10 on the classpath (--packages)")
    if use_native:
        fmt = "kafka"
    else:
        from spark.kafka_source import NAME

        fmt = NAME
    reader = (
        spark.readStream.format(fmt)
        .options(**options.source_options(native=use_native))
        .option("subscribe", topic)
        .option("minPartitions", str(spark.sparkContext.defaultParallelism))
    )
    log.info("topic %s: %s kafka source", topic, "native" if use_native else "python")
    if use_native:
        return stage_native(reader.load(), stream, options)
    reader = reader.option("landAs", stream).option("lakeRoot", options.lake_root)
    if options.metrics_file:
        reader = reader.option("metricsFile", options.metrics_file)
    return reader.load()


def stage_native(records, stream: str, options: StreamOptions):
    """Rows of Spark's Kafka connector -> the staged files of spark/stage.py, in ``mapInArrow``:
    the same stager, hence the same files, as the Python source runs inside its reader."""
    from spark.stage import STAGED_DDL, stager

    columns = records.select("key", "value", "topic", "partition", "offset", "timestamp")
    return columns.mapInArrow(stager(stream, options.lake_root, options.event_time_bounds), STAGED_DDL)


def catalog_config(options: StreamOptions) -> CatalogConfig:
    from lakehouse.catalogs import CatalogConfig, default_catalog

    return options.catalog or CatalogConfig(default_catalog(options.lake_root), options.lake_root)


def lake_tables(options: StreamOptions) -> dict[str, dict[str, Any]]:
    """stream -> zone -> its Iceberg table, made if missing. The tasks write where the lake's
    layout says (``<root>/<zone>/<stream>/data/``): a table elsewhere is refused here, not later."""
    from lakehouse.catalogs import ensure_tables, table_location

    config = catalog_config(options)
    tables = ensure_tables(config, options.streams)
    by_stream: dict[str, dict[str, Any]] = {}
    for spec, table in tables.items():
        expected = table_location(options.lake_root, spec)
        if table.location().rstrip("/") != expected:
            raise LakeRootError(f"table {spec.name} lives at {table.location()}, not in the lake {expected}")
        by_stream.setdefault(spec.stream, {})[spec.zone] = table
    return by_stream


class DataLossEcho:
    """The source reports skipped offsets from its own processes, whose output goes to Spark's log; the
    driver repeats each report on this process's stderr, where the person running the job sees it."""

    def __init__(self, metrics_file: str | Path | None) -> None:
        self.reader = metrics.MetricsReader(metrics_file, from_end=True)

    def echo(self) -> None:
        from spark.kafka_source import data_loss_line

        reports: dict[tuple, list] = {}
        for row in self.reader.read():
            if isinstance(row, metrics.DataLossRow):
                reports.setdefault((row.at, row.action), []).append(row.gap)
        for (_, action), gaps in reports.items():
            print(data_loss_line(gaps, action), file=sys.stderr, flush=True)


class Application:
    def __init__(self, options: StreamOptions) -> None:
        from spark.metrics import MetricsSink

        self.options = options
        self.tables = lake_tables(options)  # made or loaded before the session: a bad catalog fails fast
        self.spark = build_session(options)
        self.metrics = MetricsSink(options.metrics_file or lake.metrics_path(options.lake_root))
        self.queries: list = []
        self._stop = threading.Event()
        self._drain = threading.Event()
        self._data_loss = DataLossEcho(options.metrics_file or lake.metrics_path(options.lake_root))

    def start(self) -> None:
        from spark.commit import BatchCommitter
        from spark.kafka_source import KafkaOffsetsDataSource

        self.spark.streams.addListener(self.metrics.listener())
        if self.options.source != "native":
            self.spark.dataSource.register(KafkaOffsetsDataSource)  # once per session, for every query
        for stream in self.options.streams:
            if self._stop.is_set():  # asked to stop while the queries start (each takes a second or more)
                break
            checkpoint = f"{self.options.checkpoint_root}/{stream}"
            committer = BatchCommitter(self.spark, stream, self.tables[stream], checkpoint, self.metrics)
            query = (
                staged_stream(self.spark, self.options, stream)
                .writeStream.queryName(stream)
                .foreachBatch(committer)
                .option("checkpointLocation", checkpoint)
            )
            query = (
                query.trigger(availableNow=True)
                if self.options.available_now
                else query.trigger(processingTime=f"{self.options.trigger_seconds} seconds")
            )
            self.queries.append(query.start())
        log.info("started %d queries: %s", len(self.queries), ", ".join(q.name for q in self.queries))

    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def request_drain(self, *_: object) -> None:
        """Land what the topics hold now, then stop (``smartcity up``'s orderly stop)."""
        self._drain.set()
        self._stop.set()

    def drain(self, timeout_s: float = 120.0) -> None:
        """Each query processes what its source holds at this moment (Spark's processAllAvailable),
        all side by side; bounded, as a broker that went away would make it wait forever."""
        waits = [threading.Thread(target=q.processAllAvailable, daemon=True) for q in self.queries if q.isActive]
        for thread in waits:
            thread.start()
        deadline = time.monotonic() + timeout_s
        for thread in waits:
            thread.join(max(deadline - time.monotonic(), 0))

    def stop_gracefully(self, timeout_s: float = 60.0) -> None:
        """Stop each query when it is between batches, so no batch is cut in half; at once when the
        broker is gone (it was stopped with us: the batch cannot finish, and is read again next time)."""
        deadline = time.monotonic() + timeout_s
        next_check = 0.0
        for q in self.queries:
            while q.isActive and q.status.get("isTriggerActive") and time.monotonic() < deadline:
                if time.monotonic() > next_check:
                    next_check = time.monotonic() + 0.5
                    if not tcp_open(self.options.bootstrap, timeout_s=1.0):
                        log.info("the Kafka broker is gone: stopping the queries without waiting for their batches")
                        deadline = 0.0
                        break
                time.sleep(0.05)
            if deadline == 0.0:
                break
            q.stop()
        # The rest at once, side by side: each may be waiting on a broker that is gone.
        stops = [threading.Thread(target=q.stop, daemon=True) for q in self.queries if q.isActive]
        for thread in stops:
            thread.start()
        for thread in stops:
            thread.join(timeout_s)

    def supervise(self) -> int:
        from pyspark.errors import StreamingQueryException

        started = time.monotonic()
        while True:
            self.report_data_loss()
            if self._stop.is_set():
                # Asked to stop (a signal): what fails from here on is the stop's doing, not an error.
                if self._drain.is_set():
                    self.drain()
                if not log.isEnabledFor(logging.DEBUG):
                    set_log_levels(self.spark, QUIET_WHILE_STOPPING)
                self.stop_gracefully()
                return 0
            failed = [q for q in self.queries if q.exception() is not None]
            if failed:
                q = failed[0]
                error = str(q.exception())
                log.debug("query %s failed: %s", q.name, error)  # -v shows it
                self.stop_gracefully()
                where = self._keep_trace(q.name, error)
                raise QueryFailed(f"query {q.name} failed: {root_cause(error, self.options.bootstrap)}{where}")
            if all(not q.isActive for q in self.queries):
                return 0
            if self.options.duration_s and time.monotonic() - started > self.options.duration_s:
                self.stop_gracefully()
                return 0
            with contextlib.suppress(StreamingQueryException):  # reported at the top of the loop
                self.spark.streams.awaitAnyTermination(0.5)
            self.spark.streams.resetTerminated()

    def _keep_trace(self, query: str, error: str) -> str:
        """Append the whole error to the log file; the words that point the reader at it."""
        if not self.options.log_path:
            return " (the whole error with -v)"
        path = Path(self.options.log_path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as out:
                out.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} query {query} failed:\n{error}\n\n")
        except OSError:
            return " (the whole error with -v)"
        return f" (whole error in {path})"

    def close(self) -> None:
        self.spark.stop()

    def report_data_loss(self) -> None:
        self._data_loss.echo()


@contextlib.contextmanager
def spark_output_to(path: str | None):
    """Spark's own output (log4j of the driver and the executors, the Python workers' stderr) to the
    file at ``path``, this process's lines (its log records, its one-line errors) to the screen as
    before. The JVM and every process it starts inherit file descriptors 1 and 2: those go to the
    file, and this process's stderr moves to a copy of the screen's descriptor."""
    if not path:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    screen = os.fdopen(os.dup(saved[2]), "w", buffering=1)
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(target, 1)
    os.dup2(target, 2)
    os.close(target)
    streams = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    previous = {h: h.setStream(screen) for h in streams if getattr(h, "stream", None) is sys.__stderr__}
    real_stderr = sys.stderr
    sys.stderr = screen
    try:
        yield
    finally:
        sys.stderr = real_stderr
        for handler, stream in previous.items():
            handler.setStream(stream)
        screen.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        screen.close()


def run(options: StreamOptions) -> int:
    """The job's entry point: start the queries, supervise them, stop on SIGINT/SIGTERM or failure."""
    with spark_output_to(options.spark_log_path):
        return _run(options)


def _run(options: StreamOptions) -> int:
    log.info(
        "stream %s -> %s (checkpoints %s)", json.dumps(options.streams), options.lake_root, options.checkpoint_root
    )
    app = Application(options)
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        # SIGHUP: the terminal closed; the same orderly stop as SIGTERM.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            handlers[sig] = signal.signal(sig, app.request_stop)
        handlers[DRAIN_SIGNAL] = signal.signal(DRAIN_SIGNAL, app.request_drain)
    try:
        app.start()
        return app.supervise()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        app.close()
        app.report_data_loss()
