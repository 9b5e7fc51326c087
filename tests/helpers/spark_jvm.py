"""The JVM options of every Spark job the tests start, and a class-data-sharing archive that makes
their start cheaper.

The tests' jobs live for seconds, so most of a system test is JVM start-up: the driver compiles with
C1 only and collects with the serial collector, and it maps Spark's classes from an AppCDS archive
(`make test` builds it once per venv: `python -m tests.helpers.spark_jvm`) instead of loading and
verifying some 15,000 classes from the jars. A JVM uses the archive only where its class path is the
one the archive was dumped with, and falls back to the jars quietly otherwise; that class path holds
SPARK_CONF_DIR, which must stay an empty folder, so every option goes in SPARK_SUBMIT_OPTS (the
driver's JVM; `spark.*` system properties reach the executors on a cluster) and none in a
spark-defaults.conf.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

FOLDER = Path(sys.prefix) / "spark-cds"  # beside the pyspark whose jars it archives
ARCHIVE = FOLDER / "spark.jsa"
CONF_DIR = FOLDER / "conf"  # SPARK_CONF_DIR: empty, as the archive needs it
SHORT_LIVED = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def environment() -> dict[str, str]:
    """SPARK_CONF_DIR and SPARK_SUBMIT_OPTS for every Spark JVM of the test session."""
    CONF_DIR.mkdir(parents=True, exist_ok=True)
    options = [SHORT_LIVED, f'-Dspark.executor.defaultJavaOptions="{SHORT_LIVED}"']
    if ARCHIVE.exists():
        options.append(f"-XX:SharedArchiveFile={ARCHIVE}")
    return {"SPARK_CONF_DIR": str(CONF_DIR), "SPARK_SUBMIT_OPTS": " ".join(options)}


def driver_jvm() -> tuple[str, str]:
    """The java executable and the class path spark-submit gives the driver, from Spark's own
    launcher as bin/spark-class runs it (JAVA_HOME's java when set): the archive must be dumped by
    the same JVM with the same class path, or it is ignored."""
    from pyspark.find_spark_home import _find_spark_home

    launch = (
        '. "$SPARK_HOME/bin/load-spark-env.sh" && exec "${JAVA_HOME:+$JAVA_HOME/bin/}java" -cp "$SPARK_HOME/jars/*" '
        "org.apache.spark.launcher.Main org.apache.spark.deploy.SparkSubmit pyspark-shell"
    )
    env = os.environ | {"SPARK_CONF_DIR": str(CONF_DIR), "SPARK_HOME": _find_spark_home()}
    printed = subprocess.run(["bash", "-c", launch], env=env, capture_output=True, check=True).stdout
    command = printed.decode().split("\0")
    at = command.index("-cp")
    return command[at - 1].strip(), command[at + 1]


def loaded_classes(class_list: Path) -> None:
    """Drain a small fleet with `smartcity stream --available-now`, listing every class its driver loads."""
    from ingestion.fleet import FleetConfig
    from smartcity.broker import EmbeddedBroker, ensure_topics
    from tests.helpers.kafka import produce
    from tests.helpers.launch import Launcher

    fleet = FleetConfig(vehicles=2, seed=1, start=datetime(2026, 11, 23, 8, tzinfo=UTC))
    with EmbeddedBroker() as broker, tempfile.TemporaryDirectory() as data:
        ensure_topics(broker.bootstrap, "cds_", partitions=2)
        produce(broker.bootstrap, fleet, prefix="cds_", duration_s=60)
        options = {
            "SPARK_CONF_DIR": str(CONF_DIR),
            "SPARK_SUBMIT_OPTS": f"{SHORT_LIVED} -XX:DumpLoadedClassList={class_list}",
        }
        drained = Launcher().drain(broker.bootstrap, Path(data), "cds_", **options)
        if drained.returncode != 0:
            raise SystemExit(f"the job that lists Spark's classes failed:\n{drained.stderr[-3000:]}")


def build() -> None:
    CONF_DIR.mkdir(parents=True, exist_ok=True)
    class_list = FOLDER / "classes.lst"
    print(f"spark_jvm: listing the classes a drain loads, then archiving them in {ARCHIVE}", flush=True)
    loaded_classes(class_list)
    partial = ARCHIVE.with_suffix(".partial")
    java, class_path = driver_jvm()
    dump = [java, "-Xshare:dump", f"-XX:SharedClassListFile={class_list}", f"-XX:SharedArchiveFile={partial}"]
    dumped = subprocess.run([*dump, "-cp", class_path], capture_output=True, text=True)
    if dumped.returncode != 0:
        raise SystemExit(f"java -Xshare:dump failed:\n{dumped.stdout[-3000:]}")
    partial.replace(ARCHIVE)  # a JVM never maps a half-written archive


if __name__ == "__main__":
    build()
