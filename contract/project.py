"""Where the dbt project is: ``dbt_project/`` of a checkout, or its copy inside an installed wheel
(packaged as ``smartcity_dbt``). Found as a package, never from a path relative to this file."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path


def packaged_dbt_project() -> Path:
    spec = find_spec("smartcity_dbt")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the dbt project (package smartcity_dbt) is not installed")
    return Path(next(iter(spec.submodule_search_locations)))
