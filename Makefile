# LLM Observe — every target sets up what it needs on a fresh clone.
#   make run    install, migrate, build and serve UI + API on http://localhost:$(PORT)
#               (WORKERS=n backend worker processes, default 1; more than 1 needs REDIS_URL)
#   make test   install (Chromium included) and run the whole test suite
#   make bench  run the benchmarks in bench/
#   make demo   seed a demo account with 30 days of data
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PORT ?= 8000
WORKERS ?= 1
BUN := .tools/node_modules/.bin/bun

export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_TELEMETRY_ENABLED := false
export PATH := $(CURDIR)/.tools/node_modules/.bin:$(BIN):$(PATH)
export PORT

.PHONY: run workers-check test bench demo lint migrate deps dev-deps chromium clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt sdk/pyproject.toml $(VENV)/.runtime
	$(BIN)/pip install -q -r requirements-dev.txt -e ./sdk
	touch $@

$(BUN):
	mkdir -p .tools
	cd .tools && echo '{"private": true}' > package.json && npm install --no-audit --no-fund --silent bun@1.4.4

deps: $(VENV)/.runtime $(BUN)

dev-deps: deps $(VENV)/.dev

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

migrate: deps
	$(BIN)/python -m llmobserve_app.db upgrade

run: workers-check migrate
	GRANIAN_WORKERS=$(WORKERS) $(BIN)/reflex run --env prod --single-port --frontend-port $(PORT) --backend-port $(PORT)

# Refuse before installing or migrating anything: several workers need a shared state store (Redis).
workers-check:
	@if ! [[ "$(WORKERS)" =~ ^[1-9][0-9]*$$ ]]; then echo "WORKERS must be a whole number ≥ 1, not '$(WORKERS)'." >&2; exit 2; fi
	@if [ "$(WORKERS)" -gt 1 ] && [ -z "$$REDIS_URL" ]; then \
	  echo "WORKERS=$(WORKERS) needs REDIS_URL: without Redis each worker keeps its users' page state on local" \
	       "disk (.states/), which other workers cannot see. Set REDIS_URL=redis://host:6379/0 or use WORKERS=1." >&2; \
	  exit 2; fi

demo: migrate
	$(BIN)/python -m llmobserve_app.demo

# Two pytest runs: everything but the browser and multi-server tests on two workers (each its own databases;
# a file's tests stay together), then those, which start servers and Chromium, one at a time.
test: dev-deps chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile --ignore=tests/e2e --ignore=tests/scale_out
	$(BIN)/python -m pytest tests/e2e tests/scale_out

bench: dev-deps
	@set -e; for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script; done

lint: dev-deps
	$(BIN)/ruff check .

clean:
	rm -rf .web .states $(VENV) .tools
