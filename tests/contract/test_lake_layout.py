"""The lake's layout as the README, the dashboard, Athena and Spectrum expect to find it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from contract import lake


def test_the_metrics_file_is_where_the_readme_says_and_an_object_store_has_none() -> None:
    assert lake.metrics_path("data/lake") == Path("data/lake/_metrics/progress.jsonl")
    assert lake.metrics_path("file:///srv/lake") == Path("/srv/lake/_metrics/progress.jsonl")
    assert lake.metrics_path("s3://bucket/lake") is None
    assert lake.metrics_path("s3a://bucket/lake") is None


def test_partitions_are_hive_style_with_unpadded_hours_and_marts_are_parquet_files() -> None:
    # Athena's partition projection reads event_hour as an integer without digits: 7, not 07.
    assert lake.partition_dir(date(2026, 11, 23), 7) == "event_date=2026-11-23/event_hour=7"
    assert lake.partition_dir("2026-11-23", 23) == "event_date=2026-11-23/event_hour=23"
    assert lake.stream_dir("s3://b/lake", lake.RAW, "gps") == "s3://b/lake/raw/gps"
    assert lake.mart_path("data/lake", "fct_speed_hourly") == Path("data/lake/_marts/fct_speed_hourly.parquet")


def test_a_tables_columns_keep_their_order_as_versions_add_fields() -> None:
    """A newer version's fields come after the partition columns: no field id of an older table moves."""
    names = [name for name, _, _ in lake.table_columns(lake.RAW, "vehicle")]
    fixed = names.index("event_hour") + 1
    assert names[:4] == ["event_id", "schema_version", "vehicle_id", "event_time"]
    assert names[fixed:] == ["odometer_km", "engine_temp_c"]  # version 2's fields, at the end
    assert [n for n, _, _ in lake.table_columns(lake.QUARANTINE, "vehicle")][-2:] == ["event_date", "event_hour"]
