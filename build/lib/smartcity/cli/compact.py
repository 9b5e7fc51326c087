"""``smartcity compact``: merge the small files of closed hours."""

from __future__ import annotations

import argparse
from datetime import timedelta

from contract import lake
from smartcity.cli.args import positive
from smartcity.config import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    compact = sub.add_parser(
        "compact",
        help="merge the small files of closed hours in the lake, one file per hour",
        description="Merge the Parquet files of each closed event hour (ended more than --grace minutes ago) "
        "into one, keeping one row per Kafka coordinate. Safe to run while the stream runs.",
    )
    compact.set_defaults(run=run)
    compact.add_argument("--grace", type=positive(float), default=60.0, help="minutes after an hour ends (60)")
    compact.add_argument("--min-files", type=positive(int), default=2, help="leave hours with fewer files (2)")
    compact.add_argument("--zone", choices=lake.ZONES, action="append", help="default: both")
    compact.add_argument("--dry-run", action="store_true", help="report what would be merged, change nothing")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from spark.compact import compact
    from spark.filesystems import to_uri

    done = compact(
        to_uri(settings.lake_root, "SMARTCITY_LAKE_ROOT"),
        zones=tuple(args.zone or lake.ZONES),
        grace=timedelta(minutes=args.grace),
        min_files=args.min_files,
        dry_run=args.dry_run,
    )
    files = sum(h.files_in for h in done)
    dropped = sum(h.rows_in - h.rows_out for h in done)
    verb = "would merge" if args.dry_run else "merged"
    print(f"{verb} {files} files into {len(done)} (one per closed hour); {dropped} duplicate rows dropped")
    return 0
