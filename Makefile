# The two commands a new user needs: `make eval` (set up, pull, run the Q&A evals on the
# embedded stack) and `make test` (the harness's own tests). Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
ARGS ?=

.PHONY: setup eval test lint clean report

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

# The comparison report (reports/comparison/<run>/report.{md,html}) and the Allure 3 HTML
# report (reports/allure-report/index.html) of the latest run; opens nothing by itself.
report: setup node_modules/.package-lock.json
	$(PY) -m stackeval report $(ARGS)

# Allure 3 from npm, at the version pinned in package-lock.json.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

lint: setup
	$(VENV)/bin/ruff check stackeval tests evals benchmarks

clean:
	rm -rf reports/runs reports/stack reports/allure-results

# Web UI evals (`pytest -m webui`): Open WebUI in its own venv (~2-4 min, ~7 GB; its pins clash
# with ours) and Playwright's Python API. The browser is Debian's chromium, never downloaded.
.PHONY: webui-setup
webui-setup: setup
	$(PY) -m stackeval.stack.webui install --venv .venv-webui
	$(PY) -m pip install -q 'playwright==1.65.2'
