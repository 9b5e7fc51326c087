# Everything runs from .venv, created and filled on first use.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The JVM artifacts of jvm/pom.xml (Apache Kafka for the embedded broker), one folder per classpath.
JVM_HOME := $(VENV)/jvm
JVM_STAMP := $(JVM_HOME)/.installed-stamp
INSTALLED := $(STAMP) $(JVM_STAMP)
RESOLVE_JARS = rm -rf $(JVM_HOME) && mkdir -p $(JVM_HOME) \
	&& cd jvm && ./mvnw -B -q --strict-checksums dependency:copy-dependencies -Djvm.home=$(CURDIR)/$(JVM_HOME)
# Debian packages the tests drive: the dashboard's browser, Prometheus and promtool.
SYSTEM_PACKAGES := chromium:chromium prometheus:prometheus promtool:prometheus
export DBT_PROFILES_DIR := $(CURDIR)/dbt_project
export DBT_SEND_ANONYMOUS_USAGE_STATS := False

VEHICLES ?= 20
SPEEDUP ?= 20
DURATION ?=
CLUSTER ?=
METRICS_PORT ?=

.PHONY: help install jvm-lock system-packages lock stream dashboard simulate broker-start broker-stop cluster-start cluster-stop cluster-up cluster-down drill check test lint bench clean

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

# The jars at the versions of jvm/pom.xml, each checked against jvm/checksums.sha256. The Maven Wrapper
# fetches its Maven once (checksum in jvm/.mvn/wrapper); Maven keeps what it downloads in ~/.m2.
$(JVM_STAMP): jvm/pom.xml jvm/checksums.sha256 | $(STAMP)
	$(RESOLVE_JARS)
	cd $(JVM_HOME) && sha256sum --quiet --strict -c $(CURDIR)/jvm/checksums.sha256
	@test "$$(cd $(JVM_HOME) && find . -name '*.jar' | wc -l)" = "$$(wc -l < jvm/checksums.sha256)" \
		|| { echo "jars in $(JVM_HOME) that jvm/checksums.sha256 does not list: run make jvm-lock"; exit 1; }
	touch $@

install: $(INSTALLED)  ## create .venv and install everything: Python packages (requirements.lock), jars (jvm/pom.xml)

jvm-lock:  ## after a version change in jvm/pom.xml: resolve it and record every jar's checksum
	$(RESOLVE_JARS)
	cd $(JVM_HOME) && find . -name '*.jar' | sort | xargs sha256sum > $(CURDIR)/jvm/checksums.sha256
	touch $(JVM_STAMP)

system-packages:  ## the Debian packages the tests drive (chromium, prometheus): installed when missing, as root
	@missing=$$(for pair in $(SYSTEM_PACKAGES); do command -v $${pair%%:*} >/dev/null || echo $${pair#*:}; done | sort -u); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "the tests need Debian packages: sudo apt-get install" $$missing; exit 1; fi; \
		echo "installing $$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null \
			|| { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
	fi

lock: $(STAMP)  ## re-resolve the locks from pyproject.toml: requirements.lock (all, for make install), requirements-runtime.lock (the image)
	$(BIN)/pip-compile --quiet --extra cloud --extra dev --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements.lock pyproject.toml
	cp requirements.lock requirements-runtime.lock  # the same pins, fewer packages
	$(BIN)/pip-compile --quiet --extra cloud --strip-extras --no-emit-index-url --no-emit-find-links \
		-o requirements-runtime.lock pyproject.toml

stream: $(INSTALLED)  ## broker + Spark job + simulator until Ctrl-C (DURATION=seconds to stop; CLUSTER=1: the job on `smartcity cluster start`'s cluster)
	$(BIN)/smartcity up --vehicles $(VEHICLES) --speedup $(SPEEDUP) $(if $(DURATION),--duration $(DURATION)) $(if $(CLUSTER),--cluster) $(if $(METRICS_PORT),--metrics-port $(METRICS_PORT))

dashboard: $(INSTALLED)  ## the live dashboard on http://127.0.0.1:8501 (run it beside `make stream`)
	$(BIN)/smartcity dashboard

simulate: $(INSTALLED)  ## stream the fleet into Kafka only
	$(BIN)/smartcity simulate --vehicles $(VEHICLES) --speedup $(SPEEDUP) $(if $(DURATION),--duration $(DURATION))

broker-start: $(INSTALLED)  ## start the embedded broker in the background
	$(BIN)/smartcity broker start

broker-stop: $(INSTALLED)  ## stop the embedded broker
	$(BIN)/smartcity broker stop

drill: $(INSTALLED)  ## fault drill: driver SIGKILLs, simulator replay, broker restart, late/duplicate/malformed events; accounts for every event
	$(BIN)/smartcity drill --vehicles $(VEHICLES)

cluster-start: $(INSTALLED)  ## a local Spark standalone cluster (master + 2 workers) for `make stream CLUSTER=1`
	$(BIN)/smartcity cluster start

cluster-stop: $(INSTALLED)  ## stop the local Spark cluster
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

lint: $(INSTALLED)  ## ruff (lint and format), the import layers, mypy, generated files up to date
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m contract.generate --check

check: system-packages lint  ## the fast lane, about a minute: lint, types, and every test that needs no JVM, broker, dbt build or browser
	$(BIN)/python -m pytest -q -n $(WORKERS) -m "not ($(SYSTEM_TESTS))"

# Spark's classes archived once per venv (AppCDS): every test JVM maps them instead of loading them.
SPARK_CDS := $(VENV)/spark-cds/spark.jsa
$(SPARK_CDS): $(INSTALLED) tests/helpers/spark_jvm.py
	$(BIN)/python -m tests.helpers.spark_jvm

test: check $(SPARK_CDS)  ## the whole suite: `make check`, then the tests on a real broker, Spark, dbt and chromium
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile -m "$(SYSTEM_TESTS)"

bench: $(INSTALLED)  ## benchmarks: the embedded broker (start, memory after a 2M backfill), producer (both backends), Spark ingest (drain rate, latency, commit; BASELINE=<rev>: that revision first, side by side), drain on the local cluster vs local[2], dbt build, the marts refresher at 10M and 30M, dashboard
	$(BIN)/python -m bench.broker
	$(BIN)/python -m bench.producer
	$(BIN)/python -m bench.spark_ingest $(if $(BASELINE),--baseline $(BASELINE))
	$(BIN)/python -m bench.cluster_drain
	$(BIN)/python -m bench.dbt_build
	$(BIN)/python -m bench.marts_refresh
	$(BIN)/python -m bench.dashboard
	$(BIN)/python -m bench.dashboard_live

clean:  ## remove generated data (not .venv)
	rm -rf data dbt_project/target dbt_project/logs
