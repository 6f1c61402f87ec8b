# Two entry points for a fresh machine: `make demo` and `make test`.
# Each creates .venv on first use and reinstalls only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench browser docs

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/convoload demo

# The HTML report is tested in Debian's headless Chromium: installed here when we can (root + apt),
# otherwise those tests are skipped with a note.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "note: chromium is not installed; the browser tests will be skipped"

# Everything: unit tests, end-to-end runs with real processes, the browser checks, and the docs site
# (--strict: a broken link or page, or a reference that no longer resolves, fails; built offline into a temp dir).
test: $(STAMP) browser
	$(VENV)/bin/python -m pytest -q
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir "$$(mktemp -d)"

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# The in-process tests only (about a minute): no separate processes, no whole runs, no browser.
test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m "not slow and not e2e and not browser"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/load_suite.py
	$(VENV)/bin/python benchmarks/distributed.py
	$(VENV)/bin/python benchmarks/llm_cost.py
	$(VENV)/bin/python benchmarks/catalog_search.py
	$(VENV)/bin/python benchmarks/realestate_turns.py
