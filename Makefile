# Thin wrappers. Everything runs from the project's own virtualenv in .venv,
# which `make install` creates from nothing but Python 3 and pip.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./packaging/chaosthundra
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/chaosthundra gameday gameday.yaml --report reports/demo

test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check chaosthundra tests functions benchmarks
	$(BIN)/ruff format --check chaosthundra tests functions benchmarks

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis journals reports
