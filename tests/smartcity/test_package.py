"""The project as a wheel: what `pip install smartcity-*.whl` gets, with no source tree beside it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from contract.events import EVENT_TYPES
from smartcity.jvm import jvm_home

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)]
    built = subprocess.run(command, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    return zipfile.ZipFile(next(out.glob("smartcity-*.whl")))


def test_the_wheel_carries_the_dbt_project_and_the_schemas_but_no_build_output(built_wheel: zipfile.ZipFile) -> None:
    names = set(built_wheel.namelist())
    project = {n.removeprefix("smartcity_dbt/") for n in names if n.startswith("smartcity_dbt/")}
    sources = {str(p.relative_to(ROOT / "dbt_project")) for p in (ROOT / "dbt_project").rglob("*")
               if p.is_file() and p.parts[len(ROOT.parts) + 1] in ("models", "macros", "tests")}  # fmt: skip
    assert {"dbt_project.yml", "profiles.yml"} | sources <= project
    assert not any(n.startswith(("target/", "logs/")) for n in project), "dbt's build output is not shipped"
    schemas = {f"contract/schemas/{p.name}" for p in (ROOT / "contract" / "schemas").glob("*.v*.schema.json")}
    assert len(schemas) == sum(len(et.versions) for et in EVENT_TYPES) and schemas <= names  # one per version
    assert {f"ingestion/{n}.csv" for n in ("route_waypoints", "route_stretches", "vehicle_models")} <= names
    assert "smartcity/resources/kafka-log4j2.yaml" in names  # the embedded broker's log configuration
    assert "smartcity/cli/main.py" in names and not any(n.startswith(("tests/", "bench/")) for n in names)
    entry_points = built_wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "smartcity = smartcity.cli.main:main" in entry_points


def test_the_installed_wheel_runs_up_from_an_empty_folder(built_wheel: zipfile.ZipFile, tmp_path: Path) -> None:
    """A venv holding the wheel and no source tree (its dependencies are this venv's, reached by a
    path entry that runs none of its .pth files, so the editable install stays out): `smartcity up`
    from an empty folder finds its dbt project, data folder and Spark's worker Python by itself."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (purelib / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = ["--python", str(python), "install", "--quiet", "--no-deps", "--no-index", built_wheel.filename]
    installed = subprocess.run([sys.executable, "-m", "pip", *install], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr[-3000:]

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTCITY_", "KAFKA_", "DBT_", "PYSPARK_"))}
    env |= {"PYTHONPATH": "", "SMARTCITY_MARTS_EVERY": "10"}
    where = subprocess.run(
        [python, "-c", "import smartcity, contract.project as p; print(smartcity.__file__); print(p.__file__)"],
        cwd=empty, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert where.returncode == 0 and str(ROOT) not in where.stdout, where.stdout + where.stderr
    up = [venv / "bin" / "smartcity", "up", "--vehicles", "2", "--duration", "25"]
    # The wheel carries no jars: without them, one line says where they are looked for and how to get them.
    refused = subprocess.run(up, cwd=empty, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and refused.stderr.strip().splitlines()[-1].startswith(
        f"smartcity: error: no kafka jars in {venv / 'jvm' / 'kafka'}: run `make install`"
    ), refused.stderr[-2000:]
    env["SMARTCITY_JVM_HOME"] = str(jvm_home())  # the jars `make install` resolved from jvm/pom.xml
    run = subprocess.run(up, cwd=empty, env=env, capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    landed, sent = re.search(r"stopped; ([\d,]+) of the ([\d,]+) events", out).groups()
    assert landed == sent != "0", out[-3000:]
    assert "[up] marts built and exported" in out, out[-3000:]
    marts = {p.stem for p in (empty / "data" / "lake" / "_marts").glob("*.parquet")}
    assert "fct_vehicle_speed_hourly" in marts, "the packaged dbt project's marts, exported into ./data"
