# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install test test-lowest demo bench clean-demo screenshots

$(INSTALLED): setup.py
	@echo "==> creating $(VENV) and installing lateral with its pinned dependencies"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(INSTALLED)

install: $(INSTALLED)

test: $(INSTALLED)
	$(BIN)/python -m pytest -q tests

# The lowest versions setup.py allows, in .venv-lowest: imports and a smoke subset (downloads ~1 GB).
test-lowest:
	PYTHON=$(PYTHON) tools/lowest_versions.sh .venv-lowest

# The README's screenshots, taken by the review page's browser test (needs Debian's chromium).
screenshots: $(INSTALLED)
	LATERAL_SCREENSHOTS=docs $(BIN)/python -m pytest -q tests/gallery/review/test_browser.py

demo: $(INSTALLED)
	$(BIN)/python -m lateral.demo

bench: $(INSTALLED)
	$(BIN)/python bench/preprocess.py
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/stage2.py
	$(BIN)/python bench/evaluate.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/review.py
	$(BIN)/python bench/protection.py  # needs the demo's model: run make demo first
	$(BIN)/python bench/open_set.py  # needs the demo's model too

clean-demo:
	rm -rf demo_run checkpoints/synthetic_stage1 logs/synthetic_stage1 checkpoints/synthetic_iom logs/synthetic_iom
