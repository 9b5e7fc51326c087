"""`smartcity aws` against moto's server (AWS cannot be reached from here): what up creates, that a
second up changes nothing, that down removes exactly the stack's resources, and least privilege."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from cloud import deploy, iam
from cloud.base import Clients
from cloud.quicksight import DATA_SETS, dashboard_definition
from cloud.stack import TAG_KEY, RedshiftTarget, Stack
from lakehouse.tables import lake_tables
from tests.helpers.aws import REGION, MotoEndpoint, moto_endpoint
from tests.helpers.cli import command, environment

ACCOUNT = "123456789012"  # moto's account
PRINCIPAL = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:user/default/admin"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoEndpoint]:
    with moto_endpoint() as endpoint:
        endpoint.reset()  # moto's state is per process, not per server
        for key, value in endpoint.env.items():
            monkeypatch.setenv(key, value)
        yield endpoint


def make_stack(name: str = "smartcity", quicksight: bool = True) -> Stack:
    return Stack(
        name=name,
        region=REGION,
        account=ACCOUNT,
        redshift=RedshiftTarget(workgroup="smartcity-wg", database="dev"),
        quicksight_principal=PRINCIPAL if quicksight else None,
    )


def clients_for_moto() -> Clients:
    """moto's Redshift Data API never finishes a statement; report the state AWS would reach."""
    clients = Clients(REGION)

    def finished(parsed, **_):
        parsed["Status"] = "FINISHED"

    clients("redshift-data").meta.events.register("after-call.redshift-data.DescribeStatement", finished)
    return clients


def actions(changes) -> dict[str, str]:
    return {c.resource.label: c.action for c in changes}


def test_up_creates_everything_then_a_second_up_changes_nothing(aws: MotoEndpoint) -> None:
    stack, clients = make_stack(), clients_for_moto()
    first = deploy.up(stack, clients, say=lambda _: None)
    assert {a for label, a in actions(first).items() if "redshift" not in label} == {deploy.CREATE}
    lines: list[str] = []
    second = deploy.up(stack, clients, say=lines.append)
    assert {a for label, a in actions(second).items() if "redshift" not in label} == {deploy.UNCHANGED}
    assert lines[-1].endswith("nothing to do")

    s3 = aws.client("s3")
    bucket = stack.lake_bucket
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    lifecycle = {
        r["Filter"]["Prefix"]: r["Expiration"]["Days"]
        for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    }
    assert lifecycle == {"athena-results/": 14}

    glue = aws.client("glue")
    assert glue.get_database(Name="smartcity_marts")["Database"]["LocationUri"] == stack.marts_location
    for table in lake_tables():
        got = glue.get_table(DatabaseName="smartcity_raw", Name=table.name)["Table"]
        params = got["Parameters"]
        assert params["table_type"] == "ICEBERG" and params["smartcity:stack"] == "smartcity"
        assert params["metadata_location"].startswith(f"s3://{bucket}/lake/{table.zone}/{table.stream}/metadata/")
        # Glue's columns (what Athena and Spectrum show) are the contract's, from the Iceberg schema.
        assert [c["Name"] for c in got["StorageDescriptor"]["Columns"]] == [f.name for f in table.schema().fields]
        assert "PartitionKeys" not in got or got["PartitionKeys"] == []  # Iceberg keeps its own partitioning
        assert not any(key.startswith("projection.") for key in params)

    athena = aws.client("athena")
    dbt_wg = athena.get_work_group(WorkGroup="smartcity-dbt")["WorkGroup"]["Configuration"]
    dash_wg = athena.get_work_group(WorkGroup="smartcity-dashboards")["WorkGroup"]["Configuration"]
    assert (dbt_wg["EnforceWorkGroupConfiguration"], dash_wg["EnforceWorkGroupConfiguration"]) == (False, True)
    assert dash_wg["BytesScannedCutoffPerQuery"] >= 10 * 1024**2
    assert dash_wg["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_S3"

    qs = aws.client("quicksight")
    source = qs.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId="smartcity-athena")["DataSource"]
    assert source["DataSourceParameters"]["AthenaParameters"]["WorkGroup"] == "smartcity-dashboards"
    dashboards = qs.list_dashboards(AwsAccountId=ACCOUNT)["DashboardSummaryList"]
    assert [d["DashboardId"] for d in dashboards] == ["smartcity-traffic"]


