"""``smartcity compact``: rewrite the small files of closed hours, expire snapshots, remove orphan files.

Rewrite the data files of each closed event hour (ended more than --grace minutes ago) into one,
keeping one row per Kafka coordinate, in one Iceberg snapshot that removes exactly the files it
read; then expire snapshots older than --retention and delete files no snapshot needs that are
older than --orphan-age. Safe to run while the stream runs.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from contract import lake
from smartcity.cli.args import positive, subcommand
from smartcity.config import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    summary = "compact closed hours of the lake's tables, expire old snapshots, delete orphan files"
    compact = subcommand(sub, "compact", run, summary, __doc__)
    compact.add_argument("--grace", type=positive(float), default=60.0, help="minutes after an hour ends (60)")
    compact.add_argument("--min-files", type=positive(int), default=2, help="leave hours with fewer files (2)")
    compact.add_argument("--zone", choices=lake.ZONES, action="append", help="default: both")
    compact.add_argument("--retention", type=positive(float), default=10.0, help="minutes of snapshots kept (10)")
    compact.add_argument(
        "--orphan-age", type=positive(float), default=60.0, help="minutes before an unreferenced file goes (60)"
    )
    compact.add_argument("--dry-run", action="store_true", help="report what would be done, change nothing")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from lakehouse.maintain import maintain_lake
    from lakehouse.rewrite import compact_lake
    from spark.filesystems import to_uri

    catalog = settings.lake_catalog(to_uri(settings.lake_root, "SMARTCITY_LAKE_ROOT"))
    done = compact_lake(
        catalog,
        zones=tuple(args.zone or lake.ZONES),
        grace=timedelta(minutes=args.grace),
        min_files=args.min_files,
        dry_run=args.dry_run,
    )
    files = sum(h.files_in for h in done)
    dropped = sum(h.rows_in - h.rows_out for h in done)
    verb = "would merge" if args.dry_run else "merged"
    print(f"{verb} {files} files into {len(done)} (one per closed hour); {dropped} duplicate rows dropped")
    kept = maintain_lake(
        catalog, timedelta(minutes=args.retention), timedelta(minutes=args.orphan_age), dry_run=args.dry_run
    )
    expired, orphans = sum(m.snapshots_expired for m in kept), sum(m.orphans_deleted for m in kept)
    print(f"{expired} snapshots expired, {orphans} orphan files {'found' if args.dry_run else 'deleted'}")
    return 0
