# Push-provisioning service: install, run, demo and test on one machine.
# `make help` lists the targets. Recipes are plain sh; GNU make is assumed only for
# the `help` listing.

VENV        ?= .venv
PYTHON      ?= python3
PY          := $(VENV)/bin/python
# stack.py (and the devstack package under it) is stdlib only, so `down` works even
# without a venv; it runs the services under $(VENV), hence the export.
STACK       := $(PYTHON) scripts/stack.py
PYTEST_ARGS ?=
DEMO_ARGS   ?=
# No entry point has a default settings module (core/entrypoints.py). The stack names
# config.settings.dev itself (scripts/stack.py); the test targets name the test settings
# here, so a DJANGO_SETTINGS_MODULE exported in the shell for manage.py never sends a
# test run to the dev database and Redis.
TEST_SETTINGS := config.settings.test
PYTEST      := DJANGO_SETTINGS_MODULE=$(TEST_SETTINGS) $(PY) -m pytest
export VENV

.DEFAULT_GOAL := help
.PHONY: help install up down status demo demo-chaos lint test test-embedded test-unit \
        test-integration test-tools lock migrate clean

help: ## list the targets
	@echo "usage: make TARGET   (variables: PYTEST_ARGS, DEMO_ARGS, VENV, PYTHON)"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-17s %s\n", $$1, $$2}'

# One marker per lock: the demo and the stack need only the runtime and the sandbox
# (requirements-sandbox.lock), the tests and benchmarks everything (requirements.lock).
# A marker is older than its lock whenever the lock changes, so a pull that brings a new
# lock reinstalls on the next make. The full lock holds all the demo needs: while its
# marker is current the demo's marker is only touched.
PIP_INSTALL := $(PY) -m pip install --disable-pip-version-check --no-input --require-hashes
CHECK_PYTHON = @$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	{ echo "$(PYTHON) is not Python 3.11 (pyproject requires >=3.11,<3.12); set PYTHON=..."; exit 1; }

$(VENV)/.installed: requirements.lock
	$(CHECK_PYTHON)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.lock
	touch $@

$(VENV)/.installed-demo: requirements-sandbox.lock
	$(CHECK_PYTHON)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if [ -f $(VENV)/.installed ] && ! [ requirements.lock -nt $(VENV)/.installed ]; then \
		echo "$(VENV) holds requirements.lock, which covers the demo"; \
	else \
		echo "$(PIP_INSTALL) -r requirements-sandbox.lock"; \
		$(PIP_INSTALL) -r requirements-sandbox.lock || exit 1; \
	fi
	touch $@

install: $(VENV)/.installed ## create .venv and install requirements.lock (hash-checked)

up: $(VENV)/.installed-demo ## migrate and start sandbox, web, worker, beat (scripts/stack.py up)
	$(STACK) up

down: ## stop what `make up` started
	$(STACK) down

# Informational: `scripts/stack.py status` itself exits 0 / 1 / 3 for scripts.
status: ## what runs, where, and whether it is healthy
	@$(STACK) status || true

migrate: $(VENV)/.installed-demo ## create the database if needed and apply migrations
	$(STACK) migrate

# up, demo, then always down. The recipe exits with the demo's status (make reports
# any failure as 2). If up fails, or a stack already runs, nothing is stopped: this
# recipe did not start it.
demo: $(VENV)/.installed-demo ## up, play the wallet app (scripts/demo.py), down
	@$(STACK) up || exit $$?; \
	trap '$(STACK) down' EXIT; trap 'exit 130' INT TERM; \
	$(PY) scripts/demo.py $(DEMO_ARGS)

demo-chaos: $(VENV)/.installed-demo ## demo with the worker killed (-9) at 3 s and restarted
	@$(STACK) up || exit $$?; \
	trap '$(STACK) down' EXIT; trap 'exit 130' INT TERM; \
	$(PY) scripts/demo.py --kill-worker-at 3 $(DEMO_ARGS)

# The browser test drives Debian's chromium and the alert-rule tests run promtool
# (Debian's prometheus): neither comes from PyPI. Installed when missing if this runs as
# root with apt-get (`apt-get update` first); otherwise named, and make stops here.
test-tools: ## Debian's chromium and promtool for the tests (installed if root)
	@$(PYTHON) -m devstack.debian

