"""The stack's AWS resources outside QuickSight: the lake bucket, Glue databases and tables, Athena
workgroups, IAM roles and the Redshift Spectrum schema (see cloud/base.py for what each one does)."""

from __future__ import annotations

import json
import time

from cloud import iam
from cloud.base import Clients, Resource, unless_missing
from cloud.stack import TAG_KEY, Stack
from lakehouse.catalogs import CatalogConfig, ensure_tables, evolve, open_catalog, table_location
from lakehouse.tables import LakeTable


class Bucket(Resource):
    kind = "s3 bucket"

    def __init__(self, stack: Stack, clients: Clients) -> None:
        super().__init__(stack, clients, stack.lake_bucket)

    def desired(self) -> dict:
        return {
            "encryption": "AES256",
            "public_access_block": dict.fromkeys(
                ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
            ),
            # (files no snapshot lists are removed by `smartcity compact`, which knows which those are)
            "lifecycle": {"athena-results": ["athena-results/", 14]},
            "tags": self.stack.tags,
        }

    def read(self) -> dict | None:
        s3 = self.aws("s3")
        if unless_missing(lambda: s3.head_bucket(Bucket=self.name)) is None:
            return None
        encryption = unless_missing(lambda: s3.get_bucket_encryption(Bucket=self.name))
        lifecycle = unless_missing(lambda: s3.get_bucket_lifecycle_configuration(Bucket=self.name))
        tagging = unless_missing(lambda: s3.get_bucket_tagging(Bucket=self.name))
        public = unless_missing(lambda: s3.get_public_access_block(Bucket=self.name))
        rules = encryption["ServerSideEncryptionConfiguration"]["Rules"] if encryption else None
        return {
            "encryption": rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] if rules else None,
            "public_access_block": public["PublicAccessBlockConfiguration"] if public else None,
            "lifecycle": {r["ID"]: [r["Filter"].get("Prefix", ""), r["Expiration"]["Days"]] for r in lifecycle["Rules"]}
            if lifecycle
            else None,
            "tags": {t["Key"]: t["Value"] for t in tagging["TagSet"]} if tagging else {},
        }

    def create(self) -> None:
        s3 = self.aws("s3")
        where = (
            {}
            if self.stack.region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": self.stack.region}}
        )
        s3.create_bucket(Bucket=self.name, **where)
        self.update()

    def update(self) -> None:
        s3, want = self.aws("s3"), self.desired()
        s3.put_public_access_block(Bucket=self.name, PublicAccessBlockConfiguration=want["public_access_block"])
        s3.put_bucket_encryption(
            Bucket=self.name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": want["encryption"]}}]
            },
        )
        rules = [
            {
                "ID": rule_id,
                "Filter": {"Prefix": prefix},
                "Status": "Enabled",
                "Expiration": {"Days": days},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            }
            for rule_id, (prefix, days) in want["lifecycle"].items()
        ]
        s3.put_bucket_lifecycle_configuration(Bucket=self.name, LifecycleConfiguration={"Rules": rules})
        s3.put_bucket_tagging(
            Bucket=self.name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in want["tags"].items()]}
        )

    def delete(self) -> None:
        s3 = self.aws("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.name):
            objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objects:
                s3.delete_objects(Bucket=self.name, Delete={"Objects": objects, "Quiet": True})
        s3.delete_bucket(Bucket=self.name)


class GlueDatabase(Resource):
    kind = "glue database"

    def __init__(self, stack: Stack, clients: Clients, name: str, location: str, description: str) -> None:
        super().__init__(stack, clients, name)
        self.location, self.description = location, description

    @property
    def arn(self) -> str:
        return self.stack.arn("glue", f"database/{self.name}")

    def desired(self) -> dict:
        return {"location": self.location, "tags": self.stack.tags}

    def read(self) -> dict | None:
        glue = self.aws("glue")
        database = unless_missing(lambda: glue.get_database(Name=self.name)["Database"])
        if database is None:
            return None
        return {"location": database.get("LocationUri"), "tags": glue.get_tags(ResourceArn=self.arn).get("Tags", {})}

    def _input(self) -> dict:
        return {"Name": self.name, "Description": self.description, "LocationUri": self.location}

    def create(self) -> None:
        self.aws("glue").create_database(DatabaseInput=self._input(), Tags=self.stack.tags)

    def update(self) -> None:
        glue = self.aws("glue")
        glue.update_database(Name=self.name, DatabaseInput=self._input())
        glue.tag_resource(ResourceArn=self.arn, TagsToAdd=self.stack.tags)

    def delete(self) -> None:
        self.aws("glue").delete_database(Name=self.name)


class IcebergTable(Resource):
    """A table of the lake in the raw Glue database as an Iceberg table (``table_type=ICEBERG``),
    made by pyiceberg's Glue catalog from the contract: Athena and Redshift Spectrum read its
    current snapshot natively, with no partition to register and no projection."""

    kind = "iceberg table"

    def __init__(self, stack: Stack, clients: Clients, table: LakeTable) -> None:
        super().__init__(stack, clients, f"{stack.database('raw')}.{table.name}")
        self.table = table

    def catalog(self) -> CatalogConfig:
        # The endpoint the stack's own S3 client uses (AWS's, or MinIO's and moto's through AWS_ENDPOINT_URL).
        s3 = {"s3.endpoint": self.aws("s3").meta.endpoint_url, "s3.region": self.stack.region}
        return CatalogConfig("glue", self.stack.lake_root, s3, self.stack.database("raw"))

    def desired(self) -> dict:
        return {
            "table_type": "ICEBERG",
            "location": table_location(self.stack.lake_root, self.table),
            # by name: a column added later sits at the end of the table, wherever the contract has it
            "columns": sorted([f.name, str(f.field_type)] for f in self.table.schema().fields),
        }

    def read(self) -> dict | None:
        glue = self.aws("glue")
        table = unless_missing(lambda: glue.get_table(DatabaseName=self.stack.database("raw"), Name=self.table.name))
        if table is None:
            return None
        table = table["Table"]
        parameters = table.get("Parameters", {})
        current = {"table_type": parameters.get("table_type"), "owner": parameters.get(TAG_KEY)}
        if current["table_type"] == "ICEBERG":
            loaded = open_catalog(self.catalog(), self.aws("glue")).load_table(
                (self.stack.database("raw"), self.table.name)
            )
            current["location"] = loaded.location()
            current["columns"] = sorted([f.name, str(f.field_type)] for f in loaded.schema().fields)
        return current

    def owned(self, current: dict) -> bool:
        return current.get("owner") == self.stack.name

    def create(self) -> None:
        config = self.catalog()
        catalog = open_catalog(config, self.aws("glue"))
        # Glue tables take no tags: ownership lives in a table property, which Glue shows as a parameter.
        ensure_tables(config, (self.table.stream,), catalog, {TAG_KEY: self.stack.name})

    def update(self) -> None:
        """Columns the contract has and the table not yet (a newer version's fields): added by name,
        Iceberg schema evolution, metadata only; Athena and Spectrum read old files' rows as null."""
        catalog = open_catalog(self.catalog(), self.aws("glue"))
        evolve(catalog.load_table((self.stack.database("raw"), self.table.name)), self.table)

    def delete(self) -> None:
        # The table's files go with the bucket; dropping it removes the Glue entry only.
        self.aws("glue").delete_table(DatabaseName=self.stack.database("raw"), Name=self.table.name)


class Workgroup(Resource):
    kind = "athena workgroup"
    CUTOFF_BYTES = 10 * 1024**3  # per query; the minimum Athena accepts is 10 MB

    def __init__(self, stack: Stack, clients: Clients, name: str, who: str, enforce: bool) -> None:
        super().__init__(stack, clients, name)
        self.who, self.enforce = who, enforce

    def configuration(self) -> dict:
        return {
            "ResultConfiguration": {
                "OutputLocation": self.stack.results_location(self.who),
                "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
            },
            # dbt-athena writes its tables where its profile says (s3_data_dir) only when the
            # workgroup does not enforce its own result location; dashboards' queries must.
            "EnforceWorkGroupConfiguration": self.enforce,
            "PublishCloudWatchMetricsEnabled": True,
            "BytesScannedCutoffPerQuery": self.CUTOFF_BYTES,
        }

    def desired(self) -> dict:
        return self._shape(self.configuration()) | {"tags": self.stack.tags}

    @staticmethod
    def _shape(config: dict) -> dict:
        results = config.get("ResultConfiguration", {})
        return {
            "output": results.get("OutputLocation"),
            "encryption": results.get("EncryptionConfiguration", {}).get("EncryptionOption"),
            "enforce": config.get("EnforceWorkGroupConfiguration"),
            "cutoff": config.get("BytesScannedCutoffPerQuery"),
        }

    @property
    def arn(self) -> str:
        return self.stack.arn("athena", f"workgroup/{self.name}")

    def read(self) -> dict | None:
        athena = self.aws("athena")
        # moto answers an unknown name with an empty response, AWS with an error
        workgroup = (unless_missing(lambda: athena.get_work_group(WorkGroup=self.name)) or {}).get("WorkGroup")
        if workgroup is None:
            return None
        tags = athena.list_tags_for_resource(ResourceARN=self.arn).get("Tags", [])
        return self._shape(workgroup.get("Configuration", {})) | {"tags": {t["Key"]: t["Value"] for t in tags}}

    def create(self) -> None:
        self.aws("athena").create_work_group(
            Name=self.name,
            Configuration=self.configuration(),
            Description=f"smartcity {self.who} queries",
            Tags=[{"Key": k, "Value": v} for k, v in self.stack.tags.items()],
        )

    def update(self) -> None:
        config = self.configuration()
        self.aws("athena").update_work_group(
            WorkGroup=self.name,
            ConfigurationUpdates={
                "ResultConfigurationUpdates": config["ResultConfiguration"],
                "EnforceWorkGroupConfiguration": config["EnforceWorkGroupConfiguration"],
                "PublishCloudWatchMetricsEnabled": config["PublishCloudWatchMetricsEnabled"],
                "BytesScannedCutoffPerQuery": config["BytesScannedCutoffPerQuery"],
            },
        )

    def delete(self) -> None:
        self.aws("athena").delete_work_group(WorkGroup=self.name, RecursiveDeleteOption=True)


class Role(Resource):
    kind = "iam role"
    POLICY = "access"

    def __init__(self, stack: Stack, clients: Clients, actor: str) -> None:
        super().__init__(stack, clients, stack.role(actor))
        self.actor = actor

    def desired(self) -> dict:
        return {
            "trust": iam.trust(self.stack, self.actor),
            "policy": iam.policy(self.stack, self.actor),
            "tags": self.stack.tags,
        }

    def read(self) -> dict | None:
        client = self.aws("iam")
        role = unless_missing(lambda: client.get_role(RoleName=self.name)["Role"])
        if role is None:
            return None
        policy = unless_missing(
            lambda: client.get_role_policy(RoleName=self.name, PolicyName=self.POLICY)["PolicyDocument"]
        )
        trust = role["AssumeRolePolicyDocument"]
        return {
            "trust": json.loads(trust) if isinstance(trust, str) else trust,
            "policy": json.loads(policy) if isinstance(policy, str) else policy,
            "tags": {t["Key"]: t["Value"] for t in client.list_role_tags(RoleName=self.name)["Tags"]},
        }

    def create(self) -> None:
        want = self.desired()
        self.aws("iam").create_role(
            RoleName=self.name,
            AssumeRolePolicyDocument=json.dumps(want["trust"]),
            Description=f"smartcity {self.actor}",
            Tags=[{"Key": k, "Value": v} for k, v in want["tags"].items()],
        )
        self.aws("iam").put_role_policy(
            RoleName=self.name, PolicyName=self.POLICY, PolicyDocument=json.dumps(want["policy"])
        )

    def update(self) -> None:
        want, client = self.desired(), self.aws("iam")
        client.update_assume_role_policy(RoleName=self.name, PolicyDocument=json.dumps(want["trust"]))
        client.put_role_policy(RoleName=self.name, PolicyName=self.POLICY, PolicyDocument=json.dumps(want["policy"]))
        client.tag_role(RoleName=self.name, Tags=[{"Key": k, "Value": v} for k, v in want["tags"].items()])

    def delete(self) -> None:
        client = self.aws("iam")
        for name in client.list_role_policies(RoleName=self.name)["PolicyNames"]:
            client.delete_role_policy(RoleName=self.name, PolicyName=name)
        client.delete_role(RoleName=self.name)


class SpectrumSchema(Resource):
    """The external schema over the raw Glue database, through the Redshift Data API. Redshift keeps
    no tags on schemas: its statements are idempotent (IF NOT EXISTS), so `up` always runs them."""

    kind = "redshift external schema"

    def __init__(self, stack: Stack, clients: Clients) -> None:
        super().__init__(stack, clients, stack.database("spectrum"))
        assert stack.redshift is not None
        self.redshift = stack.redshift

    def statements(self) -> list[str]:
        return [
            f"CREATE EXTERNAL SCHEMA IF NOT EXISTS {self.name} FROM DATA CATALOG DATABASE "
            f"'{self.stack.database('raw')}' IAM_ROLE '{self.stack.role_arn('spectrum')}' REGION '{self.stack.region}'",
            f"GRANT USAGE ON SCHEMA {self.name} TO {self.redshift.dbt_user}",
        ]

    def desired(self) -> dict:
        return {"statements": self.statements()}

    def read(self) -> dict | None:
        return None  # always applied: the statements are idempotent

    def owned(self, current: dict) -> bool:
        return True

    def run(self, sqls: list[str]) -> None:
        data = self.aws("redshift-data")
        for sql in sqls:  # in order: the grant needs the schema
            statement = data.execute_statement(Sql=sql, **self.redshift.target, StatementName=self.stack.name)
            for _ in range(300):
                status = data.describe_statement(Id=statement["Id"])
                if status["Status"] in ("FINISHED", "FAILED", "ABORTED"):
                    break
                time.sleep(1)
            if status["Status"] != "FINISHED":
                raise RuntimeError(f"Redshift: {sql.split(' FROM ')[0]}: {status['Status']}: {status.get('Error', '')}")

    def create(self) -> None:
        self.run(self.statements())

    def delete(self) -> None:
        self.run([f"DROP SCHEMA IF EXISTS {self.name}"])  # the Glue database stays (no DROP EXTERNAL DATABASE)
