# Two commands set up a fresh machine: `make run` opens the window, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint format bench venv clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Threadscope needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

run: $(STAMP)
	@bash scripts/qt-deps.sh window
	$(VENV)/bin/threadscope

test: $(STAMP) lint
	@bash scripts/qt-deps.sh offscreen
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

# ruff, the import contracts (core below gui, core's own layers), and mypy (strict for core).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

BENCH_STAMP := $(VENV)/.bench-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	rm -f $(VENV)/.bench-* && touch $@

# Writes BENCHMARKS.md and assets/bench/*.png; nginx serves the zero-latency runs.
bench: $(BENCH_STAMP)
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; \
		else echo "nginx is missing; run: sudo apt-get install -y nginx"; fi; }
	@bash scripts/qt-deps.sh offscreen
	QT_QPA_PLATFORM=offscreen $(PY) -m bench.run
	# The long soak of issue 6: 100 start/stop cycles, threads/files flat and RSS within 5 %.
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m soak tests/test_soak.py -q -s -p no:cacheprovider

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .import_linter_cache
