# Each target creates .venv and installs what it needs, so a fresh clone needs only Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format bench archive clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## replay the bundled archive into demo.db and show what it found
	$(BIN)/presswatch demo

test: $(STAMP)  ## lint, then the whole test suite (what CI runs)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

archive: $(STAMP)  ## rebuild demo/presswatch-demo.warc.gz from the readable files
	$(BIN)/python demo/build_archive.py

bench: $(STAMP)  ## not run by CI: see bench/README.md
	$(BIN)/python bench/crawl_bench.py --articles 5000

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache demo.db demo.db-*
