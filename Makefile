# Two entry points (see README): `make reproduce` (main job) and `make test` (test suite, which
# also builds the documentation); `make docs` builds the documentation alone.
# Both create .venv with the pinned versions in constraints.txt on first use.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= results/quick

.PHONY: setup test test-slow reproduce reproduce-full bench docs

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[test]"
	touch $@

# One BLAS thread per pytest worker: two workers on two cores, no oversubscription.
test: setup
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 -q

test-slow: setup
	$(BIN)/python -m pytest -q -m slow

reproduce: setup
	$(BIN)/limetheory reproduce --quick --out $(OUT)

reproduce-full: setup
	$(BIN)/limetheory reproduce --out results/full

# The documentation site (warnings are errors; the tutorials are executed): docs/_build/html.
# make test builds it too, in tests/test_docs.py.
docs: setup
	rm -rf docs/api/generated  # autosummary rewrites its pages but never deletes a removed module's
	$(BIN)/python -m sphinx -b html -W --keep-going -E docs docs/_build/html

bench: setup
	$(BIN)/python benchmarks/bench_explain.py
	$(BIN)/python benchmarks/bench_uncertainty.py
	$(BIN)/python benchmarks/bench_model_overhead.py
