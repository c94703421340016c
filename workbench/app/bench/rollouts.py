"""`workbench bench rollouts`: the batched engine against a per-rollout loop (see the
package docstring); MuJoCo tasks go to `workbench.app.bench.mujoco`."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from workbench.app.bench.mujoco import bench_mujoco_rollouts
from workbench.app.bench.population import numpy_policy, population
from workbench.app.progress import progress as progress_display
from workbench.config import usable_cpus
from workbench.rollout import deterministic_rollouts
from workbench.tasks import family_class, make_family


def bench_rollouts(task: str, rollouts: int | None = None, horizon: int | None = None,
                   policy: str = "L", threads: int | None = None, loop_rollouts: int = 300,
                   repeats: int = 3, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Engine vs per-rollout loop (2-D and CartPole tasks; 3000 rollouts by default).

    MuJoCo tasks go to `bench_mujoco_rollouts` (engine vs raw replay vs gymnasium).
    """
    if family_class(task).simulator == "mujoco":
        return bench_mujoco_rollouts(task, rollouts, horizon, policy, threads, loop_rollouts,
                                     seed=seed, progress=progress)
    rollouts = rollouts or 3000
    threads = threads or usable_cpus()
    torch.set_num_threads(threads)
    family = make_family(task)
    horizon = horizon or family.default_horizon
    spec, thetas, tasks, seeds = population(family, policy, rollouts, seed)

    deterministic_rollouts(spec, family, thetas[:8], tasks[:8], min(horizon, 5), seeds=seeds[:8])
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = deterministic_rollouts(spec, family, thetas, tasks, horizon, seeds=seeds)
        best = min(best, time.perf_counter() - start)
    engine_rate = result.env_steps / best

    m = min(loop_rollouts, rollouts)
    env = family.make_env()
    loop_returns, loop_steps = np.zeros(m), 0
    start = time.perf_counter()
    for i in progress_display(range(m), enabled=progress, desc="per-rollout loop", total=m,
                              leave=False):
        act = numpy_policy(spec, thetas[i].double().numpy())
        env.set_task(int(tasks[i]))
        obs, _ = env.reset(seed=int(seeds[i]))
        for _ in range(horizon):
            obs, reward, done, _, _ = env.step(act(obs))
            loop_returns[i] += reward
            loop_steps += 1
            if done:
                break
    loop_rate = loop_steps / (time.perf_counter() - start)
    diff = np.abs(loop_returns - result.returns[:m].double().numpy())
    scale = np.maximum(1.0, np.abs(loop_returns))
    return {
        "task": task, "rollouts": rollouts, "horizon": horizon, "threads": threads,
        "policy": policy, "engine_steps_per_s": engine_rate, "loop_rollouts": m,
        "loop_steps_per_s": loop_rate, "engine_over_loop": engine_rate / loop_rate,
        "loop_vs_engine_max_rel_diff": float((diff / scale).max()),
    }