# The import contracts in pyproject.toml ([tool.importlinter]; docs/architecture.md):
# apps import downward only, the flows are independent, nothing imports config.
lint: $(VENV)/.installed ## check the import contracts (lint-imports)
	$(VENV)/bin/lint-imports --no-cache

# Two runs: the whole suite on PostgreSQL and Redis, then the tests marked `embedded`
# again on SQLite and the filesystem broker (the mode a laptop with only Python gets).
# The import contracts are checked before any test: a broken layer stops the run at once.
test: test-tools lint $(VENV)/.installed ## import contracts, all tests (needs PostgreSQL and Redis), then the embedded-mode run
	$(PYTEST) $(PYTEST_ARGS)
	TEST_STACK_MODE=embedded $(PYTEST) -m embedded $(PYTEST_ARGS)

test-embedded: $(VENV)/.installed ## the tests marked embedded, on SQLite and the filesystem broker
	TEST_STACK_MODE=embedded $(PYTEST) -m embedded $(PYTEST_ARGS)

test-unit: test-tools $(VENV)/.installed ## tests not marked integration
	$(PYTEST) -m "not integration" $(PYTEST_ARGS)

test-integration: $(VENV)/.installed ## tests marked integration (worker and sandbox)
	$(PYTEST) -m integration $(PYTEST_ARGS)

# The locks pin every package with hashes for Python 3.11, whatever python runs uv:
# requirements.lock everything (development, tests, benchmarks, sandbox),
# requirements-prod.lock the production image, requirements-sandbox.lock the runtime
# plus the sandbox (the sandbox image, and what `make demo` needs).
lock: ## regenerate the three lock files with uv
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check --no-input uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --extra bench --extra sandbox \
		--python-version 3.11 --generate-hashes -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --python-version 3.11 \
		--generate-hashes -o requirements-prod.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra sandbox --python-version 3.11 \
		--generate-hashes -o requirements-sandbox.lock

# var/dev-keys.json is kept: a PostgreSQL database outlives `clean` and holds data
# encrypted under those keys. Removing var/ under a running stack would orphan it.
clean: ## remove var/ (SQLite db, logs, broker, pids; not dev keys) and caches
	@if [ -f var/run/web.pid ] || [ -f var/run/worker.pid ] || [ -f var/run/sandbox.pid ] || \
		[ -f var/run/beat.pid ]; then \
		$(STACK) status >/dev/null 2>&1; \
		if [ $$? -ne 3 ]; then echo "the stack is running: make down first"; exit 1; fi; \
	fi
	find var -mindepth 1 -maxdepth 1 ! -name dev-keys.json -exec rm -rf {} + 2>/dev/null || true
	rm -rf .pytest_cache .hypothesis .ruff_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

# --- benchmarks (issue 7; bench/README.md) ---------------------------------------------
# Numbers for docs/performance.md, never assertions. They need PostgreSQL and Redis on
# 127.0.0.1 (as `make test` does); bench-faults also runs redis-server processes of its
# own. BENCH_ARGS go to the script (e.g. BENCH_ARGS="--count 300 --phases green").
.PHONY: bench bench-soak bench-scale bench-faults
BENCH_ARGS ?=

bench: $(VENV)/.installed ## load bench beside its floor: JSON, table and plot in bench/results/
	$(PY) -m bench.run --fresh-db $(BENCH_ARGS)

bench-soak: $(VENV)/.installed ## 30 min of green70 (BENCH_ARGS="--rate R" skips the peak run): RSS start/end, worker growth
	$(PY) -m bench.run --fresh-db --soak $(BENCH_ARGS)

bench-scale: $(VENV)/.installed ## beat's sweeps at 10k and 1M rows, 1,000 stuck (BENCH_ARGS="--log-rows N,..." adds the partitioned log and outbox)
	$(PY) -m bench.scale $(BENCH_ARGS)

bench-faults: $(VENV)/.installed ## kill -9 worker, Redis restart, token-service faults, transfers (BENCH_ARGS=--quick)
	$(PY) -m bench.faults $(BENCH_ARGS)
