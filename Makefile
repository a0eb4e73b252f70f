# tfdash: `make run` starts everything on this machine; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
WEB_PORT ?= 8000
SANDBOX_PORT ?= 8001
B ?=
DB ?=

# Django 6 needs Python >= 3.12. `python3.12` on PATH may be a pyenv shim that fails, so each candidate
# is run and checked before it is chosen (docs/architecture.md).
PYTHON_CANDIDATES := $(PYTHON) python3.14 python3.13 python3.12 python3 \
	$(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3) $(wildcard /root/.pyenv/versions/3.1[2-9]*/bin/python3) \
	$(wildcard /usr/local/bin/python3.1[2-9]) $(wildcard /usr/bin/python3.1[2-9])
FIND_PYTHON := for p in $(PYTHON_CANDIDATES); do \
	if "$$p" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then echo "$$p"; break; fi; done

# The demo runs against the local sandbox with its demo key; nothing here reaches the internet.
RUN_ENV := DEBUG=True TRUSTEDFORM_API_BASE=http://127.0.0.1:$(SANDBOX_PORT) \
	TRUSTEDFORM_API_KEY=sandbox-demo-key SANDBOX_API_KEY=sandbox-demo-key \
	WEB_PORT=$(WEB_PORT) SANDBOX_PORT=$(SANDBOX_PORT)

.PHONY: help run test test-sqlite test-postgres lint format bench bench-smoke fuzz install chromium migrations-check clean

help:
	@echo "make run    set up and start tfdash (web, sandbox, worker) on http://127.0.0.1:$(WEB_PORT)/"
	@echo "make test   set up and run the whole test suite (SQLite, PostgreSQL, browser)"
	@echo "make lint   ruff, django-upgrade, djhtml and mypy"
	@echo "make bench  run the benchmarks (B=<name> for one; DB=postgres on PostgreSQL)"
	@echo "make fuzz   fuzz the sandbox with the v4 spec: $(FUZZ_EXAMPLES) requests, a random seed (FUZZ_SEED=<n> reruns one)"

$(VENV)/.installed: pyproject.toml
	@py=$$($(FIND_PYTHON)); \
	if [ -z "$$py" ]; then \
		echo "tfdash needs Python 3.12 or newer (Django 6). None of these worked: $(PYTHON_CANDIDATES)" >&2; \
		echo "Install one, or run: make PYTHON=/path/to/python3.12 ..." >&2; exit 1; fi; \
	echo "Using $$py ($$($$py --version))"; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then \
		rm -rf $(VENV); "$$py" -m venv $(VENV); fi
	@mkdir -p var
	@echo "Installing tfdash and its dependencies into $(VENV) (log: var/install.log)"
	@{ $(PY) -m pip install --disable-pip-version-check --upgrade "pip>=25.1" && \
	   $(PY) -m pip install --disable-pip-version-check -e . --group dev; } > var/install.log 2>&1 \
	   || { tail -n 30 var/install.log; echo "Installing failed: see var/install.log" >&2; exit 1; }
	@touch $@

install: $(VENV)/.installed

# Debian's chromium for the browser tests (never Playwright's own browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@chromium --version 2>/dev/null | grep -v "unexpected operator" || true

run: install
	@mkdir -p var
	$(RUN_ENV) $(PY) manage.py migrate --noinput -v 0
	$(RUN_ENV) $(PY) manage.py sandbox_migrate
	$(RUN_ENV) $(PY) manage.py collectstatic --noinput -v 0
	@test -s var/demo-certificates.json || $(RUN_ENV) $(PY) manage.py sandbox_mint --demo --json > var/demo-certificates.json
	$(RUN_ENV) $(PY) manage.py load_demo var/demo-certificates.json
	@echo
	@echo "  tfdash:   http://127.0.0.1:$(WEB_PORT)/"
	@echo "  sandbox:  http://127.0.0.1:$(SANDBOX_PORT)/demo/  (a consumer lead form that issues certificates)"
	@echo "  Ctrl-C stops everything."
	@echo
	$(RUN_ENV) $(VENV)/bin/honcho -f Procfile start

test: install chromium
	$(MAKE) lint
	@if [ -f ../shared/checks/rules.py ]; then python3 ../shared/checks/rules.py; fi
	$(PY) manage.py makemigrations --check --dry-run -v 0 --settings tests.settings
	$(MAKE) test-sqlite
	$(MAKE) test-postgres
	$(MAKE) bench-smoke

test-sqlite: install
	$(VENV)/bin/pytest -q -m "not postgres" $(PYTEST_ARGS)

test-postgres: install
	scripts/with-postgres $(VENV)/bin/pytest -q $(PYTEST_ARGS)

# The same checks as .pre-commit-config.yaml.
TEMPLATES := $(shell find templates sandbox/templates -name '*.html')
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@git ls-files '*.py' | xargs $(VENV)/bin/django-upgrade --target-version 6.0 --check
	@echo "djhtml --check templates"; $(VENV)/bin/djhtml --check --tabwidth 2 $(TEMPLATES)
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/djhtml --tabwidth 2 $(TEMPLATES)

# `make bench` on SQLite, `make bench DB=postgres` on a throwaway PostgreSQL server (figures named pg_*).
bench: install
ifeq ($(DB),postgres)
	BENCH_DB=postgres scripts/with-postgres $(PY) bench/run.py $(B)
else
	$(PY) bench/run.py $(B)
endif

# Every bench at a tiny size, on both engines: proves each still runs (make test runs this).
bench-smoke: install
	BENCH_SMOKE=1 $(PY) bench/run.py
	BENCH_SMOKE=1 BENCH_DB=postgres scripts/with-postgres $(PY) bench/run.py

# The fuzz test of `make test`, run longer and with a new seed each time (README "Fuzzing the sandbox").
FUZZ_EXAMPLES ?= 6000
FUZZ_SEED ?= random
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SEED=$(FUZZ_SEED) $(VENV)/bin/pytest -q -s tests/test_sandbox_fuzz.py

clean:
	rm -rf $(VENV) var staticfiles
