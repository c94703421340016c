"""2-D paths from finished runs, for the exploration figures (Fig. 1a, Fig. 2, Fig. A4).

`adapted_paths` replays a run's test evaluation from its latest checkpoint (the adapted
policy's path on each test task). `exploration_paths` draws what the meta-policy does
while it gathers its K adaptation samples: ES-MAML's K perturbed policies
theta + sigma * g_k (deterministic rollouts), or PG-MAML's K stochastic rollouts of the
Gaussian meta-policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from workbench.run import load_run

#: Seed of the exploration pictures' perturbations and rollouts (fixed: pictures are
#: reproducible).
PICTURE_SEED = 20200426


def adapted_paths(run_dir: Path) -> tuple[Any, Tensor, Tensor]:
    """(family, positions [T + 1, n, 2], task ids [n]) of the adapted policies, one per
    distinct test task."""
    algo, _, iteration, _ = load_run(run_dir)
    try:
        with torch.no_grad():
            result = algo.evaluate(iteration, record=True)
    finally:
        algo.close()  # a run trained on Ray evaluates there too; free its actors
    if result.trajectories is None:
        raise ValueError(f"{run_dir}: task {algo.family.name} records no 2-D positions")
    return algo.family, result.trajectories, result.trajectory_tasks


def exploration_paths(run_dir: Path, tasks: list[int]) -> list[Tensor]:
    """For each task, the K exploration paths `[T + 1, K, 2]` of the meta-policy."""
    algo, _, _, _ = load_run(run_dir)
    try:
        return [algo.exploration_samples(int(task), PICTURE_SEED) for task in tasks]
    finally:
        algo.close()


def endpoint_spread(paths: Tensor) -> float:
    """Mean pairwise distance between the K paths' final positions (how differently the
    K exploration samples move)."""
    end = paths[-1].to(torch.float64)
    d = torch.cdist(end, end)
    k = end.shape[0]
    return float(d.sum() / max(k * (k - 1), 1))


def goals(family, task: int) -> list[tuple[float, float, str]]:
    return list(family.plot_goals(int(task)))


def reached(path: np.ndarray, family, task: int, radius_sq: float = 0.01) -> tuple[int, int]:
    """(correct goals the path came within sqrt(radius_sq) of, correct goals in the task)."""
    targets = [(x, y) for x, y, kind in goals(family, task) if kind == "goal"]
    hits = sum(bool((((path - np.array(t)) ** 2).sum(-1) < radius_sq).any()) for t in targets)
    return hits, len(targets)


def exploration_panels(run_dir: Path, who: str, count: int,
                       name=lambda task: f"task {task}") -> list[tuple]:
    """Panels for `plots.trajectories`: on each of the first `count` test tasks, the K
    exploration paths (red) and the adapted policy's path (blue)."""
    family, pos, tasks = adapted_paths(run_dir)
    tasks = [int(t) for t in tasks[:count]]
    panels = []
    for i, (task, explore) in enumerate(zip(tasks, exploration_paths(run_dir, tasks))):
        lines = [(explore[:, k].numpy(), "tab:red") for k in range(explore.shape[1])]
        lines.append((pos[:, i].numpy(), "tab:blue"))
        panels.append((f"{who}, {name(task)}", family, lines, goals(family, task)))
    return panels
