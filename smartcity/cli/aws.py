"""``smartcity aws``: the stack on AWS (S3, Glue, Athena, IAM, Redshift Spectrum, QuickSight) as code.

The AWS resources of one stack, idempotently. Every resource is tagged smartcity:stack=<stack>;
down removes only those. The defaults of --stack, --region and --bucket come from
SMARTCITY_AWS_STACK, AWS_REGION (or AWS_DEFAULT_REGION) and SMARTCITY_AWS_BUCKET.
Credentials come from the default AWS chain (profiles, SSO, instance roles); AWS_ENDPOINT_URL
points every call at another endpoint (moto, MinIO). Nothing here stores a key.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from smartcity.cli.args import subcommand
from smartcity.config import ConfigError, Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    summary = "create, inspect and remove the AWS side (S3, Glue, Athena, IAM, Redshift Spectrum, QuickSight)"
    aws = subcommand(sub, "aws", run, summary, __doc__)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    aws.add_argument("--stack", default=os.environ.get("SMARTCITY_AWS_STACK", "smartcity"), help="default smartcity")
    aws.add_argument("--region", default=region, help="AWS region")
    aws.add_argument(
        "--bucket", default=os.environ.get("SMARTCITY_AWS_BUCKET"), help="default <stack>-lake-<account>-<region>"
    )
    actions = aws.add_subparsers(dest="action", required=True, parser_class=sub._parser_class)
    actions.add_parser("plan", help="print what up would create or change")
    actions.add_parser("up", help="create or update every resource (a second run changes nothing)")
    down = actions.add_parser(
        "down", help="delete this stack's tagged resources, the lake bucket and its data included"
    )
    down.add_argument("--yes", action="store_true", help="do not ask first")
    actions.add_parser("status", help="what exists of the stack")
    env = actions.add_parser("env", help="print the exports for the Spark job and the dbt athena/redshift targets")
    env.add_argument("--target", choices=("athena", "redshift"), default="athena")


def stack_from(args: argparse.Namespace):
    from botocore.exceptions import BotoCoreError, ClientError

    from cloud.base import Clients
    from cloud.stack import RedshiftTarget, Stack

    if not args.region:
        raise ConfigError("no AWS region: pass --region or set AWS_REGION")
    clients = Clients(args.region)
    try:
        account = clients("sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as exc:
        raise ConfigError(f"AWS credentials: {exc}") from None
    redshift = None
    if os.environ.get("SMARTCITY_REDSHIFT_WORKGROUP") or os.environ.get("SMARTCITY_REDSHIFT_CLUSTER"):
        redshift = RedshiftTarget(
            database=os.environ.get("SMARTCITY_REDSHIFT_DATABASE", "dev"),
            workgroup=os.environ.get("SMARTCITY_REDSHIFT_WORKGROUP") or None,
            cluster=os.environ.get("SMARTCITY_REDSHIFT_CLUSTER") or None,
            db_user=os.environ.get("SMARTCITY_REDSHIFT_DB_USER") or None,
            secret_arn=os.environ.get("SMARTCITY_REDSHIFT_SECRET_ARN") or None,
            dbt_user=os.environ.get("SMARTCITY_REDSHIFT_DBT_USER", "dbt"),
        )
    stack = Stack(
        name=args.stack,
        region=args.region,
        account=account,
        bucket=args.bucket,
        redshift=redshift,
        quicksight_principal=os.environ.get("SMARTCITY_QUICKSIGHT_PRINCIPAL") or None,
    )
    return stack, clients


def run(args: argparse.Namespace, settings: Settings) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _run(args)
    except (BotoCoreError, ClientError, RuntimeError) as exc:
        raise ConfigError(f"aws {args.action}: {str(exc).splitlines()[0]}") from None


def _run(args: argparse.Namespace) -> int:
    from cloud import deploy

    stack, clients = stack_from(args)
    if args.action == "plan":
        changes = deploy.plan(stack, clients)
        for change in changes:
            print(change.line())
        pending = sum(c.action != deploy.UNCHANGED for c in changes)
        unchanged = len(changes) - pending
        print(f"plan: {pending} to create or change, {unchanged} unchanged (stack {stack.name}, {stack.region})")
    elif args.action == "up":
        deploy.up(stack, clients)
    elif args.action == "status":
        for change in deploy.plan(stack, clients):
            state = {
                deploy.CREATE: "missing",
                deploy.UPDATE: "drifted",
                deploy.UNCHANGED: "ok",
                deploy.ENSURE: "ensured by up",
            }
            print(f"{state[change.action]:<14} {change.resource.label}")
    elif args.action == "down":
        doomed = deploy.owned(stack, clients)
        if not doomed:
            print(f"nothing tagged smartcity:stack={stack.name} exists")
            return 0
        for resource in doomed:
            print(f"will delete {resource.label}")
        if not args.yes:
            if not sys.stdin.isatty():
                raise ConfigError("down deletes the lake and its data: pass --yes to confirm without a terminal")
            if input(f"delete these {len(doomed)} resources of stack {stack.name}? [y/N] ").strip().lower() != "y":
                print("nothing deleted")
                return 1
        deploy.down(stack, clients)
    elif args.action == "env":
        for key, value in deploy.env(stack, args.target).items():
            print(f"export {key}={shlex.quote(value)}")
    return 0
