"""``smartcity broker start|stop|status`` and ``smartcity topics``.

Start, stop or inspect the embedded broker used when KAFKA_BOOTSTRAP_SERVERS is not set.
"""

from __future__ import annotations

import argparse

from smartcity.broker import ensure_topics, kafka_connection, read_state, start_detached, stop_detached
from smartcity.cli.args import subcommand
from smartcity.config import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    broker = subcommand(sub, "broker", run, "the embedded Kafka-protocol broker (Tansu)", __doc__)
    broker.add_argument("action", choices=("start", "stop", "status"))
    topics_doc = "\n\nCreate the five topics (SMARTCITY_TOPIC_PREFIX, SMARTCITY_TOPIC_PARTITIONS)."
    subcommand(sub, "topics", run_topics, "create the five topics if missing", topics_doc)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "start":
        state = start_detached(settings)
        ensure_topics(state.bootstrap, settings.topic_prefix, settings.topic_partitions)
        print(f"embedded broker running at {state.bootstrap} (pid {state.pid}, log {state.log_path})")
        return 0
    if args.action == "stop":
        print("embedded broker stopped" if stop_detached(settings) else "embedded broker was not running")
        return 0
    running = read_state(settings)
    if settings.bootstrap_servers:
        print(f"using external Kafka from KAFKA_BOOTSTRAP_SERVERS={settings.bootstrap_servers}")
    if running:
        print(f"embedded broker running at {running.bootstrap} (pid {running.pid})")
        return 0
    print("embedded broker not running")
    return 3


def run_topics(_args: argparse.Namespace, settings: Settings) -> int:
    bootstrap, security = kafka_connection(settings)
    for name in ensure_topics(bootstrap, settings.topic_prefix, settings.topic_partitions, security=security):
        print(name)
    return 0
