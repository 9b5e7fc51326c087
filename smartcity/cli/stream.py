"""``smartcity stream``: the Spark job, Kafka to the lake's Iceberg tables (pyspark is imported only to run).

Run the Spark Structured Streaming job for all five streams: each topic's records become the rows
of its raw table, or of its quarantine table with the reason, exactly once.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import threading
from datetime import UTC, datetime, timedelta

from contract.events import BY_NAME
from ingestion.producer import check_reachable
from kafkaclient.access import check_access
from smartcity import children
from smartcity.broker import ensure_topics, kafka_connection
from smartcity.cli.args import add_metrics_port, positive, streams, subcommand, utc_datetime
from smartcity.config import Settings
from smartcity.locking import exclusive

SOURCES = ("auto", "python", "native")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = subcommand(sub, "stream", run, "run the Spark job: Kafka to the lake's Iceberg tables", __doc__)
    parser.add_argument("--master", default="local[*]", help="Spark master URL (default local[*])")
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="auto",
        help="Kafka source: Spark's native connector, the Python data source, "
        "or auto (native if the connector is on the classpath)",
    )
    parser.add_argument("--trigger-seconds", type=positive(float), default=2.0, help="micro-batch interval (default 2)")
    parser.add_argument("--available-now", action="store_true", help="drain everything in Kafka now, then exit")
    parser.add_argument(
        "--max-offsets-per-trigger",
        type=int,
        default=500_000,
        help="upper bound on records per stream per micro-batch (default 500000)",
    )
    parser.add_argument("--duration", type=positive(float), help="stop cleanly after this many seconds")
    parser.add_argument(
        "--streams",
        type=streams,
        default=tuple(BY_NAME),
        help=f"comma-separated subset of {','.join(BY_NAME)} (default all)",
    )
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (overrides KAFKA_BOOTSTRAP_SERVERS)")
    parser.add_argument(
        "--starting-offsets",
        choices=("earliest", "latest"),
        default="earliest",
        help="where a query without a checkpoint starts (default earliest)",
    )
    parser.add_argument(
        "--fail-on-data-loss",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="when offsets in the checkpoint are gone from Kafka (topic re-created, broker state lost, "
        "retention): stop with an error (default), or warn, count it in the metrics file and go on "
        "from the earliest offset still available",
    )
    parser.add_argument(
        "--broker-retry-seconds",
        type=positive(float),
        default=30.0,
        help="how long the job keeps asking a broker that stopped answering (a restart) before it fails (default 30)",
    )
    parser.add_argument(
        "--event-time-floor",
        type=utc_datetime,
        default=datetime(2000, 1, 1, tzinfo=UTC),
        help="events dated before this go to quarantine (default 2000-01-01)",
    )
    parser.add_argument(
        "--max-event-time-ahead",
        type=positive(float),
        default=3600.0,
        help="seconds an event time may be ahead of its Kafka timestamp before it goes to quarantine (default 3600)",
    )
    add_metrics_port(parser)
    parser.add_argument(
        "--spark-log",
        help="file for Spark's own output: its logs, the executors', the Python workers' tracebacks "
        "(default data/logs/stream.log; the screen gets this command's lines only)",
    )
    parser.add_argument("--ui", action="store_true", help="start the Spark UI (on the bind address; off by default)")
    parser.add_argument(
        "--bind-address",
        help="address the Spark driver and UI listen on (default SMARTCITY_BIND_ADDRESS, else 127.0.0.1)",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from spark import job
    from spark.filesystems import to_uri
    from spark.parse import EventTimeBounds
    from spark.preflight import check_job_locations

    bootstrap, security = kafka_connection(settings, args.bootstrap, start=False)
    options = job.StreamOptions(
        bootstrap=bootstrap,
        kafka_security=security,
        lake_root=to_uri(settings.lake_root, "SMARTCITY_LAKE_ROOT"),
        checkpoint_root=to_uri(settings.checkpoint_root, "SMARTCITY_CHECKPOINT_ROOT"),
        topic_prefix=settings.topic_prefix,
        streams=args.streams,
        master=args.master,
        source=args.source,
        trigger_seconds=args.trigger_seconds,
        available_now=args.available_now,
        max_offsets_per_trigger=args.max_offsets_per_trigger,
        starting_offsets=args.starting_offsets,
        duration_s=args.duration,
        fail_on_data_loss=args.fail_on_data_loss,
        broker_retry_s=args.broker_retry_seconds,
        event_time_bounds=EventTimeBounds(
            floor=args.event_time_floor, max_ahead=timedelta(seconds=args.max_event_time_ahead)
        ),
        bind_address=args.bind_address or settings.bind_address,
        ui=args.ui,
        catalog=settings.lake_catalog(to_uri(settings.lake_root, "SMARTCITY_LAKE_ROOT")),
        log_path=str(settings.data_dir / "logs" / "stream-errors.log"),
        metrics_file=str(settings.metrics_file),
        spark_log_path=args.spark_log or str(settings.data_dir / "logs" / "stream.log"),
        extra_conf=auth_conf(settings.spark_auth_secret),
    )
    # Before Spark starts (~10 s): what the job writes, one run per checkpoint, the broker it reads.
    check_job_locations(options.lake_root, options.checkpoint_root)
    with exclusive(settings.checkpoint_root, "checkpoint folder"):
        check_reachable(options.bootstrap)
        if options.source != "native":
            ensure_topics(options.bootstrap, settings.topic_prefix, settings.topic_partitions, security=security)
        else:
            check_access(options.bootstrap, security)
        port = args.metrics_port if args.metrics_port is not None else settings.metrics_port
        children.end_with_parent()  # started by a `smartcity up` that was killed: do not outlive it
        with exported_metrics(settings, options.bind_address, port):
            return job.run(options)


def auth_conf(secret: str | None) -> dict[str, str]:
    """Spark's shared-secret authentication between driver, master and workers (cluster mode,
    or any driver bound beyond loopback). The secret comes from the environment only; Spark
    redacts it in its UI and logs."""
    if not secret:
        return {}
    return {"spark.authenticate": "true", "spark.authenticate.secret": secret}


@contextlib.contextmanager
def exported_metrics(settings: Settings, address: str, port: int | None):
    """The job's Prometheus endpoint while it runs, on the driver's address (``--bind-address``): the
    metrics file it writes, read every second."""
    if port is None:
        yield
        return
    from smartcity.exporter import MetricsServer, RunMetrics
    from smartcity.orchestrator import MetricsTail

    metrics = RunMetrics(settings.topic_prefix)
    tail = MetricsTail.from_now(settings.metrics_file)
    tail.listeners.append(metrics.observe_rows)
    server = MetricsServer(metrics, address, port)
    logging.getLogger("smartcity.stream").info("Prometheus metrics at %s", server.url)
    stop = threading.Event()

    def follow() -> None:
        while not stop.wait(1.0):
            tail.read()

    reader = threading.Thread(target=follow, name="metrics-tail", daemon=True)
    reader.start()
    try:
        yield
    finally:
        stop.set()
        reader.join(5)
        server.stop()
