# ntnric — set-up and the two commands the README gives: `make run` and `make test`.
# Everything is installed into .venv on first use (and again when pyproject.toml changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUNTIME := $(VENV)/.installed-runtime
STAMP_DEV     := $(VENV)/.installed-dev

.PHONY: run test lint typecheck proto bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml $(STAMP_RUNTIME)
	$(BIN)/pip install --quiet -e ".[dev,train]"
	touch $@

## The main job on the default scenario: the RIC, the sag nodes and the satellite, HAP and local
## tier xApps on the shipped ONNX models, as processes, in realtime slots.
run: $(STAMP_RUNTIME)
	$(BIN)/ntnric run --slot-ms 10 --slots 3000 --json out/run.json

## Lint, type-check and the whole test suite.
test: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP_DEV)
	$(BIN)/ruff check .

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

bench: $(STAMP_RUNTIME)
	$(BIN)/ntnric bench world hex19 --json out/bench_world_hex19.json

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
