"""The first adaptation step of ES-MAML's exact-gradient operator on the sine task, measured:
what iteration 0's test adaptations do to the MSE (before and after one step, on the support
set and on held-out points), and alpha times the largest eigenvalue of the support set's
Gauss-Newton matrix G = (2/K) J J^T (a gradient step on a quadratic is stable only below 2).
Used by pilots/sine_start.py (the pilot behind the sine task's MAML initialisation) and by
tests/test_maml_exact.py.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.func import jacrev, vmap

from es.adaptation.base import PIVOT_KEY
from es.trainer import ESMAML, POST

#: The sine settings the diagnostics were written for (exact-gradient operator, alpha
#: 0.01, 50 test points per task); `trainer` callers add K, init and seed.
SETS = ["adaptation=exact-gradient", "alpha=0.01", "task.num_points=50"]
from workbench.seeding import derive_many

def start(algo: ESMAML) -> dict[str, float]:
    """Iteration 0's test adaptations (the streams of `ESMAML.evaluate`): MSEs before and
    after one step, and alpha lambda_max of G = (2/K) J J^T on each support set."""
    c = algo.config
    n, K, alpha = int(c["eval_adaptations"]), int(c["K"]), float(c["alpha"])
    tasks, seeds = algo.test_batch(0, n)
    support = derive_many(seeds, PIVOT_KEY)
    thetas = algo.theta.unsqueeze(0).expand(n, -1)
    adapted = algo.operator(algo.objective, thetas, tasks, seeds).thetas
    support_mse = algo.operator.support_objective(algo.objective)
    spec = algo.spec

    def predict(theta: Tensor, xs: Tensor) -> Tensor:  # theta [D], xs [K] -> [K]
        return spec.apply(spec.unflatten(theta.unsqueeze(0)), xs.reshape(1, -1, 1)).reshape(-1)

    x = algo.family.inputs(support, K).to(thetas.dtype)
    r = vmap(predict, in_dims=(None, 0))(algo.theta, x) - algo.family.targets(tasks, x)
    J = vmap(jacrev(predict), in_dims=(None, 0))(algo.theta, x)  # [n, K, D]
    G = (2.0 / K) * J @ J.transpose(1, 2)
    lam = alpha * torch.linalg.eigvalsh(G)[:, -1]
    linearised = r - alpha * (G @ r.unsqueeze(-1)).squeeze(-1)
    held = derive_many(seeds, POST)
    return {"support before": -float(support_mse(thetas, tasks, support).values.mean()),
            "held-out before": -float(algo.objective.held_out(thetas, tasks, held).values.mean()),
            "held-out after": -float(algo.objective.held_out(adapted, tasks, held).values.mean()),
            "alpha lambda_max": float(lam.median()),
            "share > 2": float((lam > 2).double().mean()),
            "support after": -float(support_mse(adapted, tasks, support).values.mean()),
            "support after, linearised": float(linearised.square().mean(1).mean())}
