"""The fleet's reference data (the route, the vehicle models): CSV files of this package, read
the same from a source tree and from an installed wheel."""

from __future__ import annotations

import csv
from importlib import resources


def csv_rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(resources.files("ingestion").joinpath(name).read_text(encoding="utf-8").splitlines()))
