"""The project as a wheel: what `pip install smartcity-*.whl` gets, with no source tree beside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from contract.events import EVENT_TYPES

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
    assert "smartcity/cli/main.py" in names and not any(n.startswith(("tests/", "bench/")) for n in names)
    entry_points = built_wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "smartcity = smartcity.cli.main:main" in entry_points
