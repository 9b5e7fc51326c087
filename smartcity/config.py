"""Settings from environment variables, with safe local defaults. The only place env is read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from contract import lake
from contract.project import packaged_dbt_project
from kafkaclient import settings as kafka_settings
from kafkaclient.settings import KafkaSecurity

if TYPE_CHECKING:
    from lakehouse.catalogs import CatalogConfig


class ConfigError(ValueError):
    """A setting has a value the project cannot use."""


def _int(name: str, default: int, allow_zero: bool = False) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'zero or more' if allow_zero else 'positive'}, got {value}")
    return value


def _address(name: str, default: str) -> str:
    import ipaddress

    raw = os.environ.get(name) or default
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an IP address (e.g. 127.0.0.1 or 0.0.0.0), got {raw!r}") from None
    return raw


@dataclass(frozen=True, slots=True)
class Settings:
    bootstrap_servers: str | None
    topic_prefix: str
    topic_partitions: int
    data_dir: Path
    lake_root: str
    checkpoint_root: str
    bind_address: str = "127.0.0.1"
    spark_auth_secret: str | None = None
    duckdb_file: Path | None = None  # None: smartcity.duckdb in the data folder
    marts_every_s: int = 60
    compact_every_s: int = 300  # `up`'s compaction, snapshot expiry and orphan removal
    dashboard_port: int = 8501
    glue_database: str | None = None
    metrics_port: int | None = None  # Prometheus endpoint of `up` and `stream`; None: off
    kafka_security: KafkaSecurity = kafka_settings.PLAINTEXT  # for KAFKA_BOOTSTRAP_SERVERS (or --bootstrap)
    dbt_project_file: Path | None = None  # None: the project installed with the package
    catalog_uri: str | None = None  # SMARTCITY_CATALOG; None: the lake's own SQLite file
    aws_endpoint: str | None = None  # AWS_ENDPOINT_URL: an S3-compatible store (compose, moto)
    aws_region: str | None = None

    @property
    def duckdb_path(self) -> Path:
        return self.duckdb_file or self.data_dir / "smartcity.duckdb"

    def lake_catalog(self, warehouse: str | None = None) -> CatalogConfig:
        """The Iceberg catalog of the lake's tables: SMARTCITY_CATALOG, or the lake's own SQLite
        file (a local lake) or one in the data folder (a lake on an object store). Its namespace
        (the Glue database in AWS) is SMARTCITY_GLUE_DATABASE's, by default ``smartcity``."""
        from lakehouse.catalogs import CatalogConfig, default_catalog
        from lakehouse.tables import NAMESPACE

        if self.catalog_uri:
            uri = self.catalog_uri
        elif "://" in self.lake_root and not self.lake_root.startswith("file:"):
            uri = f"sqlite:///{self.data_dir.absolute()}/catalog.db"
        else:
            uri = default_catalog(self.lake_root)
        properties: dict[str, str] = {}
        if self.aws_endpoint:
            properties |= {"s3.endpoint": self.aws_endpoint, "glue.endpoint": self.aws_endpoint}
        if self.aws_region:
            properties |= {"s3.region": self.aws_region, "glue.region": self.aws_region}
        return CatalogConfig(uri, warehouse or self.lake_root, properties, self.glue_database or NAMESPACE)

    @property
    def dbt_project_dir(self) -> Path:
        """dbt_project/ of a checkout (an editable install) or the copy inside the wheel."""
        return self.dbt_project_file or packaged_dbt_project()

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(os.environ.get("SMARTCITY_DATA_DIR") or "data").absolute()  # default: ./data
        return cls(
            bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            topic_prefix=os.environ.get("SMARTCITY_TOPIC_PREFIX", ""),
            topic_partitions=_int("SMARTCITY_TOPIC_PARTITIONS", 4),
            data_dir=data_dir,
            lake_root=os.environ.get("SMARTCITY_LAKE_ROOT") or str(data_dir / "lake"),
            checkpoint_root=os.environ.get("SMARTCITY_CHECKPOINT_ROOT") or str(data_dir / "checkpoints"),
            bind_address=_address("SMARTCITY_BIND_ADDRESS", "127.0.0.1"),
            spark_auth_secret=os.environ.get("SMARTCITY_SPARK_AUTH_SECRET") or None,
            duckdb_file=Path(os.environ.get("SMARTCITY_DUCKDB_PATH") or data_dir / "smartcity.duckdb").resolve(),
            marts_every_s=_int("SMARTCITY_MARTS_EVERY", 60, allow_zero=True),
            compact_every_s=_int("SMARTCITY_COMPACT_EVERY", 300, allow_zero=True),
            dashboard_port=_int("SMARTCITY_DASHBOARD_PORT", 8501),
            glue_database=os.environ.get("SMARTCITY_GLUE_DATABASE") or None,
            catalog_uri=os.environ.get("SMARTCITY_CATALOG") or None,
            aws_endpoint=os.environ.get("AWS_ENDPOINT_URL") or None,
            aws_region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
            metrics_port=_int("SMARTCITY_METRICS_PORT", 0, allow_zero=True) or None,
            kafka_security=kafka_settings.from_env(os.environ),
            dbt_project_file=Path(os.environ["SMARTCITY_DBT_PROJECT_DIR"]).resolve()
            if os.environ.get("SMARTCITY_DBT_PROJECT_DIR")
            else None,
        )

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.bind_address}:{self.dashboard_port}"

    @property
    def metrics_file(self) -> Path:
        """The job's metrics file: the local lake's, or the data folder's for a lake on an object store."""
        return lake.metrics_path(self.lake_root) or self.data_dir / lake.METRICS_FILE

    @property
    def kafka_dir(self) -> Path:
        """The embedded broker's folder: its configuration, its data (``logs/``) and its log."""
        return self.data_dir / "kafka"

    @property
    def broker_state_file(self) -> Path:
        """The pid and address of a broker ``smartcity broker start`` left running."""
        return self.kafka_dir / "broker.json"
