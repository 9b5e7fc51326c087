"""The JVM artifacts of jvm/pom.xml, as ``make install`` lays them out: one folder per classpath under
``<venv>/jvm`` (``SMARTCITY_JVM_HOME`` elsewhere), and the ``java`` that runs them."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


class JvmError(RuntimeError):
    """A JVM artifact or Java itself is missing (one line, with what to run)."""


def jvm_home() -> Path:
    return Path(os.environ.get("SMARTCITY_JVM_HOME") or Path(sys.prefix) / "jvm")


def classpath(name: str) -> Path:
    """The folder of one classpath (``kafka``), checked to hold jars."""
    folder = jvm_home() / name
    if not any(folder.glob("*.jar")):
        raise JvmError(
            f"no {name} jars in {folder}: run `make install` (it resolves jvm/pom.xml), "
            "or set SMARTCITY_JVM_HOME to a folder that has them"
        )
    return folder


def artifact_version(name: str, artifact: str) -> str:
    """The version of ``artifact`` (``kafka_2.13``) in classpath ``name``, from its jar's file name."""
    for jar in classpath(name).glob(f"{artifact}-*.jar"):
        version = jar.stem.removeprefix(f"{artifact}-")
        if version[:1].isdigit():
            return version
    raise JvmError(f"{artifact} is not in {jvm_home() / name}: run `make install`")


def java() -> str:
    """JAVA_HOME's java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not found or not os.access(found, os.X_OK):
        raise JvmError("Java 17 or newer is needed: install it, or set JAVA_HOME")
    return found
