# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

.PHONY: install run tour serve test test-pg lint format openapi bench chaos chaos-short fuzz mutate worker clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Local use only: every login comes from 127.0.0.1 (the tour logs in four times a run),
# so the per-IP login limits are relaxed here; the served defaults stay as they are.
RUN_RATE_LIMITS := {"login.ip": "600/minute", "login.ip.hour": "10000/hour", "wechat-login.ip": "600/minute", "refresh.ip": "600/minute"}

run: install
	$(PY) -m app migrate
	LIANGPIAO_WECHAT_API_BASE=http://$(HOST):$(PORT)/__fake_wechat $(PY) -m app seed-demo
	LIANGPIAO_MOUNT_FAKE_WECHAT=true LIANGPIAO_WECHAT_API_BASE=http://$(HOST):$(PORT)/__fake_wechat \
		LIANGPIAO_RATE_LIMITS='$(RUN_RATE_LIMITS)' \
		$(PY) -m app serve --host $(HOST) --port $(PORT)

# The walkthrough (docs/walkthrough.md), played against `make run` in another terminal.
tour: install
	$(PY) -m app tour --base-url http://$(HOST):$(PORT)

test: install
	$(PY) -m pytest

test-pg: install
	LIANGPIAO_TEST_DATABASE_URL=$(PG_TEST_URL) LIANGPIAO_TEST_FORBID_SKIPS=1 $(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

openapi: install
	$(PY) -m app openapi > openapi/openapi.json

worker: install
	$(PY) -m app worker

bench: install
	$(PY) -m bench

# Crash and restart on PostgreSQL (tests/chaos): kills the API, restarts PostgreSQL.
chaos: install
	$(PY) -m tests.chaos --duration 120 --clients 24 --kills 4

chaos-short: install
	$(PY) -m tests.chaos --short

# Schemathesis at length (tests/fuzz, the `full` profile), on SQLite unless
# LIANGPIAO_TEST_DATABASE_URL names a PostgreSQL server; prints each principal's figures.
fuzz: install
	LIANGPIAO_FUZZ_PROFILE=full $(PY) -m pytest tests/fuzz/test_fuzz.py -s -q

# Mutation testing of the modules that enforce the invariants (tools/mutate.py), never
# part of `make test`: one mutant at a time, hours for all of them on 2 cores.
# `make mutate MUTATE=ledger-repository-lots` runs one module (`$(PY) tools/mutate.py --list`).
MUTATE ?=
mutate: install
	$(PY) tools/mutate.py $(MUTATE)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
