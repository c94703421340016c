"""Benchmarks that report ratios measured in one run, so the numbers survive a noisy machine.

`rollouts`: the batched engine against a one-rollout-at-a-time loop (a `MetaEnv` per
rollout and a NumPy policy, the way a gym user would write it) over the SAME rollouts:
same parameters, tasks, seeds and horizon. The loop may run a prefix of the rollouts to
bound its time; the rates are per env-step either way, and the loop's returns are checked
against the engine's.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from workbench.policies import PolicySpec
from workbench.rollout import evaluate
from workbench.tasks import make_family


def numpy_policy(spec: PolicySpec, theta: np.ndarray):
    """A single policy as a NumPy closure `obs [obs_dim] -> action [act_dim]`."""
    layers, at = [], 0
    for fan_in, fan_out in spec.layer_sizes:
        w = theta[at:at + fan_in * fan_out].reshape(fan_in, fan_out)
        at += fan_in * fan_out
        layers.append((w, theta[at:at + fan_out]))
        at += fan_out
    hidden = np.tanh if spec.activation == "tanh" else (lambda x: np.maximum(x, 0.0))

    def act(obs: np.ndarray) -> np.ndarray:
        x = obs
        for i, (w, b) in enumerate(layers):
            x = x @ w + b
            x = np.tanh(x) if i == len(layers) - 1 else hidden(x)
        return x
    return act


def bench_rollouts(task: str, rollouts: int = 3000, horizon: int | None = None,
                   policy: str = "L", threads: int | None = None, loop_rollouts: int = 300,
                   repeats: int = 3, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    family = make_family(task)
    horizon = horizon or family.default_horizon
    spec = PolicySpec.from_name(policy, family.obs_dim, family.act_dim)
    g = torch.Generator().manual_seed(seed)
    # Perturbed copies of one initial policy: a realistic ES population.
    thetas = spec.init(g) + 0.1 * torch.randn(rollouts, spec.num_params, generator=g)
    tasks = family.sample_tasks(rollouts, g)
    seeds = torch.arange(rollouts)

    evaluate(spec, family, thetas[:8], tasks[:8], min(horizon, 5), seeds=seeds[:8])
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = evaluate(spec, family, thetas, tasks, horizon, seeds=seeds)
        best = min(best, time.perf_counter() - start)
    engine_rate = result.env_steps / best

    m = min(loop_rollouts, rollouts)
    env = family.make_env()
    loop_returns, loop_steps = np.zeros(m), 0
    start = time.perf_counter()
    for i in tqdm(range(m), desc="per-rollout loop", disable=not progress, leave=False):
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


def bench_iteration(task: str, algo: str = "es-maml", sets: list[str] | None = None,
                    repeats: int = 3, threads: int | None = None) -> dict[str, Any]:
    """Seconds per paper-scale training iteration (the algorithm's defaults), best of `repeats`.

    One warm-up iteration runs first (allocations, lazy imports). Iterations differ only in
    their random draws, so each timed one costs the same work.
    """
    from workbench import config as cfg
    from workbench.algorithm import algorithm_class

    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    cls = algorithm_class(algo)
    config = cfg.build(cls.defaults(), None, sets)
    config["task"]["name"] = task
    runner = cls(config)
    runner.train_iteration(0)
    best, steps, rollouts = float("inf"), 0, 0
    for i in range(1, repeats + 1):
        start = time.perf_counter()
        result = runner.train_iteration(i)
        elapsed = time.perf_counter() - start
        if elapsed < best:
            best, steps, rollouts = elapsed, result.env_steps, result.rollouts
    return {"task": task, "algo": algo, "backend": config["backend"], "threads": threads,
            "policy": runner.spec.describe(), "horizon": runner.horizon,
            "rollouts_per_iteration": rollouts, "seconds_per_iteration": best,
            "env_steps_per_s": steps / best}
