# labourkb — `make serve` sets up, ingests the corpus and serves; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# the corpus `make serve` ingests and `labourkb rebuild` reads (an installed labourkb has no default)
LABOURKB_CORPUS_DIR ?= $(abspath ../shared/corpus)
export LABOURKB_CORPUS_DIR

.PHONY: setup serve test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "labourkb needs Python 3.11 or later"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/labourkb model fetch
	touch $@

serve: setup
	$(BIN)/labourkb ingest
	$(BIN)/labourkb serve --host $(HOST) --port $(PORT)

test: setup
	bash scripts/test.sh

bench: setup
	$(BIN)/python bench/ingest_throughput.py
	$(BIN)/python bench/search_latency.py
	$(BIN)/python bench/relevance.py

clean:
	rm -rf $(VENV) data test-artifacts
