# Two commands matter: `make run` starts the whole platform, `make test` runs the whole suite.
# Everything runs through uv; if uv is missing it is installed into .tools/ from PyPI.

SHELL := /bin/bash
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
SOURCES := bench libs/servicekit/src gateway/src identity-svc/src catalog-svc/src case-svc/src \
           rating-svc/src data-exchange-svc/src devtools/src \
           web/src

.PHONY: run test lint typecheck pytest bench sync clean

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

sync: | $(UV)
	$(UV) sync --frozen --quiet

## Start all six processes on ports 8000-8005 (SQLite files under var/); Ctrl-C stops them.
run: sync
	$(UV) run --frozen python -m onevisit_dev

## Lint, type-check and run every test: on SQLite, and on PostgreSQL too when
## ONEVISIT_TEST_POSTGRES_URL names one (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres).
test: lint typecheck pytest

lint: sync
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: sync
	$(UV) run --frozen mypy $(SOURCES)

pytest: sync
	$(UV) run --frozen pytest

## Throughput and latency of one authenticated read, through the gateway and direct.
bench: sync
	$(UV) run --frozen python -m bench

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
