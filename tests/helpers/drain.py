"""The Spark job run in the test process: drain what a broker holds into a test lake, then stop."""

from __future__ import annotations

from pathlib import Path

from spark.job import StreamOptions


def drain_options(bootstrap: str, lake: Path, checkpoints: Path, prefix: str, **more: object) -> StreamOptions:
    """`smartcity stream --available-now` on two local cores, for a lake and checkpoints of the test's own."""
    return StreamOptions(
        bootstrap=bootstrap,
        lake_root=lake.as_uri(),
        checkpoint_root=checkpoints.as_uri(),
        topic_prefix=prefix,
        master="local[2]",
        available_now=True,
        **more,  # type: ignore[arg-type]
    )
