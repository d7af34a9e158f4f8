# metricdag: every entry point a person or CI needs. Works from a fresh clone:
# the first target that needs the virtualenv creates it and installs the project.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export METRICDAG_HOME := $(CURDIR)
export DAGSTER_HOME := $(CURDIR)/.dagster
DAGSTER_PORT ?= 3000

.PHONY: help install jvm-tools browser postgres run dev test validate bench package stack-up stack-down clean

help:
	@echo "make run    - local stack up, seed, compute every metric for the sample date, print a summary, stack down"
	@echo "make dev    - local stack + seeded data + 'dg dev' with every metric's code location"
	@echo "make test   - the whole test suite (what CI runs)"
	@echo "make bench  - benchmarks (speed and memory)"
	@echo "make package - dist/: the code-location wheel and the persister's Lambda zip"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The platform (this folder) and the distributions under packages/ (README, "Packages"), all editable.
PACKAGES := $(sort $(wildcard packages/*/pyproject.toml))
$(VENV)/.installed: pyproject.toml $(PACKAGES) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" $(foreach p,$(PACKAGES),-e $(dir $(p)))
	@touch $@

.env:
	@test -f .env || cp .env.example .env

install: $(VENV)/.installed .env

# Java and Scala nodes need javac/java (a JDK is assumed) and scalac. As root on Debian/Ubuntu,
# a missing scalac is installed from the distribution (package `scala`); otherwise say what to do.
JDK_HINT := install a JDK 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless)
SCALA_HINT := install Scala 2.11 or newer: as root on Debian/Ubuntu 'apt-get install scala' (or run make as root), or put scalac on PATH / set SCALA_HOME
jvm-tools:
	@command -v javac >/dev/null && command -v java >/dev/null || { echo "javac/java not found: $(JDK_HINT)" >&2; exit 1; }
	@command -v scalac >/dev/null || { test -n "$$SCALA_HOME" && test -x "$$SCALA_HOME/bin/scalac"; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "scalac not found: installing Debian's scala package"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq scala >/dev/null; \
	  else \
	    echo "scalac not found: $(SCALA_HINT)" >&2; exit 1; \
	  fi; }

# The UI test screenshots the asset graph with headless Chromium. As root on Debian/Ubuntu a
# missing chromium is installed (package `chromium`); otherwise that one test is skipped and says so.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "chromium not found: installing Debian's chromium package"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium: the UI screenshot test will be skipped" >&2; \
	  else \
	    echo "chromium not found: the UI screenshot test will be skipped (install Debian's chromium to run it)" >&2; \
	  fi; }

# The deployed-instance test (tests/deploy/test_postgres_instance.py) runs a real PostgreSQL from a
# temp folder (initdb + pg_ctl). As root on Debian/Ubuntu a missing PostgreSQL is installed (package
# `postgresql`); otherwise that test is skipped on a workstation and fails under CI (CI set).
PG_HINT := install PostgreSQL: as root on Debian/Ubuntu 'apt-get install postgresql' (or run make as root)
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "PostgreSQL not found: installing Debian's postgresql package"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "PostgreSQL not found: $(PG_HINT); the deployed-instance test will be skipped (it fails under CI)" >&2; \
	  fi; }

run: install jvm-tools
	$(BIN)/metricdag run

dev: install jvm-tools
	$(BIN)/metricdag dev --port $(DAGSTER_PORT)

validate: install
	$(BIN)/metricdag workspace --check
	$(BIN)/metricdag helm --check
	$(BIN)/metricdag validate
	$(BIN)/dg check defs --use-active-venv

test: validate jvm-tools browser postgres
	$(BIN)/pytest -q

bench: install
	$(BIN)/python benchmarks/run.py

# dist/metricdag-<version>-py3-none-any.whl and dist/metricdag-persister-lambda.zip (deterministic;
# rebuilt only when its inputs changed). `metricdag stack up` in aws-local builds the zip itself.
package: install
	$(BIN)/python -m metricdag.packaging

stack-up: install
	$(BIN)/metricdag stack up

stack-down: install
	$(BIN)/metricdag stack down

clean:
	-$(BIN)/metricdag stack down
	rm -rf .local reports dist
	find .dagster -mindepth 1 -maxdepth 1 ! -name dagster.yaml -exec rm -rf {} +
