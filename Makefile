# The two commands a new user needs: `make eval` (set up, pull, run the course's whole lab on the
# embedded stack: Q&A, AI programming, a short performance sweep, then the reports) and
# `make test` (the harness's own tests). Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
ARGS ?=

.PHONY: setup eval test lint clean report

# The harness in .venv, then the embedded stack's llama.cpp server and LiteLLM gateway in a pinned
# venv of their own (~700 MB, once, under ~/.cache/stackeval/runtime; stackeval/stack/runtime.py).
# A stack start would install that venv too; here it happens up front.
setup: $(VENV)/.installed
	$(PY) -m stackeval.stack.runtime install

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev]'
	touch $@

# The lab: every Q&A question, a seeded 30-problem HumanEval sample (HUMANEVAL=0: all 164), the
# chapter-4 bash lab as the course sets it (in Chinese) and a short perf sweep per model, about
# 23 min on 2 cores; then the comparison and Allure reports, written even when models answer
# wrongly (pytest exits 1: the product working). CODING="humaneval,bashlab,python" adds our
# Python tasks, CODING_LANGS=zh,en the English bash lab (each about +3 min).
SUITES ?= qa or coding or perf
HUMANEVAL ?= 30
CODING ?= humaneval,bashlab
CODING_LANGS ?= zh
LAB_PERF ?= --perf-requests 4 --perf-max-tokens 32 --concurrency 1,4,8

eval: setup
	$(PY) -m stackeval pull $(if $(MODELS),--models $(MODELS))
	$(PYTEST) evals/ -m "$(SUITES)" --humaneval-sample $(HUMANEVAL) --coding-suites $(CODING) \
		--coding-langs $(CODING_LANGS) $(LAB_PERF) \
		$(if $(MODELS),--models $(MODELS)) $(ARGS); rc=$$?; \
	if $(MAKE) --no-print-directory node_modules/.package-lock.json; then allure=; else \
		echo "stackeval: npm failed or is missing: no Allure HTML this time"; allure=--no-allure; fi; \
	$(PY) -m stackeval report $$allure || rc=$$((rc > 1 ? rc : 2)); exit $$rc

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
