"""Glue partitions for the hours the job writes, for Redshift Spectrum (Athena reads new hours
through partition projection and needs none). Registered from the driver after each commit when a
Glue database is configured; ``smartcity aws sync-partitions`` registers what a backfill landed."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from contract import lake
from contract.catalog import PARQUET_STORAGE, tables
from spark.filesystems import filesystem

log = logging.getLogger("smartcity.catalog")
BATCH = 100  # batch_create_partition's limit per call
TABLES = {(t.zone, t.stream): t.name for t in tables()}


def s3_uri(lake_root: str) -> str:
    return "s3://" + lake_root.split("://", 1)[1] if lake_root.startswith("s3a://") else lake_root


class GluePartitions:
    def __init__(self, database: str, lake_root: str, client=None) -> None:
        if client is None:
            import boto3

            client = boto3.client("glue")
        self.glue, self.database, self.root = client, database, s3_uri(lake_root)
        self.known: set[tuple[str, str, str, int]] = set()

    def register(self, zone: str, stream: str, hours: Iterable[tuple[str, int]]) -> int:
        """Register the (event date, hour) partitions not registered yet; returns how many were new."""
        new = sorted(
            {(d, int(h)) for d, h in hours} - {(d, h) for z, s, d, h in self.known if (z, s) == (zone, stream)}
        )
        created = 0
        for lo in range(0, len(new), BATCH):
            chunk = new[lo : lo + BATCH]
            inputs = [
                {
                    "Values": [day, str(hour)],
                    "StorageDescriptor": {
                        "Location": f"{lake.stream_dir(self.root, zone, stream)}/{lake.partition_dir(day, hour)}/",
                        **PARQUET_STORAGE,
                    },
                }
                for day, hour in chunk
            ]
            response = self.glue.batch_create_partition(
                DatabaseName=self.database, TableName=TABLES[(zone, stream)], PartitionInputList=inputs
            )
            errors = response.get("Errors", [])
            failed = [e for e in errors if e["ErrorDetail"].get("ErrorCode") != "AlreadyExistsException"]
            if failed:
                code, message = failed[0]["ErrorDetail"].get("ErrorCode"), failed[0]["ErrorDetail"].get("ErrorMessage")
                raise RuntimeError(f"Glue partitions of {TABLES[(zone, stream)]}: {code}: {message}")
            created += len(chunk) - len(errors)
            self.known |= {(zone, stream, d, h) for d, h in chunk}
        return created


def partitions_in_lake(lake_root: str) -> dict[tuple[str, str], list[tuple[str, int]]]:
    """Every (zone, stream) -> (event date, hour) folder that holds data in the lake."""
    import pyarrow.fs as pafs

    fs, base = filesystem(lake_root)
    found: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for zone in lake.ZONES:
        for stream in lake.STREAMS:
            folder = f"{base}/{zone}/{stream}"
            infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True, recursive=True))
            hours = set()
            for info in infos:
                if info.type == pafs.FileType.File and info.path.endswith(".parquet"):
                    parts = dict(p.split("=", 1) for p in info.path[len(folder) + 1 :].split("/")[:2] if "=" in p)
                    if len(parts) == 2:
                        hours.add((parts["event_date"], int(parts["event_hour"])))
            if hours:
                found[(zone, stream)] = sorted(hours)
    return found
