"""The same tables and commits on an object store (moto's S3 server) with the SQL catalog, and in AWS Glue (moto)."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from contract.errors import InvalidSetting
from lakehouse.catalogs import CatalogConfig, ensure_tables, open_catalog
from lakehouse.commit import append_batch
from lakehouse.rewrite import compact_table
from lakehouse.snapshot import current_paths
from tests.helpers.aws import REGION, MotoEndpoint, moto_endpoint
from tests.lakehouse.conftest import GPS, append_batches, stage_file

BUCKET = "lake"


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoEndpoint]:
    with moto_endpoint() as endpoint:
        yield endpoint


def _properties(endpoint: MotoEndpoint) -> dict[str, str]:
    return {
        "s3.endpoint": endpoint.url,
        "s3.region": REGION,
        "s3.access-key-id": "testing",
        "s3.secret-access-key": "testing",
    }


def _exactly_once_on(table) -> None:
    import pyarrow.parquet as pq

    append_batches(table, 3)
    assert not append_batch(table, [stage_file(table, range(20, 30))], "q", 2)
    rows = sum(pq.read_metadata(table.io.new_input(p).open()).num_rows for p in current_paths(table))
    assert rows == 30
    from datetime import UTC, datetime

    assert compact_table(table, now=datetime(2026, 3, 2, tzinfo=UTC))[0].committed
    assert len(current_paths(table)) == 1


def test_sql_catalog_with_the_lake_on_s3(s3: MotoEndpoint, tmp_path: Path) -> None:
    s3.client("s3").create_bucket(Bucket=BUCKET)
    config = CatalogConfig(f"sqlite:///{tmp_path}/catalog.db", f"s3a://{BUCKET}/sql", _properties(s3))
    table = ensure_tables(config, ("gps",))[GPS]
    assert table.location() == f"s3://{BUCKET}/sql/raw/gps"
    _exactly_once_on(table)


def test_glue_catalog_tables_are_iceberg_tables(s3: MotoEndpoint) -> None:
    s3.client("s3").create_bucket(Bucket=f"{BUCKET}-glue")
    properties = {**_properties(s3), "glue.endpoint": s3.url, "glue.region": REGION}
    properties |= {"glue.access-key-id": "testing", "glue.secret-access-key": "testing"}
    config = CatalogConfig("glue", f"s3://{BUCKET}-glue/lake", properties)
    table = ensure_tables(config, ("gps",))[GPS]
    glue = s3.client("glue")
    described = glue.get_table(DatabaseName="smartcity", Name="gps")["Table"]
    assert described["Parameters"]["table_type"] == "ICEBERG"
    before = described["Parameters"]["metadata_location"]
    _exactly_once_on(table)
    after = glue.get_table(DatabaseName="smartcity", Name="gps")["Table"]["Parameters"]["metadata_location"]
    assert after != before and after == table.metadata_location


def test_an_unknown_catalog_is_one_clear_error() -> None:
    with pytest.raises(InvalidSetting, match="SMARTCITY_CATALOG: unsupported catalog 'hive://x'"):
        open_catalog(CatalogConfig("hive://x", "/tmp/lake"))


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    from tests.helpers.postgres import postgres_server

    with postgres_server() as url:
        yield url


def test_sql_catalog_on_postgresql_as_the_cluster_runs_it(postgres: str, tmp_path: Path) -> None:
    """docker-compose's catalog: the job, compaction and readers commit through one PostgreSQL."""
    config = CatalogConfig(postgres, str(tmp_path / "lake"))
    stream, compaction = (ensure_tables(config, ("gps",))[GPS] for _ in range(2))
    append_batches(stream, 3)
    compaction.refresh()
    from datetime import UTC, datetime

    from lakehouse.rewrite import hours_to_compact, rewrite_hour
    from tests.lakehouse.conftest import DAY, counts

    planned = hours_to_compact(compaction, datetime(2026, 3, 2, tzinfo=UTC), timedelta(minutes=60), 2)[(DAY, 5)]
    assert append_batch(stream, [stage_file(stream, range(30, 40))], "q", 3)  # lands while compaction runs
    assert rewrite_hour(compaction, DAY, 5, planned).committed  # the conflict is retried on the new metadata
    assert not append_batch(ensure_tables(config, ("gps",))[GPS], [stage_file(stream, range(30, 40))], "q", 3)
    assert counts(ensure_tables(config, ("gps",))[GPS]) == (40, 40)


def test_processes_opening_a_new_catalog_at_once_all_get_it(tmp_path: Path) -> None:
    # The job and `smartcity compact` (or two jobs' drivers) may both be first to open a lake's catalog.
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    def open_at_once(config: CatalogConfig, start: Barrier) -> None:
        start.wait()
        open_catalog(config).list_namespaces()

    for attempt in range(25):
        config = CatalogConfig(f"sqlite:///{tmp_path}/catalog-{attempt}.db", str(tmp_path / "lake"))
        start = Barrier(12)
        with ThreadPoolExecutor(12) as pool:
            for opened in [pool.submit(open_at_once, config, start) for _ in range(12)]:
                opened.result()
