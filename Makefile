# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install test test-onednn-off test-lowest smoke demo docs walkthrough bench clean-demo screenshots

$(INSTALLED): setup.py
	@echo "==> creating $(VENV) and installing lateral with its pinned dependencies"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(INSTALLED)

install: $(INSTALLED)

# Two worker processes (pytest-xdist), each test file on one of them: about 7.5 minutes on 2 cores instead of 11.
WORKERS ?= 2
test: $(INSTALLED)
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile tests

# The tests whose numbers come from TensorFlow's float kernels and meet a reference (marked `kernels`: the models,
# losses and evaluation reports against their formulas, stage two's codes, the gallery's encodings, its FPIR
# thresholds and recalibration), again with oneDNN off, as a CPU without AVX-512 runs them: CI runs this after
# `make test`. The other tests compare a run with another run on the same kernels, or check behaviour rather than
# numbers; `TF_ENABLE_ONEDNN_OPTS=0 make test` runs everything.
test-onednn-off: $(INSTALLED)
	TF_ENABLE_ONEDNN_OPTS=0 $(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile -m kernels tests

# Both entry scripts with --smoke (the demo's configs shrunk by config.smoke: one epoch of two steps) on a few
# synthetic photos in a fresh folder, each within a minute: CI runs this after `make test`.
smoke: $(INSTALLED)
	PYTHON=$(CURDIR)/$(BIN)/python tools/smoke.sh

# The lowest versions setup.py allows, in .venv-lowest: imports and a smoke subset (downloads ~1 GB).
test-lowest:
	PYTHON=$(PYTHON) tools/lowest_versions.sh .venv-lowest

# The README's screenshots, taken by the review page's browser test on the gallery of a `make demo` run (run that
# first; needs Debian's chromium).
screenshots: $(INSTALLED)
	LATERAL_SCREENSHOTS=docs $(BIN)/python -m pytest -q tests/gallery/review/test_browser.py -k readme_screenshots

demo: $(INSTALLED)
	$(BIN)/python -m lateral.demo

# The documentation site into site/ (strict: a broken link, or a config key without a meaning, fails).
docs: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict

# README's "Your own photos, step by step" on synthetic photos in a fresh folder (training with --smoke).
walkthrough: $(INSTALLED)
	PYTHON=$(CURDIR)/$(BIN)/python LATERAL=$(CURDIR)/$(BIN)/lateral tools/walkthrough.sh

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
