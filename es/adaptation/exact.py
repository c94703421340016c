"""`exact-gradient`: U(theta, T) = theta + alpha * grad f_T(theta), by autograd (A.6).

For supervised tasks the adaptation gradient is available exactly, so Alg. 3's ES-gradient
step is replaced by the true gradient of the support-set value (for sine, f_T = -MSE, so
this is one SGD step on the MSE with learning rate alpha). The paper and MAML use
alpha = 0.01 for sine; the trainer passes alpha, this operator does not pick a per-task
default.

Support set: point p's K samples come from `derive_many(seeds[p], PIVOT_KEY)`, so they
depend on the point's own seed only. K is the operator's K (the K-shot support size) when
the objective can be resized (`with_points`, as `SineObjective`); otherwise the objective's
own number of points is used as it is. `pre_values` are the support-set values at the
starting points (the same numbers the gradient was taken of). `sigma` is unused: there are
no perturbations. Cost: one evaluation (plus one backward pass) per point.

Non-differentiable objectives (every RL task) fail at once with a clear ValueError.
"""

from __future__ import annotations

from torch import Tensor

from es.adaptation.base import PIVOT_KEY, AdaptationOperator, Adapted
from workbench.objective import Objective
from workbench.seeding import derive_many


class ExactGradientStep(AdaptationOperator):
    name = "exact-gradient"

    def support_objective(self, objective: Objective) -> Objective:
        """The objective evaluated on a K-point support set, where it can be resized."""
        return objective.with_points(self.K)

    def __call__(self, objective: Objective, thetas: Tensor, tasks: Tensor,
                 seeds: Tensor) -> Adapted:
        if not objective.differentiable:
            # Objective.gradient raises too; fail here first with the operator's name.
            raise ValueError(f"adaptation 'exact-gradient' needs exact gradients, which task "
                             f"{objective.family.name!r} does not provide; use it with a "
                             f"supervised task such as sine, or pick mc, dpp or hc")
        support = self.support_objective(objective)
        grads, ev = support.gradient(thetas, tasks, derive_many(seeds, PIVOT_KEY))
        adapted = thetas + self.alpha * grads.to(thetas.dtype)
        return Adapted(adapted, ev.values, [ev])
