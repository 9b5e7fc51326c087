"""One deployment's names, all derived from a stack name, a region and the account."""

from __future__ import annotations

from dataclasses import dataclass

from contract.errors import InvalidSetting
from contract.lake import QUARANTINE, RAW

TAG_KEY = "smartcity:stack"


@dataclass(frozen=True)
class RedshiftTarget:
    """Where Spectrum's external schema goes: a Serverless workgroup or a provisioned cluster."""

    database: str = "dev"
    workgroup: str | None = None
    cluster: str | None = None
    db_user: str | None = None  # provisioned clusters: temporary credentials for this user
    secret_arn: str | None = None
    dbt_user: str = "dbt"  # granted usage on the external schema

    def __post_init__(self) -> None:
        if bool(self.workgroup) == bool(self.cluster):
            raise InvalidSetting("Redshift: set exactly one of a Serverless workgroup or a cluster identifier")

    @property
    def target(self) -> dict[str, str]:
        """The Data API's addressing arguments."""
        where = {"WorkgroupName": self.workgroup} if self.workgroup else {"ClusterIdentifier": self.cluster or ""}
        auth = {"SecretArn": self.secret_arn} if self.secret_arn else {"DbUser": self.db_user} if self.db_user else {}
        return {**where, "Database": self.database, **auth}


@dataclass(frozen=True)
class Stack:
    name: str
    region: str
    account: str
    bucket: str | None = None
    prefix: str = "lake"
    redshift: RedshiftTarget | None = None
    quicksight_principal: str | None = None  # ARN of the QuickSight user or group that owns the assets

    def __post_init__(self) -> None:
        if not self.name.replace("-", "").isalnum() or not self.name[0].isalpha() or len(self.name) > 24:
            raise InvalidSetting(
                f"stack name {self.name!r}: letters, digits and '-', starting with a letter, at most 24"
            )

    @property
    def lake_bucket(self) -> str:
        return self.bucket or f"{self.name}-lake-{self.account}-{self.region}"

    @property
    def lake_root(self) -> str:
        return f"s3://{self.lake_bucket}/{self.prefix}"

    def zone_location(self, zone: str, stream: str) -> str:
        assert zone in (RAW, QUARANTINE)
        return f"{self.lake_root}/{zone}/{stream}/"

    @property
    def snake(self) -> str:
        """The stack's name as Glue, Athena and Redshift accept it in a database or schema name."""
        return self.name.replace("-", "_")

    def database(self, layer: str) -> str:
        """The Glue database of a layer (raw: the lake's tables, marts: dbt's), or Redshift's external
        schema over raw (spectrum)."""
        return f"{self.snake}_{layer}"

    @property
    def marts_location(self) -> str:
        return f"{self.lake_root}/marts/"

    def workgroup(self, who: str) -> str:
        """The Athena workgroup of ``who``: dbt or the dashboards."""
        return f"{self.name}-{who}"

    def results_location(self, who: str) -> str:
        return f"s3://{self.lake_bucket}/athena-results/{who}/"

    def role(self, actor: str) -> str:
        return f"{self.name}-{actor}"

    def role_arn(self, actor: str) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.role(actor)}"

    @property
    def tags(self) -> dict[str, str]:
        return {TAG_KEY: self.name}

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"
