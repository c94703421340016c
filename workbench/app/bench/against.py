"""`workbench bench rollouts --task A --against B`: two families' simulators over the SAME
rollouts (parameters, tasks in order, seeds, horizon), e.g. the native `halfcheetah-fb`
against gymnasium's HalfCheetah-v5 through the adapter (`gym:...`).

Both must have the same observation and action sizes. Rounds alternate A and B, each path
keeps its best round, and the ratio is taken in this one run. Task i of A is paired with
task i of B (ids into each family's own table), and each family resets rollout i from
seed i its own way, so the returns agree only where the start states and task orders do;
the largest relative difference is reported, not required (the parity test in
tests/test_gym_adapter.py is where agreement is checked).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from workbench.app.bench.population import population
from workbench.app.progress import progress as progress_display
from workbench.rollout import deterministic_rollouts
from workbench.tasks import family_class, make_family


def bench_against(task: str, other: str, rollouts: int | None = None,
                  horizon: int | None = None, policy: str = "L", repeats: int = 3,
                  seed: int = 0, progress: bool = True) -> dict[str, Any]:
    torch.set_num_threads(1)
    first, second = _one_thread(task), _one_thread(other)
    if (first.obs_dim, first.act_dim) != (second.obs_dim, second.act_dim):
        raise ValueError(f"--against needs the same observation and action sizes: {task} has "
                         f"({first.obs_dim}, {first.act_dim}), {other} "
                         f"({second.obs_dim}, {second.act_dim})")
    rollouts = rollouts or first.bench_rollouts
    horizon = horizon or first.default_horizon
    spec, thetas, tasks, seeds = population(first, policy, rollouts, seed)
    other_tasks = second.train_ids[torch.arange(rollouts) % len(second.train_ids)]
    runs = ((task, first, tasks), (other, second, other_tasks))
    for _, family, ids in runs:  # warm-up: builds pools, loads models
        deterministic_rollouts(spec, family, thetas[:4], ids[:4], 5, seeds=seeds[:4])
    best = {task: float("inf"), other: float("inf")}
    out: dict[str, Any] = {}
    for _ in progress_display(range(repeats), enabled=progress, desc=f"{task} vs {other}",
                              total=repeats, leave=False):
        for name, family, ids in runs:
            start = time.perf_counter()
            result = deterministic_rollouts(spec, family, thetas, ids, horizon, seeds=seeds)
            best[name] = min(best[name], time.perf_counter() - start)
            out[name] = result
    rate = {name: out[name].env_steps / best[name] for name in best}
    a, b = out[task].returns.double(), out[other].returns.double()
    return {
        "task": task, "against": other, "rollouts": rollouts, "horizon": horizon,
        "policy": policy, "threads": 1, "steps_per_s": rate[task],
        "against_steps_per_s": rate[other], "task_over_against": rate[task] / rate[other],
        "max_rel_return_diff": float(((a - b).abs() / a.abs().clamp(min=1.0)).max()),
    }


def _one_thread(name: str):
    """The family `name`, its physics on one thread where it has a thread setting."""
    one = {"nthread": 1} if "nthread" in family_class(name).Params.keys() else {}
    return make_family(name, **one)
