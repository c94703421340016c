"""Execution backends: where an algorithm's rollouts run (docs/design.md §2, docs/distributed.md).

- `local` (the default): in this process, nothing to start.
- `ray`: every phase's rollouts split over Ray actors, each with its own batched simulators
  (`workbench.backends.ray_backend`); the same seed gives the same numbers as `local`.

An algorithm gets its backend from the config (`backend`, `ray_address`, `ray_actors`,
`ray_actor_cpus`) and wraps its objective with `backend.objective(...)`. The run loop starts
the backend before training (so that Ray's own signal handlers are installed before the
run loop's), drains its events into TensorBoard and metrics after each iteration, and
closes it at the end.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, Callable

import torch
from torch import Tensor

from workbench.obs_normalization import Normalizer
from workbench.objective import Objective
from workbench.policies import PolicySpec
from workbench.registry import Registry, import_attr
from workbench.seeding import derive_many

#: Backend name -> `module:Class`.
BACKENDS = Registry("backend", "workbench.backends", {
    "local": "workbench.backends:Backend",
    "ray": "workbench.backends.ray_backend:RayBackend",
})
RAY_INSTALL_HINT = "pip install -e '.[ray]'  (or make install)"


class Backend:
    """The local backend: objectives run in this process; no events, nothing to close."""

    name = "local"
    #: Counters the run loop keeps (cumulative, checkpointed) and writes to metrics.jsonl.
    counter_keys: tuple[str, ...] = ()

    def start(self) -> None:
        """Connect to whatever the backend needs (a no-op locally)."""

    def objective(self, objective: Objective, task: dict[str, Any]) -> Objective:
        """The objective to evaluate through; `task` is the config's `task` section, from
        which a remote worker rebuilds the same task family."""
        return objective

    def sampler(self, fn: str, merge: Callable[[list[Any]], Any], spec: PolicySpec,
                family: Any, horizon: int, K: int, dtype: torch.dtype,
                task: dict[str, Any]) -> "TrajectorySampler":
        """A trajectory sampler for the policy-gradient baselines: `fn` names (as
        `module:function`, so that workbench never imports the baselines) a function
        `fn(spec, family, params [n, P], tasks [n], K, horizon, seeds [n K], normalizer,
        record=..., dtype=..., stop_when_done=...)`; `merge` joins the results of
        consecutive task slices into the one result of all tasks (used where the tasks are
        split over workers). Locally: one call in this process."""
        return TrajectorySampler(fn, spec, family, horizon, K, dtype)

    def drain_events(self) -> list[tuple[str | None, str]]:
        """Events since the last call (e.g. a worker lost and replaced): `(counter key or
        None, text)`; an event with a key adds 1 to that counter."""
        return []

    def close(self) -> None:
        """Release workers and connections."""


def import_function(name: str) -> Callable[..., Any]:
    """`module:function` -> the function (`workbench.registry.import_attr`)."""
    return import_attr(name, "function")


class TrajectorySampler:
    """K stochastic rollouts of each task's own parameters, seeded from one int: rollout j
    (task-major, `n K` in all) gets seed `derive_many(seed, j)`. Runs in this process."""

    def __init__(self, fn: str, spec: PolicySpec, family: Any, horizon: int, K: int,
                 dtype: torch.dtype) -> None:
        self.fn, self.spec, self.family = fn, spec, family
        self.horizon, self.K, self.dtype = horizon, K, dtype
        self._fn = import_function(fn)

    def __call__(self, params: Tensor, tasks: Tensor, seed: int,
                 normalizer: Normalizer | None = None, record: bool = False) -> Any:
        seeds = derive_many(seed, torch.arange(len(tasks) * self.K))
        return self._fn(self.spec, self.family, params, tasks, self.K, self.horizon, seeds,
                        normalizer, record=record, dtype=self.dtype)

    def counters(self) -> dict[str, float]:
        """Cumulative diagnostics (bytes, seconds, actors); none locally."""
        return {}


def check_backend(name: Any, supported: tuple[str, ...] | None = None,
                  algo: str | None = None) -> str:
    """`name` if it is a backend this algorithm supports, else a one-line ValueError."""
    BACKENDS.check(name)
    if supported is not None and name not in supported:
        raise ValueError(f"backend {name!r} is not available for {algo or 'this algorithm'} "
                         f"(it runs on: {', '.join(supported)})")
    if name == "ray" and importlib.util.find_spec("ray") is None:
        raise ValueError(f"backend 'ray' needs Ray, which is not installed: "
                         f"{RAY_INSTALL_HINT}")
    return name


def make_backend(config: dict[str, Any], supported: tuple[str, ...] | None = None,
                 algo: str | None = None) -> Backend:
    """The config's backend (not yet connected: `start` happens on first use)."""
    name = check_backend(config.get("backend", "local"), supported, algo)
    backend_cls = BACKENDS.load(name)
    if name == "local":
        return backend_cls()
    address = config.get("ray_address")
    return backend_cls(address=str(address) if address else None,
                       actors=int(config.get("ray_actors") or 0),
                       actor_cpus=int(config.get("ray_actor_cpus") or 1))


__all__ = ["BACKENDS", "Backend", "TrajectorySampler", "check_backend", "import_function",
           "make_backend"]
