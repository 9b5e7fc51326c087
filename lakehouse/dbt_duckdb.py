"""dbt-duckdb plugin: the lake's tables as DuckDB views of their current Iceberg snapshots.

When dbt opens its DuckDB connection (once per invocation), the plugin (re)makes one view per
table in the schema ``smartcity_lake`` of the warehouse (``smartcity_lake.vehicle``,
``smartcity_lake.quarantine_vehicle``, ...) over the data files of the table's snapshot at that
moment: every model and test of one invocation reads the same snapshot, and the views stay in
the warehouse file, so anyone opening it later reads the snapshot the last build read (the
staging views included). The generated sources point at these views (``external_location``).
Configured in profiles.yml:

    plugins:
      - module: lakehouse.dbt_duckdb
        config: {lake_root: ..., catalog: ...}   # catalog empty: the lake's own SQLite file
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from contract import lake
from lakehouse.catalogs import CatalogConfig, default_catalog, ensure_tables
from lakehouse.snapshot import duckdb_relation


def refresh_lake_views(con: Any, config: CatalogConfig) -> None:
    """The views of every table's current snapshot, in the schema ``smartcity_lake`` of ``con``."""
    tables = ensure_tables(config)
    con.execute(f"create schema if not exists {lake.DUCKDB_LAKE}")
    for spec, table in tables.items():
        con.execute(f"create or replace view {lake.DUCKDB_LAKE}.{spec.name} as select * from {duckdb_relation(table)}")


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        lake_root = plugin_config["lake_root"]
        properties = {k: v for k, v in (plugin_config.get("properties") or {}).items() if v}
        self.config = CatalogConfig(plugin_config.get("catalog") or default_catalog(lake_root), lake_root, properties)

    def configure_connection(self, conn: Any) -> None:
        refresh_lake_views(conn, self.config)
