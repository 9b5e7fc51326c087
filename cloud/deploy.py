"""plan / up / down / status / env over the stack's resources."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cloud import iam
from cloud.base import Clients, Resource
from cloud.quicksight import quicksight_resources
from cloud.resources import Bucket, GlueDatabase, IcebergTable, Role, SpectrumSchema, Workgroup
from cloud.stack import Stack
from lakehouse.tables import lake_tables


def resources(stack: Stack, clients: Clients) -> list[Resource]:
    """In creation order; `down` deletes in reverse."""
    made: list[Resource] = [
        Bucket(stack, clients),
        GlueDatabase(stack, clients, stack.database("raw"), f"{stack.lake_root}/", "smartcity raw lake (Spark job)"),
        GlueDatabase(stack, clients, stack.database("marts"), stack.marts_location, "smartcity marts (dbt on Athena)"),
        *(IcebergTable(stack, clients, table) for table in lake_tables()),
        Workgroup(stack, clients, stack.workgroup("dbt"), "dbt", enforce=False),
        Workgroup(stack, clients, stack.workgroup("dashboards"), "dashboards", enforce=True),
        *(Role(stack, clients, actor) for actor in iam.ACTORS),
    ]
    if stack.redshift:
        made.append(SpectrumSchema(stack, clients))
    if stack.quicksight_principal:
        made += quicksight_resources(stack, clients)
    return made


CREATE, UPDATE, UNCHANGED, ENSURE = "create", "update", "unchanged", "ensure"


@dataclass(frozen=True)
class Change:
    action: str
    resource: Resource
    detail: str = ""

    def line(self) -> str:
        return f"{self.action:<10} {self.resource.label}" + (f"  ({self.detail})" if self.detail else "")


def _differences(current: dict, desired: dict) -> list[str]:
    return [key for key in desired if current.get(key) != desired[key]]


def plan(stack: Stack, clients: Clients) -> list[Change]:
    changes = []
    for resource in resources(stack, clients):
        current = resource.read()
        desired = resource.desired()
        if current is None:
            action = ENSURE if resource.kind == "redshift external schema" else CREATE
            changes.append(Change(action, resource))
        elif differs := _differences(current, desired):
            changes.append(Change(UPDATE, resource, "differs: " + ", ".join(differs)))
        else:
            changes.append(Change(UNCHANGED, resource))
    return changes


def up(stack: Stack, clients: Clients, say: Callable[[str], None] = print) -> list[Change]:
    changes = plan(stack, clients)
    for change in changes:
        if change.action in (CREATE, ENSURE):
            change.resource.create()
        elif change.action == UPDATE:
            change.resource.update()
        if change.action != UNCHANGED:
            say(change.line())
    made = [c for c in changes if c.action in (CREATE, UPDATE)]
    say(
        f"{len(made)} created or changed, {sum(c.action == UNCHANGED for c in changes)} unchanged"
        + ("" if made else ": nothing to do")
    )
    return changes


def owned(stack: Stack, clients: Clients) -> list[Resource]:
    """What exists and carries this stack's tag, in deletion order."""
    found = []
    for resource in reversed(resources(stack, clients)):
        current = resource.read()
        if current is not None and resource.owned(current):
            found.append(resource)
        elif resource.kind == "redshift external schema":
            found.append(resource)  # no tags in Redshift: dropped IF EXISTS
    return found


def down(stack: Stack, clients: Clients, say: Callable[[str], None] = print) -> list[Resource]:
    doomed = owned(stack, clients)
    for resource in doomed:
        resource.delete()
        say(f"deleted    {resource.label}")
    return doomed


def env(stack: Stack, target: str = "athena") -> dict[str, str]:
    """Exports that point the Spark job and a dbt target (profiles.yml) at the stack."""
    exports = {
        "AWS_REGION": stack.region,
        "SMARTCITY_LAKE_ROOT": stack.lake_root,
        "SMARTCITY_CATALOG": "glue",
        "SMARTCITY_GLUE_DATABASE": stack.database("raw"),
        "DBT_TARGET": target,
    }
    if target == "athena":
        return exports | {
            "SMARTCITY_RAW_SCHEMA": stack.database("raw"),
            "ATHENA_WORK_GROUP": stack.workgroup("dbt"),
            "ATHENA_S3_STAGING_DIR": stack.results_location("dbt"),
            "ATHENA_S3_DATA_DIR": stack.marts_location,
            "ATHENA_SCHEMA": stack.snake,  # dbt adds _staging, _intermediate, _marts
        }
    return exports | {"SMARTCITY_RAW_SCHEMA": stack.database("spectrum"), "REDSHIFT_SCHEMA": stack.snake}
