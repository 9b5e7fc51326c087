"""The lake on S3 (a moto server over HTTP): the real job, no Hadoop S3 connector, exactly once
through a SIGKILL of the driver mid-batch."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from contract import BY_NAME, topic_name
from contract.catalog import PARTITION_KEYS, tables
from ingestion.fleet import FleetConfig
from smartcity.broker import EmbeddedBroker, ensure_topics
from tests.conftest import START
from tests.helpers.aws import MotoEndpoint, moto_endpoint
from tests.helpers.kafka import produce
from tests.helpers.launch import Launcher

PREFIX = "s3lake_"
STREAMS = ("vehicle", "gps")
BUCKET = "smartcity-lake"
GLUE_DATABASE = "lake_raw"


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoEndpoint]:
    with moto_endpoint() as endpoint:
        endpoint.reset()
        endpoint.client("s3").create_bucket(Bucket=BUCKET)
        glue = endpoint.client("glue")
        glue.create_database(DatabaseInput={"Name": GLUE_DATABASE})
        for table in tables():
            glue.create_table(
                DatabaseName=GLUE_DATABASE,
                TableInput={
                    "Name": table.name,
                    "PartitionKeys": [{"Name": n, "Type": t} for n, t, _ in PARTITION_KEYS],
                },
            )
        yield endpoint


def keys(s3: MotoEndpoint, prefix: str) -> list[str]:
    pages = s3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def stream(
    launch: Launcher, s3: MotoEndpoint, bootstrap: str, tmp_path: Path, lake_root: str, **env: str
) -> subprocess.Popen:
    return launch.start(
        "stream", "--bootstrap", bootstrap, "--master", "local[2]", "--available-now",
        "--streams", ",".join(STREAMS), "--max-offsets-per-trigger", "8000",
        data_dir=tmp_path, log=tmp_path / f"stream-{len(launch.started)}.out",  # checkpoints stay local
        SMARTCITY_TOPIC_PREFIX=PREFIX, SMARTCITY_LAKE_ROOT=lake_root, **s3.env, **env,
    )  # fmt: skip


def read_back(s3: MotoEndpoint, stream_name: str) -> tuple[int, int]:
    fs = pafs.S3FileSystem(endpoint_override=s3.url, access_key="testing", secret_key="testing", region="us-east-1")
    if not keys(s3, f"smartcity/raw/{stream_name}/"):
        return 0, 0
    data = ds.dataset(f"{BUCKET}/smartcity/raw/{stream_name}", filesystem=fs, format="parquet", partitioning="hive")
    table = data.to_table(columns=["event_id"])
    return table.num_rows, len(pc.unique(table.column("event_id")))


def test_the_job_lands_on_s3_exactly_once_through_a_sigkill(
    broker: EmbeddedBroker, s3: MotoEndpoint, tmp_path: Path, launch: Launcher
) -> None:
    ensure_topics(broker.bootstrap, PREFIX, partitions=2)
    fleet = FleetConfig(vehicles=30, seed=31, start=START, departure_window_s=30)
    summary = produce(broker.bootstrap, fleet, prefix=PREFIX, duration_s=900)
    produced = {s: summary.per_topic[topic_name(BY_NAME[s], PREFIX)] for s in STREAMS}
    assert min(produced.values()) > 20_000

    first = stream(launch, s3, broker.bootstrap, tmp_path, f"s3://{BUCKET}/smartcity")
    launch.kill_when(
        first, lambda: bool(keys(s3, "smartcity/raw/") and keys(s3, "smartcity/_staging/")), what="a batch in flight"
    )
    landed_before = sum(read_back(s3, s)[0] for s in STREAMS)
    assert 0 < landed_before < sum(produced.values())

    # Hadoop's name for the same bucket: the restart continues where the killed run stopped.
    # With a Glue database configured, every hour committed is registered for Redshift Spectrum.
    final = stream(
        launch, s3, broker.bootstrap, tmp_path, f"s3a://{BUCKET}/smartcity", SMARTCITY_GLUE_DATABASE=GLUE_DATABASE
    )
    assert final.wait(300) == 0, (tmp_path / "stream-1.out").read_text()[-3000:]
    glue = s3.client("glue")
    for name, n in produced.items():
        assert read_back(s3, name) == (n, n), name
        folders = {k.rsplit("/", 1)[0] for k in keys(s3, f"smartcity/raw/{name}/") if k.endswith(".parquet")}
        pages = glue.get_paginator("get_partitions").paginate(DatabaseName=GLUE_DATABASE, TableName=name)
        registered = {p["StorageDescriptor"]["Location"] for page in pages for p in page["Partitions"]}
        assert registered >= {f"s3://{BUCKET}/{folder}/" for folder in folders} and folders
    # pyarrow leaves empty folder markers (keys ending in "/") where it deleted the last object of
    # a "folder"; readers skip them. Data objects: none left in staging, only Parquet under raw/.
    assert [k for k in keys(s3, "smartcity/_staging/") if not k.endswith("/")] == []
    assert all(k.endswith((".parquet", "/")) for k in keys(s3, "smartcity/raw/"))
