"""The lake on S3 (a moto server over HTTP): the real job, no Hadoop S3 connector, Iceberg tables in
pyiceberg's SQL catalog and in AWS Glue (moto), exactly once through a SIGKILL of the driver mid-batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from contract import BY_NAME, topic_name
from ingestion.fleet import FleetConfig
from lakehouse.catalogs import CatalogConfig
from lakehouse.snapshot import current_paths, load_table
from smartcity.broker import EmbeddedBroker, ensure_topics
from tests.conftest import START
from tests.helpers.aws import REGION, MotoEndpoint, moto_endpoint
from tests.helpers.kafka import produce
from tests.helpers.launch import Launcher

PREFIX = "s3lake_"
STREAMS = ("vehicle", "gps")
BUCKET = "smartcity-lake"


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoEndpoint]:
    with moto_endpoint() as endpoint:
        endpoint.reset()
        endpoint.client("s3").create_bucket(Bucket=BUCKET)
        yield endpoint


def keys(s3: MotoEndpoint, prefix: str) -> list[str]:
    pages = s3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def catalog_config(s3: MotoEndpoint, uri: str, root: str) -> CatalogConfig:
    keys_ = {"s3.access-key-id": "testing", "s3.secret-access-key": "testing"}
    glue = {"glue.access-key-id": "testing", "glue.secret-access-key": "testing", "glue.region": REGION}
    return CatalogConfig(
        uri, root, {"s3.endpoint": s3.url, "s3.region": REGION, "glue.endpoint": s3.url, **keys_, **glue}
    )


def read_back(config: CatalogConfig, stream_name: str) -> tuple[int, int]:
    table = load_table(config, "raw", stream_name)
    ids: list[str] = []
    for path in current_paths(table):
        with table.io.new_input(path).open() as f:
            ids += pq.read_table(f, columns=["event_id"]).column("event_id").to_pylist()
    return len(ids), len(set(ids))


@pytest.mark.parametrize("kind", ["sql", "glue"])
def test_the_job_lands_on_s3_exactly_once_through_a_sigkill(
    kind: str, broker: EmbeddedBroker, s3: MotoEndpoint, tmp_path: Path, launch: Launcher
) -> None:
    prefix = f"{PREFIX}{kind}_"
    ensure_topics(broker.bootstrap, prefix, partitions=2)
    fleet = FleetConfig(vehicles=20, seed=31, start=START, departure_window_s=30)
    summary = produce(broker.bootstrap, fleet, prefix=prefix, duration_s=600)
    produced = {s: summary.per_topic[topic_name(BY_NAME[s], prefix)] for s in STREAMS}
    assert min(produced.values()) > 10_000
    root = f"{kind}/smartcity"
    uri = f"sqlite:///{tmp_path}/catalog.db" if kind == "sql" else "glue"
    config = catalog_config(s3, uri, f"s3://{BUCKET}/{root}")

    def in_flight() -> bool:
        """Data objects written that no snapshot lists yet, after a first committed batch."""
        committed = {p for s in STREAMS for p in current_paths(load_table(config, "raw", s))}
        written = {f"s3://{BUCKET}/{k}" for k in keys(s3, f"{root}/raw/") if "/data/" in k}
        return bool(committed) and bool(written - committed)

    def stream(scheme: str, run: int):
        return launch.start(
            "stream", "--bootstrap", broker.bootstrap, "--master", "local[2]", "--available-now",
            "--streams", ",".join(STREAMS), "--max-offsets-per-trigger", "3000",
            data_dir=tmp_path, log=tmp_path / f"stream-{run}.out", SMARTCITY_TOPIC_PREFIX=prefix,
            SMARTCITY_LAKE_ROOT=f"{scheme}://{BUCKET}/{root}", SMARTCITY_CATALOG=uri, **s3.env,
        )  # fmt: skip

    first = stream("s3", 0)
    launch.kill_when(first, in_flight, what="a batch in flight")
    landed_before = sum(read_back(config, s)[0] for s in STREAMS)
    assert 0 < landed_before < sum(produced.values())

    # Hadoop's name for the same bucket: the restart continues where the killed run stopped.
    final = stream("s3a", 1)
    assert final.wait(300) == 0, (tmp_path / "stream-1.out").read_text()[-3000:]
    for name, n in produced.items():
        assert read_back(config, name) == (n, n), name
    if kind == "glue":
        table = s3.client("glue").get_table(DatabaseName="smartcity", Name="vehicle")["Table"]
        assert table["Parameters"]["table_type"] == "ICEBERG"
        assert table["Parameters"]["metadata_location"].startswith(f"s3://{BUCKET}/{root}/raw/vehicle/metadata/")
