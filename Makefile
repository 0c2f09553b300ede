# Thin wrappers. Everything runs from the project's own virtualenv in .venv,
# which `make install` creates from nothing but Python 3 and pip. Another host
# Python gets its own virtualenv: `make PYTHON=python3.12 VENV=.venv-3.12 test`
# (.ci/run does this for 3.11, 3.12 and 3.13).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install bytecode demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; print(sys.version.split()[0])' > $(VENV)/.python
	@$(PYTHON) -c 'import sys; print(sys.version.split()[0])' | cmp -s - $(VENV)/.python || { \
	    echo "$(VENV) holds Python $$(cat $(VENV)/.python), not $(PYTHON)'s: use another VENV= or make clean" >&2; \
	    exit 1; }
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./packaging/chaosthundra
	touch $(STAMP)

# pip writes no bytecode for an editable install, and where PYTHONDONTWRITEBYTECODE is
# set (as on some CI machines) the interpreter writes none either: every `chaos run`
# would compile chaosthundra again (~0.1 s). compileall skips what is up to date.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q chaosthundra

demo: bytecode
	$(BIN)/chaosthundra gameday gameday.yaml --report reports/demo

test: bytecode
	$(BIN)/python -m pytest -n auto --dist worksteal

lint: $(STAMP)
	$(BIN)/ruff check chaosthundra tests functions benchmarks
	$(BIN)/ruff format --check chaosthundra tests functions benchmarks

bench: bytecode
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .venv-3.* build *.egg-info .pytest_cache .hypothesis journals reports
