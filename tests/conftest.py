"""Shared fixtures: one embedded broker (Apache Kafka) per test worker, small deterministic fleets, a launcher
for the project's processes; and the kinds of test (markers) from the fixtures each test uses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smartcity.broker import EmbeddedBroker, ensure_topics
from tests.helpers import spark_jvm
from tests.helpers.launch import Launcher

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

# Every Spark job the tests start (in this process or as `smartcity stream`) starts its JVM this way.
for name, value in spark_jvm.environment().items():
    os.environ.setdefault(name, value)
# The tests' brokers live for seconds to minutes: C1 alone halves the CPU a broker's start costs.
os.environ.setdefault("KAFKA_OPTS", "-XX:TieredStopAtLevel=1")

# What a test needs, read from the fixtures it uses (directly or through other fixtures). `make check`
# runs the tests that need none of these; a test that starts a JVM, a broker or a browser does so
# through one of them. Module fixtures that run the Spark job are named here too.
KINDS = {
    "broker": {"broker", "topics", "launch", "module_launch", "secured", "wrong_host"},
    "spark": {"launch", "module_launch", "spark_in_process"},
    "dbt": {"warehouse", "site", "dbt_cli"},
    "dashboard": {"served", "browser"},
    "slow": {"built_wheel", "postgres", "aws"},  # a wheel build, a PostgreSQL server, the AWS stack on moto
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for kind, fixtures in KINDS.items():
            if used & fixtures:
                item.add_marker(kind)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(tmp_path_factory.mktemp("kafka")) as b:
        yield b


@pytest.fixture
def topic_prefix(request: pytest.FixtureRequest) -> str:
    """A prefix of its own for each test, so tests sharing the broker never see each other's events."""
    return f"t{abs(hash(request.node.nodeid)) % 10**8}_"


@pytest.fixture
def topics(broker: EmbeddedBroker, topic_prefix: str) -> list[str]:
    return ensure_topics(broker.bootstrap, topic_prefix, partitions=3)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SMARTCITY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    return tmp_path


@pytest.fixture
def launch() -> Iterator[Launcher]:
    """Starts `smartcity` commands (the Spark job, `up`, the drill); kills what is left at the end."""
    launcher = Launcher()
    yield launcher
    launcher.close()


@pytest.fixture(scope="module")
def module_launch() -> Iterator[Launcher]:
    """The same, for module fixtures that run the job once for several tests."""
    launcher = Launcher()
    yield launcher
    launcher.close()


@pytest.fixture(scope="module")
def spark_in_process() -> Iterator[None]:
    """For tests that run the job in this process (spark.job.run): its session ends with the module."""
    yield
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()
