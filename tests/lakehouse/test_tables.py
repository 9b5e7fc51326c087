from contract import lake
from contract.events import BY_NAME
from lakehouse.tables import LakeTable, lake_tables
from spark.stage import table_schema


def test_every_stream_has_a_raw_and_a_quarantine_table_with_the_glue_names() -> None:
    names = {t.name for t in lake_tables()}
    assert names == {*BY_NAME, *(f"quarantine_{s}" for s in BY_NAME)}


def test_field_ids_follow_the_contract_and_the_staged_files_carry_them() -> None:
    table = LakeTable(lake.RAW, "vehicle")
    schema = table.schema()
    first = [f.name for f in BY_NAME["vehicle"].versions[0].fields]
    added = [f.name for f in BY_NAME["vehicle"].added_since_first()]
    assert added == ["odometer_km", "engine_temp_c"]
    names = [f.name for f in schema.fields]
    # the first version's fields, the job's columns, then each later version's at the end
    assert names[: len(first)] == first
    assert names[-len(added) :] == added
    assert [f.field_id for f in schema.fields] == list(range(1, len(schema.fields) + 1))
    arrow = table_schema(lake.RAW, "vehicle")
    assert arrow.names == [f.name for f in schema.fields]
    assert [int(f.metadata[b"PARQUET:field_id"]) for f in arrow] == [f.field_id for f in schema.fields]


def test_partitioned_by_identity_on_the_event_hour_columns() -> None:
    for table in lake_tables():
        spec = table.partition_spec()
        schema = table.schema()
        sources = [schema.find_field(f.source_id).name for f in spec.fields]
        assert sources == list(lake.PARTITION_COLUMNS)
        assert all(str(f.transform) == "identity" for f in spec.fields)
        assert (
            "raw_value" in schema.column_names if table.zone == lake.QUARANTINE else "event_id" in schema.column_names
        )
