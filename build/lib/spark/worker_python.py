"""``smartcity-spark-python``: the interpreter Spark starts for its Python workers.

Spark puts its own zipped copy of pyspark (``<SPARK_HOME>/python/lib/pyspark.zip``) ahead of
everything else on the workers' ``PYTHONPATH``. Python cannot cache bytecode for modules
imported from a zip, so every worker process Spark starts (the daemon, each data-source
planner, each streaming source runner) compiled pyspark from source again: about 1.5 s of
CPU each, most of the start-up of a streaming query on a 2-core machine (profiled with
py-spy). When that zip is the one inside the pip-installed pyspark this interpreter already
has, it is the same code: drop it (and the py4j zip beside it) and run Python.

Workers also leave the terminal's process group: a Ctrl-C reaches every process of that
group, and workers killed by it fail the queries the driver is stopping in order.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path


def clean_pythonpath(pythonpath: str) -> str:
    """Drop the zips that live in ``<pyspark package>/python/lib/``: that package is installed,
    so the same code imports from it, byte-compiled."""
    kept = []
    for entry in pythonpath.split(os.pathsep):
        lib = Path(entry).parent
        inside_installed_pyspark = lib.parts[-2:] == ("python", "lib") and (lib.parent.parent / "__init__.py").exists()
        if entry.endswith(".zip") and inside_installed_pyspark:
            continue
        if entry:
            kept.append(entry)
    return os.pathsep.join(kept)


def main() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = clean_pythonpath(env.get("PYTHONPATH", ""))
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)  # as pyspark's daemon does for itself; the streaming source runners do not
    os.execve(sys.executable, [sys.executable, *sys.argv[1:]], env)


if __name__ == "__main__":
    main()
