"""``smartcity broker start|stop|status`` and ``smartcity topics``.

Start, stop or inspect the embedded broker used when KAFKA_BOOTSTRAP_SERVERS is not set: Apache
Kafka in KRaft mode (one node, broker and controller) on a loopback port, its data in
<data dir>/kafka (kept across stops and starts). `make install` puts its jars in .venv/jvm/kafka.
"""

from __future__ import annotations

import argparse

from smartcity.broker import (
    ensure_topics,
    kafka_connection,
    kafka_version,
    read_state,
    start_detached,
    stop_detached,
)
from smartcity.cli.args import subcommand
from smartcity.config import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    broker = subcommand(sub, "broker", run, "the embedded broker (Apache Kafka)", __doc__)
    broker.add_argument("action", choices=("start", "stop", "status"))
    topics_doc = "\n\nCreate the five topics (SMARTCITY_TOPIC_PREFIX, SMARTCITY_TOPIC_PARTITIONS)."
    subcommand(sub, "topics", run_topics, "create the five topics if missing", topics_doc)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "start":
        state = start_detached(settings)
        ensure_topics(state.bootstrap, settings.topic_prefix, settings.topic_partitions)
        print(
            f"embedded broker (Apache Kafka {state.version}) running at {state.bootstrap} "
            f"(pid {state.pid}, data {state.data_dir}, log {state.log_path})"
        )
        return 0
    if args.action == "stop":
        print("embedded broker stopped" if stop_detached(settings) else "embedded broker was not running")
        return 0
    running = read_state(settings)
    if settings.bootstrap_servers:
        print(f"using external Kafka from KAFKA_BOOTSTRAP_SERVERS={settings.bootstrap_servers}")
    if running:
        print(
            f"embedded broker (Apache Kafka {running.version}) running at {running.bootstrap} "
            f"(pid {running.pid}, data {running.data_dir})"
        )
        return 0
    kept = " (its data is kept there)" if (settings.kafka_dir / "logs" / "meta.properties").exists() else ""
    print(f"embedded broker (Apache Kafka {kafka_version()}) not running; data {settings.kafka_dir}{kept}")
    return 3


def run_topics(_args: argparse.Namespace, settings: Settings) -> int:
    bootstrap, security = kafka_connection(settings)
    for name in ensure_topics(bootstrap, settings.topic_prefix, settings.topic_partitions, security=security):
        print(name)
    return 0
