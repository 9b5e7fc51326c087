"""Least-privilege IAM: one role per actor, each limited to the stack's bucket prefixes, Glue
databases and Athena workgroup it needs. No wildcard action; a resource ``*`` nowhere."""

from __future__ import annotations

from cloud.stack import Stack

ACTORS = ("spark-writer", "dbt-athena", "spectrum", "quicksight")
GLUE_READ = [
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:GetTable",
    "glue:GetTables",
    "glue:GetPartition",
    "glue:GetPartitions",
]
GLUE_WRITE = [
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:DeleteTable",
    "glue:BatchCreatePartition",
    "glue:BatchDeletePartition",
    "glue:CreatePartition",
    "glue:UpdatePartition",
    "glue:DeletePartition",
]
ATHENA_QUERY = [
    "athena:StartQueryExecution",
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:StopQueryExecution",
    "athena:GetWorkGroup",
]


def _statement(sid: str, actions: list[str], resources: list[str], condition: dict | None = None) -> dict:
    statement = {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    return statement | ({"Condition": condition} if condition else {})


def _objects(stack: Stack, *prefixes: str) -> list[str]:
    return [f"arn:aws:s3:::{stack.lake_bucket}/{p}*" for p in prefixes]


def _list(stack: Stack, sid: str, *prefixes: str) -> dict:
    return _statement(
        sid,
        ["s3:ListBucket", "s3:GetBucketLocation"],
        [f"arn:aws:s3:::{stack.lake_bucket}"],
        {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes] + [p.rstrip("/") for p in prefixes]}},
    )


def _glue(stack: Stack, database: str) -> list[str]:
    return [
        stack.arn("glue", "catalog"),
        stack.arn("glue", f"database/{database}"),
        stack.arn("glue", f"table/{database}/*"),
    ]


def policy(stack: Stack, actor: str) -> dict:
    lake = f"{stack.prefix}/"
    raw = [f"{stack.prefix}/raw/", f"{stack.prefix}/quarantine/"]
    marts = f"{stack.prefix}/marts/"
    if actor == "spark-writer":
        statements = [
            _list(stack, "ListLake", lake),
            _statement("WriteLake", ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"], _objects(stack, lake)),
            # Iceberg commits through the Glue catalog: read the table, swap its metadata pointer.
            _statement(
                "CommitSnapshots",
                ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:UpdateTable"],
                _glue(stack, stack.database("raw")),
            ),
        ]
    elif actor == "dbt-athena":
        results = "athena-results/dbt/"
        statements = [
            _statement("Query", ATHENA_QUERY, [stack.arn("athena", f"workgroup/{stack.workgroup('dbt')}")]),
            _statement("ReadRawCatalog", GLUE_READ, _glue(stack, stack.database("raw"))),
            _statement(
                "WriteMartsCatalog",
                GLUE_READ + GLUE_WRITE + ["glue:CreateDatabase"],
                _glue(stack, stack.database("marts")),
            ),
            _list(stack, "ListLake", *raw, marts, results),
            _statement("ReadRaw", ["s3:GetObject"], _objects(stack, *raw)),
            _statement(
                "WriteMartsAndResults",
                ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                _objects(stack, marts, results),
            ),
        ]
    elif actor == "spectrum":
        statements = [
            _statement("ReadRawCatalog", GLUE_READ, _glue(stack, stack.database("raw"))),
            _list(stack, "ListRaw", *raw),
            _statement("ReadRaw", ["s3:GetObject"], _objects(stack, *raw)),
        ]
    elif actor == "quicksight":
        results = "athena-results/dashboards/"
        statements = [
            _statement("Query", ATHENA_QUERY, [stack.arn("athena", f"workgroup/{stack.workgroup('dashboards')}")]),
            _statement("ReadMartsCatalog", GLUE_READ, _glue(stack, stack.database("marts"))),
            _list(stack, "ListMarts", marts, results),
            _statement("ReadMarts", ["s3:GetObject"], _objects(stack, marts)),
            _statement(
                "Results", ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"], _objects(stack, results)
            ),
        ]
    else:
        raise ValueError(f"unknown actor {actor!r}")
    return {"Version": "2012-10-17", "Statement": statements}


def trust(stack: Stack, actor: str) -> dict:
    """Who may assume the role: AWS services for Spectrum and QuickSight; principals of this account
    (a Spark cluster's instance role, a CI user) for the writer and dbt."""
    principal = {
        "spectrum": {"Service": "redshift.amazonaws.com"},
        "quicksight": {"Service": "quicksight.amazonaws.com"},
    }.get(actor, {"AWS": f"arn:aws:iam::{stack.account}:root"})
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    return {"Version": "2012-10-17", "Statement": [statement]}
