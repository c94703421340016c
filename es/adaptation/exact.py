"""`exact-gradient`: U(theta, T) = theta + alpha * grad f_T(theta), by autograd (A.6).

For supervised tasks the adaptation gradient is available exactly, so Alg. 3's ES-gradient
step is replaced by the true gradient of the support-set value (for sine, f_T = -MSE, so
this is one SGD step on the MSE with learning rate alpha). The paper and MAML use
alpha = 0.01 for sine; the trainer passes alpha, this operator does not pick a per-task
default.

Options: `steps` gradient steps make U (default 1, as MAML's training and the paper's
sine runs); `eval_steps` is how many steps the test evaluation reports (Fig. A6 shows the
adapted model after 1 to 3 steps): the evaluation continues U's steps on the same support
set and scores each on held-out points (`further_steps`).

Support set: point p's K samples come from `derive_many(seeds[p], PIVOT_KEY)`, so they
depend on the point's own seed only. K is the operator's K (the K-shot support size) when
the objective can be resized (`with_points`, as `SineObjective`); otherwise the objective's
own number of points is used as it is. Every step uses the same K samples
(`workbench.objective.gradient_steps`). `pre_values` are the support-set values at the
starting points (the same numbers the first gradient was taken of). `sigma` is unused:
there are no perturbations. Cost: one evaluation (plus one backward pass) per point and
step.

Non-differentiable objectives (every RL task) fail at once with a clear ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from es.adaptation.base import PIVOT_KEY, AdaptationOperator, Adapted, Options
from workbench.config import option
from workbench.objective import Objective, gradient_steps
from workbench.seeding import derive_many


@dataclass(frozen=True)
class ExactOptions(Options):
    steps: int = option(1, "gradient steps U takes (in training and at test)", low=1)
    eval_steps: int = option(3, "the test evaluation also reports the held-out value after "
                             "each of this many steps (test/post_adaptation_return_after_N_steps)",
                             low=1)


class ExactGradientStep(AdaptationOperator):
    name = "exact-gradient"
    Options = ExactOptions

    def support_objective(self, objective: Objective) -> Objective:
        """The objective evaluated on a K-point support set, where it can be resized."""
        return objective.with_points(self.K)

    def path(self, objective: Objective, thetas: Tensor, tasks: Tensor, seeds: Tensor,
             steps: int):
        """`gradient_steps` on each point's support set: the points after 0..steps steps."""
        if not objective.differentiable:
            # Objective.gradient raises too; fail here first with the operator's name.
            raise ValueError(f"adaptation 'exact-gradient' needs exact gradients, which task "
                             f"{objective.family.name!r} does not provide; use it with a "
                             f"supervised task such as sine, or pick mc, dpp or hc")
        return gradient_steps(self.support_objective(objective), thetas, tasks,
                              derive_many(seeds, PIVOT_KEY), self.alpha, steps)

    def __call__(self, objective: Objective, thetas: Tensor, tasks: Tensor,
                 seeds: Tensor) -> Adapted:
        points, evaluations = self.path(objective, thetas, tasks, seeds, self.options["steps"])
        return Adapted(points[-1], evaluations[0].values, evaluations)

    def further_steps(self, objective: Objective, thetas: Tensor, tasks: Tensor,
                      seeds: Tensor) -> dict[int, Tensor]:
        """Step count n -> the points after n steps, for n = 1..`eval_steps` (the trainer
        scores them on held-out points)."""
        points, _ = self.path(objective, thetas, tasks, seeds, self.options["eval_steps"])
        return {n: points[n] for n in range(1, len(points))}
