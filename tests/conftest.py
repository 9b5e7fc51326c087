"""Shared fixtures: one real embedded broker per session, small deterministic fleets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smartcity.broker import EmbeddedBroker, ensure_topics

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log) as b:
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
