# The commands CI runs (.ci/run), for running by hand.
VENV ?= .venv
BIN := $(VENV)/bin

DIST ?= dist

.PHONY: install lint format typecheck test check bench dist

install:
	python3 -m venv $(VENV) && $(BIN)/pip install -q -e '.[dev]'

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format:
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

typecheck:
	$(BIN)/mypy

test:
	$(BIN)/python -m pytest

check: lint typecheck test

dist:  # the sdist and the wheel to publish (`twine upload $(DIST)/*`), checked by twine
	rm -rf $(DIST) && $(BIN)/python -m build --outdir $(DIST) . && $(BIN)/twine check --strict $(DIST)/*

bench:  # by hand, not in CI: timings on a shared machine are noisy
	$(BIN)/python bench/b3_compile.py && $(BIN)/python bench/b3_render.py && \
	$(BIN)/python bench/b4_startup.py && $(BIN)/python bench/b5_apply.py
