# batchgs — `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

.DEFAULT_GOAL := help
.PHONY: help install demo test lint bench bench-quick templates clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/batchgs: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@# bytecode, as a wheel install has it (an editable install compiles each module at every start
	@# when PYTHONDONTWRITEBYTECODE is set): ~0.1 s of every command's start-up
	$(BIN)/python -m compileall -q batchgs > /dev/null
	@touch $(BIN)/batchgs

install: $(BIN)/batchgs ## create .venv and install batchgs with its dev tools

demo: install ## start the sandbox, import the samples, export them back, stop the sandbox
	$(PY) scripts/demo.py

test: install ## run the whole test suite
	$(PY) -m pytest -q

lint: install ## ruff, mypy, import contracts, dependency audit
	$(BIN)/ruff check batchgs tests bench
	$(BIN)/ruff format --check batchgs tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(PY) scripts/audit.py $(BIN)/pip-audit --strict --progress-spinner off -r constraints.txt

bench: install ## run the benchmark suite (about 15 minutes); figures go to bench/results and BENCHMARKS.md
	$(PY) -m bench all

bench-quick: install ## the benchmark suite in a few minutes
	$(PY) -m bench all --quick

templates: install ## regenerate templates/ from the entity specs
	$(PY) -m batchgs.io.templates templates

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-out
