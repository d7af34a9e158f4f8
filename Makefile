# metricdag: every entry point a person or CI needs. Works from a fresh clone:
# the first target that needs the virtualenv creates it and installs the project.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export METRICDAG_HOME := $(CURDIR)
export DAGSTER_HOME := $(CURDIR)
DAGSTER_PORT ?= 3000

.PHONY: help install run dev test validate bench stack-up stack-down clean

help:
	@echo "make run    - local stack up, seed, compute every metric for the sample date, print a summary, stack down"
	@echo "make dev    - local stack + seeded data + 'dagster dev' with every metric's code location"
	@echo "make test   - the whole test suite (what CI runs)"
	@echo "make bench  - benchmarks (speed and memory)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

.env:
	@test -f .env || cp .env.example .env

install: $(VENV)/.installed .env

run: install
	$(BIN)/metricdag run

dev: install
	$(BIN)/metricdag dev --port $(DAGSTER_PORT)

validate: install
	$(BIN)/metricdag workspace --check
	$(BIN)/metricdag validate
	$(BIN)/dagster definitions validate -w workspace.yaml

test: validate
	$(BIN)/pytest -q

bench: install
	$(BIN)/python benchmarks/run.py

stack-up: install
	$(BIN)/metricdag stack up

stack-down: install
	$(BIN)/metricdag stack down

clean:
	-$(BIN)/metricdag stack down
	rm -rf .local .dagster reports
