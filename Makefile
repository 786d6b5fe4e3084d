# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO_DIR ?= demo_run

.PHONY: install test demo bench clean-demo

$(INSTALLED): setup.py
	@echo "==> creating $(VENV) and installing lateral with its pinned dependencies"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(INSTALLED)

install: $(INSTALLED)

test: $(INSTALLED)
	$(BIN)/python -m pytest -q tests

demo: $(INSTALLED)
	$(BIN)/python -m lateral.demo --workdir $(DEMO_DIR)

bench: $(INSTALLED)
	$(BIN)/python bench/preprocess.py

clean-demo:
	rm -rf $(DEMO_DIR)
