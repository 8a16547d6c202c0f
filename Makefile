# Two commands do all set-up on a fresh machine:
#   make run    install the locked dependencies, start the service with the example timeline
#   make test   install the locked test dependencies, lint, type-check and run the whole suite
PY ?= python3
UV_VERSION := 0.13.9
UV := $(PY) -m uv
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck pytest openapi bench mutate uv clean

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PY) -m pip install --quiet "uv==$(UV_VERSION)" \
	  || $(PY) -m pip install --quiet --break-system-packages "uv==$(UV_VERSION)"

$(BIN)/tradewinds: pyproject.toml uv.lock | uv
	$(UV) sync --locked --inexact
	@touch $@

run: $(BIN)/tradewinds
	$(BIN)/tradewinds serve --demo $(ARGS)

test: uv
	$(UV) sync --locked --extra dev
	.ci/ensure-postgres
	.ci/ensure-chromium
	$(MAKE) lint typecheck pytest

lint:
	$(BIN)/ruff check domain forecasts service tests benchmarks
	$(BIN)/ruff format --check domain forecasts service tests benchmarks

typecheck:
	$(BIN)/mypy domain forecasts service

# Two workers (pytest-xdist), each test file on one worker so that its module fixtures
# (demo servers, Chromium) start once; PYTEST_JOBS=0 runs the suite in one process.
PYTEST_JOBS ?= 2

pytest:
	$(BIN)/pytest -n $(PYTEST_JOBS) --dist loadfile $(PYTEST_ARGS)

openapi: $(BIN)/tradewinds
	$(BIN)/python -m service.cli.openapi_export openapi/openapi.json

bench: uv
	$(UV) sync --locked --extra dev
	$(BIN)/python -m benchmarks.run --output benchmarks/results.json

# Mutation testing of the core (minutes; not part of `make test`): MUTATE_ARGS="--all",
# "--jobs 2", or module paths such as "forecasts/grid.py".
mutate: uv
	$(UV) sync --locked --extra dev
	$(BIN)/python -m tests.mutation $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