def test_the_dashboard_definition_has_every_panel_and_the_heat_map_style() -> None:
    definition = dashboard_definition(make_stack())
    kinds = [next(iter(v)) for v in definition["Sheets"][0]["Visuals"]]
    assert kinds.count("KPIVisual") == 4 and {"LineChartVisual", "BarChartVisual", "GeospatialMapVisual"} <= set(kinds)
    geo = next(v["GeospatialMapVisual"] for v in definition["Sheets"][0]["Visuals"] if "GeospatialMapVisual" in v)
    assert geo["ChartConfiguration"]["PointStyleOptions"]["SelectedPointStyle"] == "HEATMAP"
    assert [d["Identifier"] for d in definition["DataSetIdentifierDeclarations"]] == list(DATA_SETS)


def test_redshift_statements_create_the_external_schema_over_the_raw_database(aws: MotoEndpoint) -> None:
    from botocore.stub import ANY, Stubber

    stack, clients = make_stack(), Clients(REGION)
    data = clients("redshift-data")
    with Stubber(data) as stub:
        for _ in range(2):
            stub.add_response(
                "execute_statement",
                {"Id": "s1"},
                {"Sql": ANY, "WorkgroupName": "smartcity-wg", "Database": "dev", "StatementName": "smartcity"},
            )
            stub.add_response("describe_statement", {"Id": "s1", "Status": "FINISHED"}, {"Id": "s1"})
        from cloud.resources import SpectrumSchema

        schema = SpectrumSchema(stack, clients)
        schema.create()
        stub.assert_no_pending_responses()
    create, grant = schema.statements()
    assert create.startswith(
        "CREATE EXTERNAL SCHEMA IF NOT EXISTS smartcity_spectrum FROM DATA CATALOG DATABASE 'smartcity_raw'"
    )
    assert f"IAM_ROLE '{stack.role_arn('spectrum')}' REGION '{REGION}'" in create
    assert grant == "GRANT USAGE ON SCHEMA smartcity_spectrum TO dbt"


def test_down_removes_the_stack_and_nothing_else(aws: MotoEndpoint) -> None:
    """QuickSight is left out here: moto has no delete_dashboard (the next test checks those requests)."""
    clients = clients_for_moto()
    other = make_stack("other", quicksight=False)
    deploy.up(other, clients, say=lambda _: None)
    aws.client("s3").create_bucket(Bucket="someone-elses-bucket")
    aws.client("iam").create_role(RoleName="smartcity-unrelated", AssumeRolePolicyDocument="{}")
    stack = make_stack(quicksight=False)
    deploy.up(stack, clients, say=lambda _: None)
    deploy.down(stack, clients, say=lambda _: None)
    assert {a for label, a in actions(deploy.plan(stack, clients)).items() if "redshift" not in label} == {
        deploy.CREATE
    }
    assert {a for label, a in actions(deploy.plan(other, clients)).items() if "redshift" not in label} == {
        deploy.UNCHANGED
    }
    assert "someone-elses-bucket" in [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]]
    assert aws.client("iam").get_role(RoleName="smartcity-unrelated")


