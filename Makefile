# The two commands a new user needs: `make eval` (set up, pull, run the Q&A evals on the
# embedded stack) and `make test` (the harness's own tests). Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
ARGS ?=

.PHONY: setup eval test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $@

eval: setup
	$(PY) -m stackeval pull $(if $(MODELS),--models $(MODELS))
	$(PYTEST) evals/ -m qa $(if $(MODELS),--models $(MODELS)) $(ARGS)

test: setup
	$(PYTEST) tests/ $(ARGS)

lint: setup
	$(VENV)/bin/ruff check stackeval tests evals

clean:
	rm -rf reports/runs reports/stack reports/allure-results
