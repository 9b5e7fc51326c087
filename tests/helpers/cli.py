"""The `smartcity` command as users run it: a subprocess with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def environment(data_dir: Path | None = None, **env: str) -> dict[str, str]:
    """This process's environment without KAFKA_BOOTSTRAP_SERVERS (the embedded broker is the
    default), with the data folder and the extra variables given."""
    environ = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    if data_dir is not None:
        environ["SMARTCITY_DATA_DIR"] = str(data_dir)
    return environ | env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "smartcity", *args]


def smartcity(
    *args: str, data_dir: Path | None = None, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(*args), capture_output=True, text=True, timeout=timeout, env=environment(data_dir, **env)
    )