def test_down_deletes_the_quicksight_assets_dashboard_first(aws: MotoEndpoint) -> None:
    """`deploy.down` on a stack with QuickSight: moto has no delete_dashboard, so QuickSight's answers
    are stubbed (botocore still checks each request); every other service is moto's."""
    from botocore.stub import Stubber

    stack, clients = make_stack(), clients_for_moto()
    deploy.up(make_stack(quicksight=False), clients, say=lambda _: None)  # the rest of the stack exists
    ours = {"Tags": [{"Key": TAG_KEY, "Value": stack.name}], "Status": 200}
    dashboard, data_sets, source = (
        "smartcity-traffic",
        [f"smartcity-{m}" for m in reversed(DATA_SETS)],
        "smartcity-athena",
    )
    with Stubber(clients("quicksight")) as stub:
        for _ in range(len(data_sets) + 2):  # each asset's tags are read first: down deletes only what is ours
            stub.add_response("list_tags_for_resource", ours)
        stub.add_response("delete_dashboard", {}, {"AwsAccountId": ACCOUNT, "DashboardId": dashboard})
        for data_set in data_sets:
            stub.add_response("delete_data_set", {}, {"AwsAccountId": ACCOUNT, "DataSetId": data_set})
        stub.add_response("delete_data_source", {}, {"AwsAccountId": ACCOUNT, "DataSourceId": source})
        deleted = [r.label for r in deploy.down(stack, clients, say=lambda _: None)]
        stub.assert_no_pending_responses()
    quicksight = [label for label in deleted if label.startswith("quicksight")]
    assert quicksight == [f"quicksight dashboard {dashboard}", *(f"quicksight data set {d}" for d in data_sets),
                          f"quicksight data source {source}"]  # fmt: skip
    assert deleted.index(quicksight[-1]) < min(
        deleted.index(x) for x in deleted if "athena" in x and x not in quicksight
    )
    assert {a for label, a in actions(deploy.plan(make_stack(quicksight=False), clients)).items()
            if "redshift" not in label} == {deploy.CREATE}  # fmt: skip


