"""Write the artefacts derived from the contract: JSON Schema files (one per version), the dbt
sources YAML and the dbt macros that know the lake's layout.

python -m contract.generate          # rewrite them
python -m contract.generate --check  # exit 1 if any is out of date, or a version breaks the
                                     # compatibility rules (contract/compatibility.py)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from contract import compatibility, lake
from contract.events import EVENT_TYPES, VERSION_FIELD, EventType, Field

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "contract" / "schemas"
DBT_SOURCES = ROOT / "dbt_project" / "models" / "staging" / "smartcity" / "_smartcity__sources.yml"
DBT_BASE_MODELS = ROOT / "dbt_project" / "models" / "staging" / "smartcity" / "base" / "_smartcity__base_models.yml"
DBT_LAKE_MACROS = ROOT / "dbt_project" / "macros" / "lake_layout.sql"

_JSON_TYPES = {"string": "string", "double": "number", "integer": "integer", "timestamp": "string"}
# Types of the columns as the Spark job writes them to Parquet (see spark/parse.py).
PARQUET_TYPES = {
    "string": "varchar",
    "double": "double",
    "integer": "integer",
    "bigint": "bigint",
    "timestamp": "timestamp",
    "date": "date",
}


def json_schema(et: EventType, version: int) -> dict:
    """The JSON Schema of one version of an event type."""
    et = et.at(version)

    def prop(f: Field) -> dict:
        if f.name == VERSION_FIELD:
            return {"type": "integer", "description": f.description, "const": version}
        kind = _JSON_TYPES[f.type]
        p: dict = {"type": kind if f.required else [kind, "null"], "description": f.description}
        if f.type == "timestamp":
            p["format"] = "date-time"
        if f.unit:
            p["x-unit"] = f.unit
        if f.minimum is not None:
            p["minimum"] = f.minimum
        if f.maximum is not None:
            p["maximum"] = f.maximum
        if f.enum:
            p["enum"] = list(f.enum)
        if f.type == "string":
            p["minLength"] = 1
        return p

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://smartcity.example/contract/{schema_file(et.name, version)}",
        "title": f"{et.topic} v{version}",
        "description": et.description,
        "type": "object",
        "properties": {f.name: prop(f) for f in et.fields},
        "required": [f.name for f in et.fields if f.required],
        "additionalProperties": False,
    }


def since(et: EventType, name: str) -> int:
    """The first version with the field ``name``."""
    return next(v.number for v in et.versions if name in {f.name for f in v.fields})


def schema_file(name: str, version: int) -> str:
    return f"{name}.v{version}.schema.json"


def raw_columns(et: EventType) -> list[dict]:
    """The columns of a raw table, in the table's order (``contract.lake.table_columns``)."""
    fields = {f.name: f for f in et.fields}

    def described(name: str, description: str) -> str:
        f = fields.get(name)
        if f is None:
            return description
        since = next(v.number for v in et.versions if name in {g.name for g in v.fields})
        unit = f" Unit: {f.unit}." if f.unit else ""
        return (
            description + unit + (f" Since version {since}; null in events of earlier versions." if since > 1 else "")
        )

    return [
        {"name": n, "data_type": PARQUET_TYPES[t], "description": described(n, d)}
        for n, t, d in lake.table_columns(lake.RAW, et.name)
    ]


def dbt_base_models() -> dict:
    """The base models (one per raw table, every landed copy): their columns are the raw table's."""
    return {
        "version": 2,
        "models": [
            {
                "name": f"base_smartcity__{et.name}",
                "description": f"{et.description} The raw table as the lake holds it, every landed copy of every "
                "event: what its staging model de-duplicates, and where the incremental models find the arrivals.",
                "columns": [{k: v for k, v in c.items() if k != "data_type"} for c in raw_columns(et)],
            }
            for et in EVENT_TYPES
        ],
    }


def dbt_sources() -> dict:
    tables = []
    for et in EVENT_TYPES:
        columns = raw_columns(et)
        rules = {
            "not_null": [f.name for f in et.fields if f.required],
            "ranges": {
                f.name: [f.minimum, f.maximum] for f in et.fields if f.minimum is not None or f.maximum is not None
            },
            "accepted_values": {f.name: list(f.enum) for f in et.fields if f.enum is not None},
            "since_version": {f.name: since(et, f.name) for f in et.added_since_first()},
        }
        tables.append(
            {
                "name": et.name,
                "description": f"{et.description} Raw, as landed by the Spark job from topic {et.topic}.",
                # Every rule of the contract, checked on what landed in one scan of the table.
                "data_tests": [{"matches_contract": {"arguments": rules}}],
                "columns": columns,
            }
        )
    return {
        "version": 2,
        "sources": [
            {
                "name": "smartcity",
                "description": "Raw events in the lake, landed exactly once per Kafka offset by the Spark job. "
                "GENERATED from contract/events.py by `python -m contract.generate`: do not edit.",
                # On DuckDB the views of the tables' snapshots that lakehouse/dbt_duckdb.py makes; in the
                # warehouses the Iceberg tables of the Glue database.
                "schema": "{{ '"
                + lake.DUCKDB_LAKE
                + "' if target.type == 'duckdb' else env_var('SMARTCITY_RAW_SCHEMA', 'smartcity_raw') }}",
                "config": {
                    "loaded_at_field": "ingested_at",
                    "freshness": {
                        "warn_after": {"count": 10, "period": "minute"},
                        "error_after": {"count": 60, "period": "minute"},
                    },
                },
                "tables": tables,
            }
        ],
    }


def dbt_lake_macros() -> str:
    """The lake for dbt's Jinja: the streams, and the DuckDB view of one stream's raw table."""
    return (
        "{#- GENERATED from contract/lake.py by `python -m contract.generate`: do not edit. -#}\n"
        f"{{% macro smartcity_streams() %}}{{{{ return({list(lake.STREAMS)!r}) }}}}{{% endmacro %}}\n\n"
        f"{{% macro smartcity_raw_view(stream) %}}{{{{ return('{lake.DUCKDB_LAKE}.' ~ stream) }}}}{{% endmacro %}}\n"
    )


def rendered() -> dict[Path, str]:
    files = {
        SCHEMA_DIR / schema_file(et.name, n): json.dumps(json_schema(et, n), indent=2) + "\n"
        for et in EVENT_TYPES
        for n in et.numbers
    }
    header = "# GENERATED from contract/events.py by `python -m contract.generate`: do not edit.\n"
    files[DBT_SOURCES] = header + yaml.safe_dump(dbt_sources(), sort_keys=False, width=120)
    files[DBT_BASE_MODELS] = header + yaml.safe_dump(dbt_base_models(), sort_keys=False, width=120)
    files[DBT_LAKE_MACROS] = dbt_lake_macros()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contract.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated file is out of date")
    args = parser.parse_args(argv)
    broken = [line for et in EVENT_TYPES for line in (*compatibility.problems(et), *compatibility.lake_problems(et))]
    for line in broken:
        print(f"incompatible: {line}", file=sys.stderr)
    if broken:
        return 1
    files = rendered()
    stale = []
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        if path not in files:  # a schema no version has any more
            if args.check:
                stale.append(str(path.relative_to(ROOT)))
            else:
                path.unlink()
                print(f"removed {path.relative_to(ROOT)}")
    for path, text in files.items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"out of date (run `python -m contract.generate`): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
