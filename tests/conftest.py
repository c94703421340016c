"""Shared test setup: the `slow` marker and the tiny run configs several test files use.

`make test` runs everything, on two worker processes (pytest-xdist, `--dist loadgroup`).
For a fast loop while developing, leave out the tests marked `slow` (the Ray backend,
training on MuJoCo, every figure at smoke scale):

    .venv/bin/python -m pytest -q -m "not slow"

Tests are independent of their order and of the worker that runs them. What several tests
share is trained once per session: `smoke_reproduction` (every figure at smoke scale) is
trained by the first worker that asks and read by the others; a test that writes into it
takes a copy (`smoke_copy`). The tests that use it share the xdist group "smoke", so that
one worker trains it while the other does other work.

The configs below are `--set key=value` strings; `set_args` turns a list of them into
command-line arguments. Import them with `from tests.conftest import ...`.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Iterable

import pytest

#: ES-MAML on a 2-D task at the smallest size that still runs every phase: 8 perturbed
#: points and 8 current evaluations, K = 3 queries, horizon 20, evaluation and a checkpoint
#: every 2 iterations.
ES_TINY = ["num_perturbations=8", "num_current_evals=8", "K=3", "horizon=20", "eval_every=2",
           "eval_adaptations=8", "checkpoint_every=2"]

#: ES-MAML on a MuJoCo task: 2 iterations of 2 + 2 points, K = 2, horizon 10, linear
#: policy, evaluated after each iteration.
MUJOCO_TINY = ["iterations=2", "num_perturbations=2", "num_current_evals=2", "K=2",
               "horizon=10", "eval_every=1", "eval_adaptations=2", "policy=L"]

#: ES-MAML on the Ray backend: 96 points (two 64-row chunks) and 480 queries per phase, so
#: every phase has work for both actors of a 2-CPU cluster. The first four entries are the
#: population and policy alone (what `bench iteration` takes).
RAY_SMOKE = ["num_perturbations=48", "num_current_evals=48", "K=4", "policy=L", "eval_every=2",
             "eval_adaptations=70", "checkpoint_every=2"]


def set_args(sets: Iterable[str]) -> list[str]:
    """`["a=1", "b=2"]` -> `["--set", "a=1", "--set", "b=2"]`."""
    return [arg for s in sets for arg in ("--set", s)]


if os.environ.get("PYTEST_XDIST_WORKER"):
    # One core per worker: torch's intra-op threads (and those of the processes a test
    # starts) would compete with the other worker's.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "slow: Ray, MuJoCo training or all-figures tests; deselect with "
                   "-m \"not slow\" (make test runs them)")


#: The xdist group of the tests that read `smoke_reproduction` (one worker trains it).
SMOKE_GROUP = pytest.mark.xdist_group("smoke")
#: The xdist group of the tests that use `ray_cluster` (one worker starts Ray, once).
RAY_GROUP = pytest.mark.xdist_group("ray")


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray instance of 2 CPUs for the whole session (about 15 s to start, so it is
    started once); runs whose backend finds it connected use it. Yields its GCS address."""
    import logging

    ray = pytest.importorskip("ray", reason="ray is not installed (pip install -e '.[ray]')")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _session_root(tmp_path_factory) -> Path:
    """A folder every worker of this pytest session sees (the base of their temp dirs)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


#: In the smoke reproduction: {PNG name: the layout fault `tests.layout.check_layout` found
#: in that figure as it was saved, or ""}.
LAYOUT_FAULTS = "layout-faults.json"


@pytest.fixture(scope="session")
def smoke_reproduction(tmp_path_factory) -> Path:
    """`workbench reproduce all --scale smoke`, trained once for the whole session: the first
    worker to take the lock trains it, any other finds it done. Every figure it saves is
    checked as it is saved (LAYOUT_FAULTS). Read it; do not write (see `smoke_copy`)."""
    root = _session_root(tmp_path_factory)
    out = root / "smoke-reproduction"
    with (root / "smoke-reproduction.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / ".complete").is_file():
            shutil.rmtree(out, ignore_errors=True)
            faults = _reproduce_checking_layout(out)
            (out / LAYOUT_FAULTS).write_text(json.dumps(faults, indent=1))
            (out / ".complete").touch()
    return out


def _reproduce_checking_layout(out: Path) -> dict[str, str]:
    from reproductions import plots
    from tests.layout import check_layout
    from workbench.app.cli import main

    faults: dict[str, str] = {}
    save = plots.save_figure

    def checked(fig, path):
        saved = save(fig, path)  # first: measuring extents may lay the figure out again
        try:
            check_layout(fig, Path(path))
            faults[Path(path).name] = ""
        except AssertionError as err:
            faults[Path(path).name] = str(err) or "layout check failed"
        return saved

    plots.save_figure = checked
    try:
        assert main(["reproduce", "all", "--scale", "smoke", "--quiet", "--out", str(out)]) == 0
    finally:
        plots.save_figure = save
    return faults


@pytest.fixture
def smoke_copy(smoke_reproduction, tmp_path) -> Path:
    """A private copy of `smoke_reproduction` for a test that writes into it."""
    return Path(shutil.copytree(smoke_reproduction, tmp_path / "smoke",
                                ignore=shutil.ignore_patterns(".complete")))