def test_every_policy_is_least_privilege() -> None:
    stack = make_stack()
    allowed_resources = (
        f"arn:aws:s3:::{stack.lake_bucket}",
        f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog",
        f"arn:aws:glue:{REGION}:{ACCOUNT}:database/smartcity_",
        f"arn:aws:glue:{REGION}:{ACCOUNT}:table/smartcity_",
        f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/smartcity-",
    )
    for actor in iam.ACTORS:
        for statement in iam.policy(stack, actor)["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in statement["Action"]:
                service, name = action.split(":")
                assert "*" not in name and service in ("s3", "glue", "athena"), (actor, action)
            for resource in statement["Resource"]:
                assert resource != "*" and resource.startswith(allowed_resources), (actor, resource)
            if "s3:ListBucket" in statement["Action"]:
                assert statement["Condition"]["StringLike"]["s3:prefix"], actor
    writer = json.dumps(iam.policy(stack, "spark-writer"))
    assert "athena:" not in writer and "glue:DeleteTable" not in writer
    assert "s3:PutObject" not in json.dumps(iam.policy(stack, "spectrum"))


def test_plan_from_the_command_line_against_moto(aws: MotoEndpoint, tmp_path) -> None:
    run = subprocess.run(
        command("aws", "plan"),
        env=environment(tmp_path, **aws.env, SMARTCITY_QUICKSIGHT_PRINCIPAL=PRINCIPAL),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "create     s3 bucket smartcity-lake-123456789012-us-east-1" in run.stdout
    assert "create     quicksight dashboard smartcity-traffic" in run.stdout
    lines = run.stdout.strip().splitlines()
    creates = [line for line in lines if line.startswith("create ")]
    assert sum(1 for line in creates if line.split()[1:4] == ["quicksight", "data", "set"]) == len(DATA_SETS), creates
    assert lines[-1].startswith(f"plan: {len(creates)} to create or change, 0 unchanged")
    missing = subprocess.run(
        command("aws", "plan"),
        env=environment(tmp_path, AWS_REGION="", AWS_DEFAULT_REGION=""),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        "smartcity: error: no AWS region: pass --region or set AWS_REGION",
    )


def test_the_heat_map_data_set_tags_its_cells_as_coordinates() -> None:
    from cloud.quicksight import DataSet, mart_columns

    data_set = DataSet(make_stack(), Clients(REGION), "fct_route_heatmap", mart_columns()["fct_route_heatmap"])
    request = data_set.request()
    table = request["PhysicalTableMap"]["mart"]["RelationalTable"]
    assert (table["Schema"], table["Name"]) == ("smartcity_marts", "fct_route_heatmap")
    assert ("cell_lat", "DECIMAL") in [(c["Name"], c["Type"]) for c in table["InputColumns"]]
    tags = {
        t["TagColumnOperation"]["ColumnName"]: t["TagColumnOperation"]["Tags"][0]["ColumnGeographicRole"]
        for t in request["LogicalTableMap"]["mart"]["DataTransforms"]
    }
    assert tags == {"cell_lat": "LATITUDE", "cell_lon": "LONGITUDE"}


def test_a_table_of_an_older_contract_gains_the_new_versions_columns_on_up(aws: MotoEndpoint) -> None:
    """The contract has a version 2: `up` brings the Glue table made by version 1 to it by name
    (Iceberg schema evolution, the contract's field ids); a second `up` has nothing to do."""
    from pyiceberg.schema import Schema

    from cloud.resources import IcebergTable
    from cloud.stack import TAG_KEY
    from contract.events import BY_NAME
    from lakehouse.catalogs import open_catalog, table_location
    from lakehouse.tables import PROPERTIES

    stack, clients = make_stack(quicksight=False), clients_for_moto()
    deploy.up(stack, clients, say=lambda _: None)
    vehicle = next(t for t in lake_tables() if t.name == "vehicle")
    resource = IcebergTable(stack, clients, vehicle)
    catalog = open_catalog(resource.catalog(), clients("glue"))
    identifier = ("smartcity_raw", "vehicle")
    catalog.drop_table(identifier)
    added = [f.name for f in BY_NAME["vehicle"].added_since_first()]
    catalog.create_table(  # as `up` made it when the contract had one version
        identifier,
        schema=Schema(*(f for f in vehicle.schema().fields if f.name not in added)),
        location=table_location(stack.lake_root, vehicle),
        partition_spec=vehicle.partition_spec(),
        properties={**PROPERTIES, TAG_KEY: stack.name},
    )
    assert [c.action for c in deploy.plan(stack, clients) if c.resource.name == "smartcity_raw.vehicle"] == ["update"]
    lines: list[str] = []
    deploy.up(stack, clients, say=lines.append)
    assert any("smartcity_raw.vehicle" in line and "update" in line for line in lines), lines
    table = catalog.load_table(identifier)
    assert {f.name: f.field_id for f in table.schema().fields} == {f.name: f.field_id for f in vehicle.schema().fields}
    glue_columns = [
        c["Name"]
        for c in clients("glue").get_table(DatabaseName="smartcity_raw", Name="vehicle")["Table"]["StorageDescriptor"][
            "Columns"
        ]
    ]
    assert glue_columns[-len(added) :] == added  # what Athena's and Spectrum's catalogs show
    again: list[str] = []
    deploy.up(stack, clients, say=again.append)
    assert again[-1].endswith("nothing to do")


def test_only_a_not_found_answer_is_a_missing_resource() -> None:
    from botocore.exceptions import ClientError

    from cloud.base import is_missing

    def error(code: str, message: str = "") -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": message}}, "GetWorkGroup")

    assert (
        is_missing(error("EntityNotFoundException")) and is_missing(error("NoSuchBucket")) and is_missing(error("404"))
    )
    assert is_missing(error("InvalidRequestException", "WorkGroup smartcity-dbt is not found."))
    # The same code for a request AWS rejects: planning it as a create would hide the bug.
    assert not is_missing(error("InvalidRequestException", "1 validation error detected: Value at 'workGroup'"))
    assert not is_missing(error("AccessDeniedException", "not authorized"))
