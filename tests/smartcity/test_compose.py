"""docker-compose.yml, .env.example and the Dockerfile, checked without a Docker engine: the Compose
specification, pinned images, everything referenced is defined, no secret in the repository, ports on
loopback, connectors in step with the installed pyspark, and the commands parse with our own CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from smartcity.cli.main import build_parser

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COMPOSE = PROJECT_ROOT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")
SECRETS = ("SMARTCITY_SPARK_AUTH_SECRET", "OBJECT_STORE_SECRET_KEY", "CATALOG_PASSWORD")


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line and line[0] != "#")
    return {key.strip(): value.strip() for key, value in pairs}


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}; an undefined variable fails the test."""

    def value(match: re.Match) -> str:
        name, kind, word = match.groups()
        if env.get(name):
            return env[name]
        if kind == "-":
            return word
        if kind == "?" or name in env:
            return "x"  # required (a secret the user sets) or present but empty
        pytest.fail(f"docker-compose.yml uses ${{{name}}}, which .env.example does not define")

    return VARIABLE.sub(value, text.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(interpolate(COMPOSE.read_text(), env_example()))


def test_the_file_follows_the_compose_specification() -> None:
    validator = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert validator, "check-jsonschema is a dev dependency"
    result = subprocess.run(
        [validator, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_cluster_has_kafka_in_kraft_mode_a_master_two_workers_storage_job_and_simulator(compose: dict) -> None:
    services = compose["services"]
    assert {"kafka", "object-store", "spark-master", "spark-worker-1", "spark-worker-2", "stream", "simulator"} <= set(
        services
    )
    assert "broker,controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert not any("zookeeper" in str(s).lower() for s in services.values())
    assert services["dashboard"]["profiles"] == ["dashboard"]


def test_every_image_is_pinned(compose: dict) -> None:
    for name, service in compose["services"].items():
        image = service.get("image", "")
        if "build" in service:
            continue  # the project's own image, built from ./Dockerfile
        assert re.fullmatch(r"[\w./-]+:[\w.-]+(@sha256:[0-9a-f]{64})?", image), f"{name}: {image!r}"
        assert not image.endswith(":latest"), name
    base = re.search(r"^FROM (\S+)", DOCKERFILE.read_text(), re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-[\w-]+", base), base


def test_every_network_volume_and_dependency_is_declared(compose: dict) -> None:
    services = compose["services"]
    for name, service in services.items():
        for network in service.get("networks", []):
            assert network in compose["networks"], f"{name}: network {network}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith((".", "/")) or source in compose["volumes"], f"{name}: volume {source}"
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on {dependency}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
        assert "secrets" not in service or set(service["secrets"]) <= set(compose.get("secrets", {}))


def test_no_secret_in_the_repository_and_compose_requires_them() -> None:
    env = env_example()
    for secret in SECRETS:
        assert env[secret] == "", f"{secret} must be empty in .env.example"
        assert re.search(rf"\$\{{{secret}:\?", COMPOSE.read_text()), f"compose must refuse to start without {secret}"
    assert ".env\n" in (PROJECT_ROOT / ".gitignore").read_text()


def test_published_ports_bind_loopback_only(compose: dict) -> None:
    published = [p for s in compose["services"].values() for p in s.get("ports", [])]
    assert published
    assert all(str(p).startswith("127.0.0.1:") for p in published), published


def test_connectors_match_the_installed_pyspark_scala_and_hadoop() -> None:
    import pyspark

    jars = {p.name for p in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    scala = next(re.match(r"scala-library-(\d+\.\d+)", j).group(1) for j in jars if j.startswith("scala-library-"))
    hadoop = next(re.match(r"hadoop-client-api-([\d.]+)\.jar", j).group(1) for j in jars if "hadoop-client-api" in j)
    assert env_example()["SPARK_PACKAGES"].split(",") == [
        f"org.apache.spark:spark-sql-kafka-0-10_{scala}:{pyspark.__version__}",
        f"org.apache.hadoop:hadoop-aws:{hadoop}",
    ]


def _argv(service: dict) -> list[str]:
    command = service["command"]
    return command if isinstance(command, list) else command.split()


def test_the_project_commands_parse_with_the_cli(compose: dict) -> None:
    parser = build_parser()
    services = compose["services"]
    stream = parser.parse_args(_argv(services["stream"]))
    assert (stream.command, stream.master, stream.source) == ("stream", "spark://spark-master:7077", "native")
    assert stream.master.removeprefix("spark://").split(":")[0] in services
    simulate = parser.parse_args(_argv(services["simulator"]))
    assert (simulate.command, simulate.vehicles, simulate.backend) == ("simulate", 20, "confluent")
    assert parser.parse_args(_argv(services["topics"])).command == "topics"
    assert parser.parse_args(_argv(services["dashboard"])).port == 8501
    submit = services["stream"]["environment"]["PYSPARK_SUBMIT_ARGS"]
    assert submit.split()[-1] == "pyspark-shell" and env_example()["SPARK_PACKAGES"] in submit


def test_the_image_holds_every_package_of_the_project_and_no_test_tool() -> None:
    setuptools = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {p.split(".")[0] for p in setuptools["packages"]} - set(setuptools["package-dir"])
    folders |= set(setuptools["package-dir"].values())
    dockerfile = DOCKERFILE.read_text()
    assert folders <= set(re.findall(r"^COPY (\w+)/ ", dockerfile, re.M))
    assert "-r requirements-runtime.lock" in dockerfile and "requirements.lock" not in dockerfile
    # The image takes its jars from the same list as `make install`, checked against the same checksums.
    assert "./mvnw" in dockerfile and "sha256sum --quiet --strict -c /build/jvm/checksums.sha256" in dockerfile
    runtime = {line.split("==")[0] for line in (PROJECT_ROOT / "requirements-runtime.lock").read_text().splitlines()}
    assert runtime.isdisjoint({"pytest", "moto", "ruff", "playwright", "mypy", "sqlfluff", "pre-commit"})
