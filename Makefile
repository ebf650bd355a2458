# The README's commands. Everything runs from a virtualenv in .venv (created on demand).
#   make lab     set up, create a demo session, open JupyterLab on the quickstart
#   make demo    set up, create a demo session, list sessions (headless)
#   make test    set up, start QuestDB, run the whole test suite and the notebooks
#   make test-fast   the edit loop: DuckDB only, no slow-marked tests, 3 workers (~2 min)
#   make bench   run the benchmarks (figures in benchmarks/results/)
#   make questdb / make questdb-stop   a local QuestDB for development (default ports
#                9000/8812; move them with QDB_HTTP_PORT, QDB_PG_PORT, ...: scripts/questdb)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup lab demo test test-fast notebooks bench questdb questdb-stop lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "tsanalysis needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[lab,test,browser,dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/tsanalysis demo --hours 4
	$(BIN)/tsanalysis sessions list

# The notebooks use a temporary store unless TSANALYSIS_NOTEBOOK_DB names one: the lab
# shows the default store (with its demo session). The lab's URL (opened, or printed with
# --no-browser) is the quickstart's. LAB_ARGS: e.g. --no-browser --port=8899
LAB_ARGS ?=
lab: setup
	$(BIN)/tsanalysis sessions list --json | $(BIN)/python -c 'import json,sys; sys.exit(0 if any(s["status"] == "completed" and "demo" in s["metadata"] for s in json.load(sys.stdin)) else 1)' \
		|| $(BIN)/tsanalysis demo --hours 4
	cd notebooks && TSANALYSIS_NOTEBOOK_DB=default ../$(BIN)/jupyter lab \
		--LabApp.default_url=/lab/tree/quickstart.ipynb \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

NBVAL := --nbval-lax --nbval-current-env -p no:cacheprovider

# A private QuestDB on free ports for the run, stopped afterwards even on failure; the
# suite runs against it and DuckDB (scripts/with-questdb) on two pytest-xdist workers (the
# tests that reach the server on one of them: tests/conftest.py), then the runbooks run a
# second time with the server as their store.
test: setup
	TSANALYSIS_REQUIRE_BROWSER=1 PYTHON=$(PYTHON) scripts/with-questdb sh -c '\
		$(BIN)/python -m pytest tests notebooks $(NBVAL) -n 2 --dist loadgroup --durations=25 && \
		TSANALYSIS_NOTEBOOK_DB="$$TSANALYSIS_TEST_QUESTDB" \
			$(BIN)/python -m pytest notebooks $(NBVAL)'
	$(BIN)/python -m pip install --quiet -e plugins/tsanalysis-talib && $(BIN)/python -m pytest plugins/tsanalysis-talib -p no:cacheprovider

# The edit loop: the DuckDB half, without the slow-marked tests, the browser and the
# runbooks, on three pytest-xdist workers (quicker than two on 2 cores: tests also wait on
# files and child processes); `make test` is the whole suite, as CI runs it.
test-fast: setup
	env -u TSANALYSIS_TEST_QUESTDB $(BIN)/python -m pytest tests -m "not slow and not browser" \
		-n 3 -x -q -p no:cacheprovider

notebooks: setup
	$(BIN)/python -m pytest notebooks tests/test_notebooks.py $(NBVAL)

bench: setup
	$(BIN)/python benchmarks/bench_core.py
	$(BIN)/python benchmarks/bench_export.py
	$(BIN)/python benchmarks/bench_migrate.py
	$(BIN)/python benchmarks/bench_quality.py
	$(BIN)/python benchmarks/bench_indicators.py
	$(BIN)/python benchmarks/bench_backtest.py
	PYTHON=$(PYTHON) scripts/with-questdb sh -c '$(BIN)/python benchmarks/bench_questdb.py && \
		$(BIN)/python benchmarks/bench_concurrent_delete.py --deletes 100 && \
		$(BIN)/python benchmarks/bench_backtest.py --url "$$TSANALYSIS_TEST_QUESTDB" && \
		$(BIN)/python benchmarks/bench_selective_delete.py --url "$$TSANALYSIS_TEST_QUESTDB"'

questdb:
	scripts/questdb start

questdb-stop:
	scripts/questdb stop

lint: setup
	$(BIN)/ruff check tsanalysis tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
