"""The lake's Iceberg tables, derived from the one contract.

``<namespace>.<stream>`` holds a stream's valid events, ``<namespace>.quarantine_<stream>`` the
records it rejected (the names the Glue tables have). Both are format v2, partitioned by identity
on ``event_date`` and ``event_hour`` (UTC; the Kafka time for quarantine), real columns of every
data file, so a filter on the hour prunes files in Iceberg readers and in DuckDB alike.

Field ids are the position in the contract's order, counted from 1: the job's tasks write them
into the Parquet files they stage (spark/stage.py, from the same ``contract.lake.table_columns``),
so the files and the table agree by id.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import (
    DateType,
    DoubleType,
    IcebergType,
    IntegerType,
    LongType,
    NestedField,
    StringType,
    TimestamptzType,
)

from contract import lake

NAMESPACE = "smartcity"
ICEBERG_TYPES: dict[str, IcebergType] = {
    "string": StringType(),
    "double": DoubleType(),
    "integer": IntegerType(),
    "bigint": LongType(),
    "timestamp": TimestamptzType(),
    "date": DateType(),
}
PROPERTIES = {
    "format-version": "2",
    "write.parquet.compression-codec": "snappy",
    # Streaming commits add a manifest each: merge them so planning a scan stays cheap.
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "50",
    # A metadata file per commit: keep the last few, delete older ones as part of the commit.
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
    # A commit that lost a race reloads the table and applies itself again: streams and compaction
    # commit to the same tables, each every few seconds at most.
    "commit.retry.num-retries": "20",
    "commit.retry.min-wait-ms": "20",
    "commit.retry.max-wait-ms": "2000",
    # Compaction removes the files it read, by path: a file appended to the same hour meanwhile is
    # no conflict (snapshot isolation); a file it read that is gone is one.
    "write.update.isolation-level": "snapshot",
    "write.delete.isolation-level": "snapshot",
}


@dataclass(frozen=True, slots=True)
class LakeTable:
    zone: str
    stream: str

    @property
    def name(self) -> str:
        return self.stream if self.zone == lake.RAW else f"{self.zone}_{self.stream}"

    @property
    def columns(self) -> tuple[tuple[str, str, str], ...]:
        """(name, contract type, description), in field-id order."""
        return lake.table_columns(self.zone, self.stream)

    def schema(self) -> Schema:
        return Schema(
            *(
                NestedField(i, name, ICEBERG_TYPES[kind], required=False, doc=doc)
                for i, (name, kind, doc) in enumerate(self.columns, start=1)
            )
        )

    def partition_spec(self) -> PartitionSpec:
        ids = {name: i for i, (name, _, _) in enumerate(self.columns, start=1)}
        return PartitionSpec(
            *(
                PartitionField(ids[name], 1000 + n, IdentityTransform(), name)
                for n, name in enumerate(lake.PARTITION_COLUMNS)
            )
        )


def lake_tables(streams: tuple[str, ...] = lake.STREAMS) -> list[LakeTable]:
    return [LakeTable(zone, stream) for zone in lake.ZONES for stream in streams]
