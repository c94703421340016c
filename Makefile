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
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,ray]'
	touch $(STAMP)

# Two worker processes (pytest-xdist), one per core; tests of one xdist_group share a worker
# (tests/conftest.py). The 15 slowest tests are listed at the end (setup.cfg).
test: install
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

# About 2-3 minutes on 2 cores: hill-climbing ES-MAML with a one-hidden-layer ReLU policy learns
# Four Corners (measured at commit 30272f2: test return -390 before adaptation, -129 after, in
# 134 s; the zero policy scores -400, the best task-blind policy about -310).
demo: install
	$(BIN)/workbench train --algo es-maml --task four-corners --set adaptation=hc \
		--set policy=H --set K=20 --set iterations=400 --set eval_every=50 \
		--out $(RUNS)/demo-$$(date +%Y%m%d-%H%M%S)

bench: install
	$(BIN)/workbench bench rollouts --task four-corners --rollouts 3000
	$(BIN)/workbench bench rollouts --task cartpole-biased --rollouts 3000
	$(BIN)/workbench bench iteration --task four-corners --set policy=L

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
