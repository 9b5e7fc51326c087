"""``smartcity``: the one command-line entry point, one module per command.

Bad arguments, bad configuration and an unreachable broker end with one clear line on
stderr and a non-zero exit: the project's own error types (ONE_LINE_ERRORS). Anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from contract.errors import InvalidSetting
from ingestion.producer import BrokerUnreachable
from kafkaclient.access import KafkaAccessError
from kafkaclient.settings import KafkaSettingsError
from smartcity.broker import BrokerError
from smartcity.cli import aws, broker, cluster, compact, dashboard, drill, simulate, stream, up
from smartcity.cli.args import Parser
from smartcity.cluster import ClusterError
from smartcity.config import ConfigError, Settings
from smartcity.exporter import MetricsPortError
from smartcity.jvm import JvmError
from smartcity.locking import AlreadyRunning
from spark.errors import LakeRootError, QueryFailed

COMMANDS = (simulate, broker, stream, compact, up, drill, cluster, dashboard, aws)
ONE_LINE_ERRORS = (
    ConfigError,
    LakeRootError,
    BrokerUnreachable,
    BrokerError,
    InvalidSetting,
    QueryFailed,
    AlreadyRunning,
    ClusterError,
    KafkaAccessError,
    KafkaSettingsError,
    MetricsPortError,
    JvmError,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="smartcity", description="Real-time smart-city traffic pipeline.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s",
    )
    for noisy in ("kafka", "py4j", "botocore", "boto3"):
        logging.getLogger(noisy).setLevel(logging.WARNING if args.verbose else logging.ERROR)
    # Py4J logs the traceback of every error raised in a Python callback (foreachBatch, listeners); a
    # failed query is reported in one line with the whole error in the log file (spark/job.py).
    logging.getLogger("py4j.clientserver").setLevel(logging.WARNING if args.verbose else logging.CRITICAL)
    try:
        return args.run(args, Settings.from_env())
    except ONE_LINE_ERRORS as exc:
        print(f"smartcity: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("smartcity: interrupted", file=sys.stderr)
        return 130
