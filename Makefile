# Bulwark: the two commands are `make run` and `make test`; the rest are helpers.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
# Local development defaults; real deployments set these in the environment (.env.example).
export DEBUG ?= true

.PHONY: run demo-reset test fuzz audit install install-dev migrate lint format bench bench-all check-deploy ci clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput

## make run: install, migrate, seed the demo once, start web + worker + beat (+ simulators).
## `make run DEMO=false` starts the stack on your own .env, without simulators or demo data.
DEMO ?= true
run: migrate
ifeq ($(DEMO),true)
	@if [ ! -f var/.demo-seeded ]; then $(PY) manage.py seed_demo && touch var/.demo-seeded; fi
	$(PY) manage.py runstack --port $(PORT) --demo
else
	$(PY) manage.py runstack --port $(PORT)
endif

## make demo-reset: throw the demo away and seed it afresh (then `make run`).
demo-reset: migrate
	$(PY) manage.py seed_demo --reset && touch var/.demo-seeded

## make test: install test requirements and run the whole suite.
test: export DEBUG = false
test: install-dev
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

## make fuzz: only the fuzz and property suite, FUZZ_SCALE (20) times its size in `make test`.
FUZZ_SCALE ?= 20
fuzz: export DEBUG = false
fuzz: install-dev
	BULWARK_FUZZ_SCALE=$(FUZZ_SCALE) $(PY) -m pytest -m fuzz -n auto $(PYTEST_ARGS)

## make audit: the pinned requirements against PyPI's advisory data (pip-audit). Fails on a
## known-vulnerable pin, and (--strict) on a pin it could not check, so an unreachable
## advisory service never reads as "no known vulnerabilities".
AUDIT_VENV := .venv-audit
audit: requirements-audit.txt
	test -x $(AUDIT_VENV)/bin/pip-audit || { $(PYTHON) -m venv $(AUDIT_VENV) && \
	  $(AUDIT_VENV)/bin/pip install --quiet -r requirements-audit.txt; }
	$(AUDIT_VENV)/bin/pip-audit --strict --no-deps --disable-pip --progress-spinner off \
	  -r requirements-dev.txt

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## make bench NAME=ingest ARGS="--n 100000"
bench: install
	$(PY) manage.py bench $(NAME) $(ARGS)

## make bench-all: every benchmark (bench/*.py) at its default size on SQLite, then again on
## PostgreSQL when DATABASE_URL points there. Each final JSON line also goes to
## var/bench/<database>.jsonl. BENCHES="ingest dashboard" runs only those.
BENCHES ?= $(sort $(basename $(notdir $(filter-out bench/_%,$(wildcard bench/*.py)))))
BENCH_DATABASES := sqlite $(if $(filter postgres%,$(DATABASE_URL)),postgresql)
bench-all: install
	@mkdir -p var/bench
	@set -eo pipefail; for database in $(BENCH_DATABASES); do \
	  for name in $(BENCHES); do \
	    echo "== bench $$name on $$database"; \
	    if [ $$database = sqlite ]; then \
	      env -u DATABASE_URL $(PY) manage.py bench $$name | tee /dev/stderr | tail -n 1 \
	        >> var/bench/$$database.jsonl; \
	    else \
	      $(PY) manage.py bench $$name | tee /dev/stderr | tail -n 1 >> var/bench/$$database.jsonl; \
	    fi; \
	  done; \
	done

ci:
	CI=true bash .ci/run

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
