"""Which Iceberg catalog holds the lake's tables, and making the tables in it.

One setting picks the catalog (``SMARTCITY_CATALOG``, read by the shell's settings):

- ``sqlite:///<path>``: pyiceberg's SQL catalog on a SQLite file, no server (the local default,
  ``<data>/catalog.db``);
- ``postgresql+psycopg2://<user>@<host>/<db>``: the same SQL catalog on PostgreSQL, which every
  container of the cluster reaches (the password comes from ``PGPASSWORD`` or ``~/.pgpass``);
- ``glue``: AWS Glue (tables of type ICEBERG, read natively by Athena and Redshift Spectrum).

The warehouse is the lake root (a folder or ``s3://``); a table lives at ``<root>/<zone>/<stream>``
(``data/`` and ``metadata/`` under it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.table import Table

from contract import lake
from contract.errors import InvalidSetting
from lakehouse.tables import NAMESPACE, PROPERTIES, LakeTable, lake_tables

SCHEMES = ("sqlite", "postgresql", "glue")


@dataclass(frozen=True)
class CatalogConfig:
    uri: str  # sqlite:///..., postgresql+psycopg2://..., or glue
    warehouse: str  # the lake root
    properties: dict[str, str] = field(default_factory=dict)  # s3.endpoint, glue.region, ...
    namespace: str = NAMESPACE  # the Glue database, for the Glue catalog

    @property
    def kind(self) -> str:
        scheme = self.uri.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in SCHEMES:
            raise InvalidSetting(
                f"SMARTCITY_CATALOG: unsupported catalog {self.uri!r} (use sqlite:///<file>, postgresql://..., or glue)"
            )
        return scheme


CATALOG_FILE = "catalog.db"


def default_catalog(lake_root: str) -> str:
    """A local lake's own SQLite catalog, ``<lake>/catalog.db``: the folder is the whole lake."""
    from urllib.parse import urlparse

    parsed = urlparse(lake_root)
    if parsed.scheme not in ("", "file"):
        raise InvalidSetting(
            f"SMARTCITY_CATALOG: a lake on {parsed.scheme}:// needs a catalog every process reaches "
            "(sqlite:///<file>, postgresql://... or glue)"
        )
    return f"sqlite:///{Path(parsed.path if parsed.scheme else lake_root).absolute()}/{CATALOG_FILE}"


def open_catalog(config: CatalogConfig, glue_client: Any = None) -> Catalog:
    """``glue_client``: a boto3 Glue client to use (the AWS deployment's own), else one from the
    properties and the default credential chain."""
    warehouse = warehouse_uri(config.warehouse)
    if config.kind == "glue":
        from pyiceberg.catalog.glue import GlueCatalog

        # glue.skip-archive (pyiceberg's default, kept explicit): no table version per commit.
        properties = {"warehouse": warehouse, "glue.skip-archive": "true", **config.properties}
        return GlueCatalog(NAMESPACE, client=glue_client, **properties)
    from pyiceberg.catalog.sql import SqlCatalog, SqlCatalogBaseTable
    from sqlalchemy.exc import OperationalError

    if config.kind == "sqlite":
        Path(config.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    properties = {"uri": config.uri, "warehouse": warehouse, **config.properties}
    # Processes that open a new catalog at once race to make its tables, one table at a time: each
    # attempt finds more of them made ("table ... already exists"), so a few attempts always end it.
    for _ in range(len(SqlCatalogBaseTable.metadata.tables)):
        try:
            return SqlCatalog(NAMESPACE, **properties)
        except OperationalError as exc:
            if "already exists" not in str(exc):
                raise
    return SqlCatalog(NAMESPACE, **properties)


def warehouse_uri(warehouse: str) -> str:
    """One spelling of the lake root for the catalog: ``file:///<absolute>`` or ``s3://...``."""
    if "://" not in warehouse:
        return Path(warehouse).absolute().as_uri()
    return warehouse.replace("s3a://", "s3://", 1).rstrip("/")


def table_location(warehouse: str, table: LakeTable) -> str:
    return lake.stream_dir(warehouse_uri(warehouse), table.zone, table.stream)


def ensure_tables(
    config: CatalogConfig,
    streams: tuple[str, ...] = lake.STREAMS,
    catalog: Catalog | None = None,
    table_properties: dict[str, str] | None = None,
) -> dict[LakeTable, Table]:
    """Load the tables of ``streams``, creating the namespace and any missing table, and bringing
    each to the contract's newest schema (``evolve``) before anything writes to it."""
    catalog = catalog or open_catalog(config)
    namespace = config.namespace
    if not catalog.namespace_exists(namespace):
        try:
            catalog.create_namespace(namespace)
        except Exception:  # another process made it meanwhile (a SQL catalog says so by a constraint)
            if not catalog.namespace_exists(namespace):
                raise
    tables = {}
    for spec in lake_tables(streams):
        identifier = (namespace, spec.name)
        try:
            tables[spec] = evolve(catalog.load_table(identifier), spec)
            continue
        except NoSuchTableError:
            pass
        try:
            tables[spec] = catalog.create_table(
                identifier,
                schema=spec.schema(),
                location=table_location(config.warehouse, spec),
                partition_spec=spec.partition_spec(),
                properties={**PROPERTIES, **(table_properties or {})},
            )
        except TableAlreadyExistsError:  # made meanwhile by another process
            tables[spec] = evolve(catalog.load_table(identifier), spec)
    return tables


class SchemaMismatch(RuntimeError):
    """A table's columns disagree with the contract in a way no schema evolution repairs."""


def evolve(table: Table, spec: LakeTable) -> Table:
    """Add the columns the contract has and the table lacks (Iceberg schema evolution, by name:
    metadata only, no data file rewritten; files written before read them as null). New columns
    take the next field ids, which is their position in the contract's order, the ids the job's
    tasks write; a table whose ids differ was changed outside the contract and is refused."""
    wanted = spec.schema()
    for _ in range(5):
        current = {f.name: f for f in table.schema().fields}
        missing = [f for f in wanted.fields if f.name not in current]
        if not missing:
            break
        next_ids = range(table.metadata.last_column_id + 1, table.metadata.last_column_id + 1 + len(missing))
        if [f.field_id for f in missing] != list(next_ids):
            break  # adding them would give other ids: refused below, the table left as it is
        try:
            with table.update_schema() as update:
                update.union_by_name(wanted)
        except CommitFailedException:  # another process evolved it meanwhile
            pass
        table = table.refresh()
    current = {f.name: f for f in table.schema().fields}
    for f in wanted.fields:
        found = current.get(f.name)
        if found is None or found.field_id != f.field_id or found.field_type != f.field_type:
            got = "missing" if found is None else f"field id {found.field_id}, type {found.field_type}"
            raise SchemaMismatch(
                f"table {'.'.join(table.name())}: column {f.name} is {got}; the contract gives field id "
                f"{f.field_id}, type {f.field_type} (changed outside the contract? see contract/compatibility.py)"
            )
    return table
