"""Objectives: f_T(theta) for a whole population at once, whatever the task is.

ES-MAML treats f_T as a black box (§3.2). An `Objective` maps parameter vectors, task ids
and per-evaluation seeds to values, and reports what the evaluation cost (rollouts, env
steps) and the observation statistics it gathered. For RL families it is the rollout
engine; a supervised family (the sine task) supplies its own, which can also give exact
gradients for the `exact-gradient` adaptation operator.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch
from torch import Tensor

from workbench.obs_normalization import Normalizer
from workbench.policies import PolicySpec
from workbench.rollout import deterministic_rollouts
from workbench.tasks.base import TaskFamily


@dataclass
class Evaluation:
    values: Tensor  # [N] float64
    rollouts: int
    env_steps: int
    obs_stats: Tensor | None = None
    positions: Tensor | None = None  # [T + 1, N, 2] when recorded

    @staticmethod
    def cost_of(parts: list["Evaluation"]) -> tuple[int, int, Tensor | None]:
        """Total rollouts, env steps and merged observation statistics of several phases."""
        stats = [p.obs_stats for p in parts if p.obs_stats is not None]
        return (sum(p.rollouts for p in parts), sum(p.env_steps for p in parts),
                torch.stack(stats).sum(0) if stats else None)


class Objective(abc.ABC):
    """f_T(theta) over a population: `objective(thetas [N, D], tasks [N], seeds [N])`."""

    #: Whether `gradient` gives exact gradients (supervised objectives).
    differentiable: bool = False

    def __init__(self, spec: PolicySpec, family: TaskFamily) -> None:
        self.spec = spec
        self.family = family

    @property
    def dim(self) -> int:
        return self.spec.num_params

    @abc.abstractmethod
    def __call__(self, thetas: Tensor, tasks: Tensor, seeds: Tensor,
                 record: bool = False) -> Evaluation:
        """Values (higher is better) of `thetas[i]` on `tasks[i]`."""

    def held_out(self, thetas: Tensor, tasks: Tensor, seeds: Tensor,
                 record: bool = False) -> Evaluation:
        """Values for a test evaluation. For rollouts the same as a training evaluation; a
        supervised objective scores on held-out points instead of the support set."""
        return self(thetas, tasks, seeds, record=record)

    def with_points(self, num_points: int) -> "Objective":
        """The objective on `num_points` data points per evaluation, where its data size can
        change (a supervised task's support set); itself otherwise."""
        return self

    def counters(self) -> dict[str, float]:
        """Cumulative diagnostics of where the evaluations ran (a remote backend's bytes and
        seconds); none locally."""
        return {}

    def values(self, thetas: Tensor, tasks: Tensor, seeds: Tensor) -> Tensor:
        """The values `[N]` as a differentiable function of `thetas`, where the objective is
        differentiable (`differentiable = True`)."""
        raise ValueError(f"task {self.family.name} has no exact gradient; the "
                         f"exact-gradient operator needs a supervised task such as sine")

    def evaluation_of(self, values: Tensor) -> Evaluation:
        """The `Evaluation` (values and cost) of values computed by `values`."""
        raise ValueError(f"task {self.family.name} is not differentiable")

    def gradient(self, thetas: Tensor, tasks: Tensor, seeds: Tensor) -> tuple[Tensor, Evaluation]:
        """Exact `d values[i] / d thetas[i]`, shaped as `thetas` (`[N, D]`, or `[D]` for one
        vector; its dtype), and the values.

        One backward pass over the population sum: row i's value depends on thetas[i] only,
        so the gradient of the sum with respect to thetas[i] is the gradient of value i.
        """
        with torch.enable_grad():
            leaf = thetas.detach().clone().requires_grad_(True)
            values = self.values(leaf, tasks, seeds)
            (grads,) = torch.autograd.grad(values.sum(), leaf)
        return grads, self.evaluation_of(values)


def gradient_steps(objective: Objective, thetas: Tensor, tasks: Tensor, seeds: Tensor,
                   alpha: float, steps: int,
                   create_graph: bool = False) -> tuple[list[Tensor], list[Evaluation]]:
    """`steps` exact gradient-ascent steps `theta <- theta + alpha * grad f_T(theta)` per row,
    all on the same data (`seeds`): the points `[thetas, after 1 step, ..., after steps]`
    and each step's `Evaluation` (the values the step's gradient was taken of, and its cost).

    With `create_graph` the points stay differentiable functions of `thetas` (which must
    then require grad), so a loss at the last one can be differentiated through the steps
    (second-order MAML); otherwise every step works on detached tensors.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0; got {steps}")
    if create_graph and not thetas.requires_grad:
        raise ValueError("gradient_steps with create_graph needs thetas that require grad "
                         "(a function of a leaf with requires_grad=True)")
    path, evaluations = [thetas], []
    for _ in range(steps):
        current = path[-1]
        if create_graph:
            values = objective.values(current, tasks, seeds)
            (grads,) = torch.autograd.grad(values.sum(), current, create_graph=True)
            evaluations.append(objective.evaluation_of(values))
        else:
            grads, ev = objective.gradient(current, tasks, seeds)
            evaluations.append(ev)
        path.append(current + alpha * grads.to(current.dtype))
    return path, evaluations


class RolloutObjective(Objective):
    """The return of one deterministic rollout, through the batched engine."""

    def __init__(self, spec: PolicySpec, family: TaskFamily, horizon: int,
                 normalizer: Normalizer | None = None, dtype: torch.dtype = torch.float32) -> None:
        super().__init__(spec, family)
        self.horizon = horizon
        self.normalizer = normalizer or Normalizer(family.obs_dim, enabled=False)
        self.dtype = dtype

    def __call__(self, thetas: Tensor, tasks: Tensor, seeds: Tensor,
                 record: bool = False) -> Evaluation:
        out = deterministic_rollouts(self.spec, self.family, thetas, tasks, self.horizon, self.normalizer,
                       seeds=seeds, record=record, dtype=self.dtype)
        return Evaluation(out.returns.to(torch.float64), len(out.returns), out.env_steps,
                          out.obs_stats, out.positions)


def make_objective(family: TaskFamily, spec: PolicySpec, horizon: int | None = None,
                   normalizer: Normalizer | None = None) -> Objective:
    """f_T for a family: its own supervised loss (`TaskFamily.supervised_objective`), else
    the return of one rollout through the batched engine (horizon: the family's default if
    None)."""
    own = family.supervised_objective(spec)
    if own is not None:
        return own
    return RolloutObjective(spec, family, horizon or family.default_horizon, normalizer)
