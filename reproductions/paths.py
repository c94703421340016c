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
import yaml
from torch import Tensor

from workbench.algorithm import make_family_from
from workbench.policies import PolicySpec
from workbench.rollout import deterministic_rollouts
from workbench.app.run import load_run
from workbench.app.rundir import RunDir
from workbench.tasks import make_family

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


def family_of(run_dir: Path):
    """The task family a run trained on, built from its config.yaml (no checkpoint read)."""
    config = yaml.safe_load(RunDir(run_dir).config.read_text())
    return make_family_from(config)


def stay_put_return(task: str, horizon: int | None = None, **params: Any) -> float:
    """The return of staying at the start (the zero action) on a 2-D task, mean over the
    family's tasks, measured with the rollout engine: the floor of a clipped mean and, on
    tasks whose wrong-goal penalty makes any task-blind move into a goal zone a loss in
    expectation (Six Circles, Four Corners with penalty), the best task-blind return."""
    family = make_family(task, **params)
    spec = PolicySpec.from_name("L", family.obs_dim, family.act_dim)
    n = family.num_tasks
    out = deterministic_rollouts(spec, family, torch.zeros(n, spec.num_params), torch.arange(n),
                   horizon or family.default_horizon, dtype=torch.float64)
    return float(out.returns.mean())


def open_loop_returns(task: str, waypoints: list[tuple[float, float]],
                      horizon: int | None = None, **params: Any) -> np.ndarray:
    """Per task `[num_tasks]`: the return of one task-blind path that heads for each
    waypoint in turn at full speed (the action clipped to the step limit) and then stays."""
    family = make_family(task, **params)
    n = family.num_tasks
    sim = family.make_sim(torch.arange(n), torch.float64)
    pos = sim.reset()
    total = torch.zeros(n, dtype=torch.float64)
    todo = [torch.tensor(w, dtype=torch.float64) for w in waypoints]
    for _ in range(horizon or family.default_horizon):
        while todo and torch.allclose(pos[0], todo[0]):
            todo.pop(0)
        step = (todo[0] - pos[0]) if todo else torch.zeros(2, dtype=torch.float64)
        pos, reward, _ = sim.step(step.expand(n, 2))
        total += reward
    return total.numpy()


def best_blind_clipped(task: str, floor: float, **params: Any) -> tuple[float, str]:
    """The best clipped mean (each task's return floored at `floor`) of the task-blind
    paths that stay put, visit one goal, or visit two goals in turn, and which path that
    is. Clipping rewards gambling (a wrong goal's catastrophe costs no more than staying
    put), so a clipped mean is compared with the best blind gamble, not with staying put."""
    family = make_family(task, **params)
    spots = sorted({(x, y) for t in range(family.num_tasks)
                    for x, y, _ in family.plot_goals(t)})
    candidates = [[]] + [[a] for a in spots] + [[a, b] for a in spots for b in spots if a != b]
    best = max(candidates, key=lambda w: np.maximum(
        open_loop_returns(task, w, **params), floor).mean())
    value = float(np.maximum(open_loop_returns(task, best, **params), floor).mean())
    where = " then ".join(f"({x:.2f}, {y:.2f})" for x, y in best) or "staying put"
    return value, where


def min_distances(positions: np.ndarray, tasks: np.ndarray, family,
                  kind: str) -> np.ndarray:
    """Per adaptation `[n]`: the closest any point of its path `[T + 1, n, 2]` comes to a
    goal of `kind` ("goal": a correct goal, "wrong": a wrong one) of its task (inf when the
    task has none)."""
    out = np.full(len(tasks), np.inf)
    for i, task in enumerate(np.asarray(tasks, dtype=int)):
        targets = np.array([(x, y) for x, y, k in goals(family, int(task)) if k == kind])
        if len(targets):
            d = np.linalg.norm(positions[:, i, None, :] - targets[None], axis=-1)
            out[i] = d.min()
    return out


def entered_wrong_zone(adaptations: dict[str, np.ndarray], family,
                       radius: float = 2.0) -> np.ndarray:
    """Per adaptation: its path came within `radius` of a wrong goal of its task (inside
    that goal's penalty zone, radius 2 on Four Corners and Six Circles)."""
    return min_distances(adaptations["positions"], adaptations["tasks"], family,
                         "wrong") < radius


def froze(positions: np.ndarray, radius: float) -> np.ndarray:
    """Per adaptation: the path never gets farther than `radius` from where it started."""
    return np.linalg.norm(positions - positions[:1], axis=-1).max(0) < radius


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
