# Two commands matter: `make demo` and `make test`. Every target installs what it needs
# first; the install is stamped, so a second `make install` only checks timestamps.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNS ?= runs

.PHONY: install test demo bench clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): setup.cfg pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q

demo: install
	$(BIN)/workbench bench rollouts --task four-corners --rollouts 3000

bench: install
	$(BIN)/workbench bench rollouts --task four-corners --rollouts 3000
	$(BIN)/workbench bench rollouts --task cartpole-biased --rollouts 3000

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
