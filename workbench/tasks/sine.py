"""Sine regression (Finn et al. 2017; ES-MAML A.6): K-shot fitting of y = A sin(x - phase).

A task is `(amplitude, phase)` with amplitude ~ U[0.1, 5] and phase ~ U[0, pi] (the task
table is `[num_tasks, 2]` in that order); inputs are x ~ U[-5, 5] and targets are noise-free.
The "policy" is a regression model x -> y: by default MAML's 1-40-40-1 ReLU MLP with a
linear output (`POLICY_DEFAULTS`), in the same flat `PolicySpec` layout as the RL policies,
so the ES machinery treats it like any other population of parameter vectors.

This is not an RL task: there is no simulator (`make_sim` raises). Instead the family
supplies its own objective, `SineObjective` (`supervised_objective`, which
`workbench.objective.make_objective` picks up):
f_T(theta) = -MSE of theta on `num_points` points (higher is better), with exact gradients
through autograd for the `exact-gradient` adaptation operator (A.6: "we can exactly compute
grad L(theta)").

Choices made here (the paper does not fix them):
- Split: the task distribution is continuous and MAML samples a fresh task every
  iteration; to keep this project's fixed-split convention (train tasks are sampled,
  test tasks are never trained on) we draw `DEFAULT_SPLIT = (1000, 100)` tasks once from
  `split_seed`. 1000 training tasks is far more than any meta-batch, so training sees
  effectively the continuous distribution; 100 test tasks give a stable test MSE.
- `default_horizon = 1`: there are no time steps; the value exists only so generic code
  that reads it (CLI listing, config defaults) keeps working. It is never used.
- Cost accounting: one evaluation of theta on a task counts as one "rollout", and every
  sample point as one "env step" (`rollouts = N`, `env_steps = N * num_points`), so the
  `rollouts` / `env_steps` metrics stay comparable in shape with the RL tasks: rollouts
  counts function evaluations, env_steps counts the (x, y) samples they consumed.
- Data seeding: the points of evaluation i are drawn from `seeds[i]` alone with the
  counter-based `workbench.seeding.uniform`, so a row's data never depends on which other
  rows share its batch (the same contract as rollout reset noise). Two evaluations with the
  same seed see the same x's.
- Held-out test points: `SineObjective.held_out` scores on `num_eval_points` points drawn
  from `derive_many(seeds, HELD_OUT_KEY)`, a stream distinct from anything an adaptation
  operator derives, so even when a caller passes the seeds it gave the support set, the test
  points are fresh. `SineObjective.with_points(n)` gives the same objective on n points per
  evaluation (the exact-gradient operator uses it for a K-point support set).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from workbench.objective import Evaluation, Objective
from workbench.policies import PolicySpec
from workbench.seeding import derive_many, uniform
from workbench.config import option
from workbench.tasks.base import BatchedSim, TaskFamily, TaskParams

AMPLITUDE_RANGE = (0.1, 5.0)
PHASE_RANGE = (0.0, math.pi)
X_RANGE = (-5.0, 5.0)
#: Key for the held-out evaluation points' seeds (kept away from es.adaptation's 1, 2, 3).
HELD_OUT_KEY = 101


@dataclass(frozen=True)
class SineParams(TaskParams):
    num_points: int = option(10, "sample points per evaluation (the training loss)", low=1)
    num_eval_points: int = option(100, "held-out points of a test evaluation", low=1)


class SineRegression(TaskFamily):
    name = "sine"
    obs_dim = 1
    act_dim = 1
    default_horizon = 1  # no time steps; unused (see the module docstring)
    Params = SineParams
    supervised = True
    DEFAULT_SPLIT = (1000, 100)
    #: MAML's regression network: 1-40-40-1, ReLU, linear output (Finn et al. 2017), with
    #: MAML's initialisation (`maml`: truncated normal, std 0.01, biases 0). The per-layer He
    #: scale (`normal`) makes the first inner step overshoot: alpha = 0.01 times the largest
    #: curvature of the K-point loss exceeds 2 (docs/studies/2026-12-07-sine-sweep.md, "The start").
    POLICY_DEFAULTS: ClassVar[dict[str, Any]] = {"policy": "HH", "width": 40,
                                                 "activation": "relu", "output": "linear",
                                                 "init": "maml"}

    def draw_tasks(self, n: int, generator: torch.Generator) -> Tensor:
        u = torch.rand(n, 2, generator=generator, dtype=torch.float64)
        amplitude = AMPLITUDE_RANGE[0] + (AMPLITUDE_RANGE[1] - AMPLITUDE_RANGE[0]) * u[:, 0]
        phase = PHASE_RANGE[0] + (PHASE_RANGE[1] - PHASE_RANGE[0]) * u[:, 1]
        return torch.stack([amplitude, phase], 1)

    def get_task(self, task: int) -> dict[str, Any]:
        amplitude, phase = self.table[int(task)].tolist()
        return {"id": int(task), "amplitude": amplitude, "phase": phase}

    def make_sim(self, tasks: Tensor, dtype: torch.dtype = torch.float32) -> BatchedSim:
        raise ValueError("sine is a supervised regression task, not an RL task: it has no "
                         "simulator (no rollouts, bench or MetaEnv); evaluate it through "
                         "workbench.objective.make_objective(family, spec)")

    def supervised_objective(self, spec: PolicySpec) -> "SineObjective":
        """The supervised objective (no rollouts, so no horizon or observation normaliser)."""
        return SineObjective(spec, self)

    # -- data ------------------------------------------------------------------------
    def inputs(self, seeds: Tensor, n: int) -> Tensor:
        """`[N, n]` inputs x ~ U[-5, 5], row i a function of `seeds[i]` alone (float64)."""
        return X_RANGE[0] + (X_RANGE[1] - X_RANGE[0]) * uniform(seeds, n)

    def targets(self, tasks: Tensor, x: Tensor) -> Tensor:
        """`A sin(x - phase)` for `x [N, n]` and task ids `tasks [N]` (float64)."""
        params = self.table[tasks]
        return params[:, :1] * torch.sin(x - params[:, 1:])


class SineObjective(Objective):
    """f_T(theta) = -(1/M) sum_j (A sin(x_j - phase) - model_theta(x_j))^2 on M points."""

    differentiable = True

    def __init__(self, spec: PolicySpec, family: SineRegression,
                 num_points: int | None = None) -> None:
        super().__init__(spec, family)
        if spec.obs_dim != 1 or spec.act_dim != 1:
            raise ValueError(f"sine regression needs a 1-input, 1-output model; got "
                             f"{spec.describe()}")
        if spec.output != "linear":
            raise ValueError(f"sine regression needs a linear output (targets reach "
                             f"+-{AMPLITUDE_RANGE[1]}); got {spec.describe()} "
                             f"(use output='linear', see SineRegression.POLICY_DEFAULTS)")
        n = family.params["num_points"] if num_points is None else num_points
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"num_points must be a positive integer; got {n!r}")
        self.num_points = n

    def with_points(self, num_points: int) -> "SineObjective":
        """The same objective on `num_points` points per evaluation."""
        if num_points == self.num_points:
            return self
        return SineObjective(self.spec, self.family, num_points)

    def _check(self, thetas: Tensor, tasks: Tensor, seeds: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        thetas = self.spec.check(thetas)
        tasks = torch.as_tensor(tasks, dtype=torch.int64).reshape(-1)
        seeds = torch.as_tensor(seeds, dtype=torch.int64).reshape(-1)
        n = thetas.shape[0]
        if len(tasks) != n or len(seeds) != n:
            raise ValueError(f"got {n} parameter vectors, {len(tasks)} task ids and "
                             f"{len(seeds)} seeds; the objective pairs them one to one")
        if n and (tasks.min() < 0 or tasks.max() >= self.family.num_tasks):
            raise ValueError(f"task ids must lie in [0, {self.family.num_tasks}) for sine; "
                             f"got {int(tasks.min())}..{int(tasks.max())}")
        return thetas, tasks, seeds

    def _values(self, thetas: Tensor, tasks: Tensor, seeds: Tensor, num_points: int) -> Tensor:
        """Differentiable `[N]` negative MSEs, in the dtype of `thetas`."""
        x = self.family.inputs(seeds, num_points)
        y = self.family.targets(tasks, x).to(thetas.dtype)
        pred = self.spec.apply(self.spec.unflatten(thetas), x.to(thetas.dtype).unsqueeze(-1))
        return -(pred.squeeze(-1) - y).square().mean(1)

    def evaluation_of(self, values: Tensor) -> Evaluation:
        n = len(values)
        return Evaluation(values.detach().to(torch.float64), n, n * self.num_points)

    def __call__(self, thetas: Tensor, tasks: Tensor, seeds: Tensor,
                 record: bool = False) -> Evaluation:
        """Negative MSE of `thetas[i]` on `num_points` points from `seeds[i]`, task `tasks[i]`.

        `record` is accepted for interface compatibility; there are no trajectories.
        """
        with torch.no_grad():
            return self.evaluation_of(self.values(thetas, tasks, seeds))

    def values(self, thetas: Tensor, tasks: Tensor, seeds: Tensor) -> Tensor:
        """The negative MSEs `[N]` as a differentiable function of `thetas` (its dtype)."""
        thetas, tasks, seeds = self._check(thetas, tasks, seeds)
        return self._values(thetas, tasks, seeds, self.num_points)

    def held_out(self, thetas: Tensor, tasks: Tensor, seeds: Tensor,
                 record: bool = False) -> Evaluation:
        """Held-out test values: negative MSE on `num_eval_points` fresh points.

        The points come from `derive_many(seeds, HELD_OUT_KEY)`, never the stream the
        support or query set of the same seeds uses. Cost is reported like `__call__`
        (rollouts = N, env_steps = N * num_eval_points); a trainer may leave test-time
        evaluation out of its training budget.
        """
        thetas, tasks, seeds = self._check(thetas, tasks, seeds)
        n = self.family.params["num_eval_points"]
        with torch.no_grad():
            values = self._values(thetas, tasks, derive_many(seeds, HELD_OUT_KEY), n)
        return Evaluation(values.to(torch.float64), len(values), len(values) * n)
