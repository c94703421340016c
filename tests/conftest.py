"""Shared test setup: the `slow` marker and the tiny run configs several test files use.

`make test` runs everything. For a fast loop while developing, leave out the tests marked
`slow` (the Ray backend, training on MuJoCo, every figure at smoke scale):

    .venv/bin/python -m pytest -q -m "not slow"

The configs below are `--set key=value` strings; `set_args` turns a list of them into
command-line arguments. Import them with `from tests.conftest import ...`.
"""

from __future__ import annotations

from typing import Iterable

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


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "slow: Ray, MuJoCo training or all-figures tests; deselect with "
                   "-m \"not slow\" (make test runs them)")
