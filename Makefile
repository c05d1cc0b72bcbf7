# Two commands on a fresh machine with Python 3.11+ and Node.js: `make up` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: up down test test-deps lint bench load clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e '.[local,aws,kubernetes]'
	touch $@

$(VENV)/.test-installed: pyproject.toml tests/oidc/package.json | $(VENV)/.installed
	$(PIP) install -q -e '.[local,aws,kubernetes,test]'
	bash tests/setup-system.sh
	touch $@

up: $(VENV)/.installed
	$(BIN)/heliohub up

down: $(VENV)/.installed
	$(BIN)/heliohub down

test-deps: $(VENV)/.test-installed

test: test-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest

lint: test-deps
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

$(VENV)/.bench-installed: pyproject.toml | $(VENV)/.test-installed
	$(PIP) install -q -e '.[local,aws,kubernetes,test,bench]'
	touch $@

# Not part of `make test`: timings belong in docs/BENCHMARKS.md, never in assertions.
bench: test-deps $(VENV)/.bench-installed
	$(BIN)/python -m bench $(BENCH_ARGS)

load: test-deps $(VENV)/.bench-installed
	$(BIN)/python -m bench load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) rendered
