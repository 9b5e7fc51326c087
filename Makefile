# Everything runs from .venv, created and filled on first use.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export DBT_PROFILES_DIR := $(CURDIR)/dbt_project
export DBT_SEND_ANONYMOUS_USAGE_STATS := False

VEHICLES ?= 20
SPEEDUP ?= 20
DURATION ?=
CLUSTER ?=
METRICS_PORT ?=

.PHONY: help install lock stream dashboard simulate broker-start broker-stop cluster-start cluster-stop cluster-up cluster-down drill check test lint bench clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

# The exact versions of requirements.lock, then the project itself (editable, no resolution).
$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install everything, at the versions of requirements.lock

lock: $(STAMP)  ## re-resolve the locks from pyproject.toml: requirements.lock (all, for make install), requirements-runtime.lock (the image)
	$(BIN)/pip-compile --quiet --extra cloud --extra dev --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements.lock pyproject.toml
	cp requirements.lock requirements-runtime.lock  # the same pins, fewer packages
	$(BIN)/pip-compile --quiet --extra cloud --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements-runtime.lock pyproject.toml

stream: $(STAMP)  ## broker + Spark job + simulator until Ctrl-C (DURATION=seconds to stop; CLUSTER=1: the job on `smartcity cluster start`'s cluster)
	$(BIN)/smartcity up --vehicles $(VEHICLES) --speedup $(SPEEDUP) $(if $(DURATION),--duration $(DURATION)) $(if $(CLUSTER),--cluster) $(if $(METRICS_PORT),--metrics-port $(METRICS_PORT))

dashboard: $(STAMP)  ## the live dashboard on http://127.0.0.1:8501 (run it beside `make stream`)
	$(BIN)/smartcity dashboard

simulate: $(STAMP)  ## stream the fleet into Kafka only
	$(BIN)/smartcity simulate --vehicles $(VEHICLES) --speedup $(SPEEDUP) $(if $(DURATION),--duration $(DURATION))

broker-start: $(STAMP)  ## start the embedded broker in the background
	$(BIN)/smartcity broker start

broker-stop: $(STAMP)  ## stop the embedded broker
	$(BIN)/smartcity broker stop

drill: $(STAMP)  ## fault drill: driver SIGKILLs, simulator replay, broker restart, late/duplicate/malformed events; accounts for every event
	$(BIN)/smartcity drill --vehicles $(VEHICLES)

cluster-start: $(STAMP)  ## a local Spark standalone cluster (master + 2 workers) for `make stream CLUSTER=1`
	$(BIN)/smartcity cluster start

cluster-stop: $(STAMP)  ## stop the local Spark cluster
	$(BIN)/smartcity cluster stop

cluster-up:  ## docker compose: KRaft Kafka, Spark master + 2 workers, object store, job, simulator (needs .env)
	@test -f .env || { echo "copy .env.example to .env and set its three secrets first"; exit 1; }
	docker compose up -d --build

cluster-down:  ## stop the docker compose deployment (data volumes kept; `docker compose down -v` drops them)
	docker compose down

# The kinds of test are markers that tests/conftest.py applies from the fixtures each test uses.
SYSTEM_TESTS := spark or broker or dbt or dashboard or slow
# Two pytest-xdist workers, each with a session broker of its own; a file's tests stay on one
# worker, so a module fixture (one drain, one dbt build) runs once. More workers than the two cores
# only slow the suite down.
WORKERS ?= 2

lint: $(STAMP)  ## ruff (lint and format), the import layers, mypy, generated files up to date
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m contract.generate --check

check: lint  ## the fast lane, about a minute: lint, types, and every test that needs no JVM, broker, dbt build or browser
	$(BIN)/python -m pytest -q -n $(WORKERS) -m "not ($(SYSTEM_TESTS))"

# Spark's classes archived once per venv (AppCDS): every test JVM maps them instead of loading them.
SPARK_CDS := $(VENV)/spark-cds/spark.jsa
$(SPARK_CDS): $(STAMP) tests/helpers/spark_jvm.py
	$(BIN)/python -m tests.helpers.spark_jvm

test: check $(SPARK_CDS)  ## the whole suite: `make check`, then the tests on a real broker, Spark, dbt and chromium
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile -m "$(SYSTEM_TESTS)"

bench: $(STAMP)  ## benchmarks: producer (both backends), Spark ingest (drain rate, latency, commit; BASELINE=<rev>: that revision first, side by side), drain on the local cluster vs local[2], dbt build, the marts refresher at 10M and 30M, dashboard
	$(BIN)/python -m bench.producer
	$(BIN)/python -m bench.spark_ingest $(if $(BASELINE),--baseline $(BASELINE))
	$(BIN)/python -m bench.cluster_drain
	$(BIN)/python -m bench.dbt_build
	$(BIN)/python -m bench.marts_refresh
	$(BIN)/python -m bench.dashboard
	$(BIN)/python -m bench.dashboard_live

clean:  ## remove generated data (not .venv)
	rm -rf data dbt_project/target dbt_project/logs
