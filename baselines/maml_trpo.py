"""MAML-TRPO (Finn et al. 2017; ProMP's `trpo_maml` [ProMP]).

Inner step per task: theta_i' = theta - inner_lr * grad L_in(theta) on K pre-update
rollouts, with `inner_loss`:
- `vpg` (default, Finn et al.): -mean(log pi * A). Loses the pre-update credit term of the
  meta-gradient (its Hessian has no grad log pi grad log pi^T A part).
- `lvc`: -mean(pi / pi_old * A) (ProMP's `likelihood_ratio`, the default there).
- `dice`: the DiCE surrogate (`baselines.surrogates.dice`): unbiased meta-gradient.

Outer step: TRPO on the post-update surrogate mean_i mean(pi_{theta_i'}(a|s) /
pi_old'(a|s) * A') (pi_old' the post-update sampling policies), with the trust region on
the mean KL(pi_old' || pi_{theta_i'}) over the post-update samples; theta_i' is rebuilt from
theta with `create_graph=True`, so gradient and Fisher products go through the inner step.
Defaults: max_kl 0.01, 10 CG iterations, damping 1e-5, backtracking 0.8 x 15.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from baselines import surrogates
from baselines.base import INNER_LOSSES, PGMAML, Step, _choice, mean_kl
from baselines.sampler import log_prob
from baselines.trpo import trpo_step
from workbench.policies import PolicySpec


def outer_surrogate(spec: PolicySpec, params: Tensor, post: Step) -> Tensor:
    """Per-task TRPO surrogate LOSS on the post-update phase: -mean(ratio * A) `[n]`."""
    b = post.batch
    logp = log_prob(spec, params, b)
    return surrogates.lvc(logp, b.logp.to(logp.dtype), post.data.advantages, b.mask, b.n)


class MAMLTRPO(PGMAML):
    name = "maml-trpo"
    DEFAULTS: dict[str, Any] = {
        **PGMAML.COMMON,
        "inner_loss": "vpg",
        "max_kl": 0.01,
        "cg_iters": 10,
        "cg_damping": 1e-5,
        "backtrack_ratio": 0.8,
        "max_backtracks": 15,
    }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        c = config
        _choice("inner_loss", c["inner_loss"], INNER_LOSSES)
        for key in ("max_kl", "backtrack_ratio"):
            if float(c[key]) <= 0:
                raise ValueError(f"{key} must be > 0; got {c[key]}")
        if float(c["backtrack_ratio"]) >= 1:
            raise ValueError(f"backtrack_ratio must be < 1; got {c['backtrack_ratio']}")
        for key in ("cg_iters", "max_backtracks"):
            if int(c[key]) < 1:
                raise ValueError(f"{key} must be >= 1; got {c[key]}")
        if float(c["cg_damping"]) < 0:
            raise ValueError(f"cg_damping must be >= 0; got {c['cg_damping']}")

    def loss_and_kl(self, steps: list[Step], post: Step):
        def fn(theta: Tensor, create_graph: bool) -> tuple[Tensor, Tensor]:
            params = self.chain(theta, steps, create_graph=create_graph)[-1]
            with torch.set_grad_enabled(create_graph):
                loss = outer_surrogate(self.spec, params, post).mean()
                kl = mean_kl(self.spec, params, post.batch).mean()
            return loss, kl
        return fn

    def outer_update(self, steps: list[Step], post: Step, iteration: int) -> dict[str, float]:
        c = self.config
        result = trpo_step(self.theta, self.loss_and_kl(steps, post), float(c["max_kl"]),
                           float(c["cg_damping"]), int(c["cg_iters"]),
                           float(c["backtrack_ratio"]), int(c["max_backtracks"]))
        self.check_finite(iteration, result.theta)
        self.theta = result.theta.to(self.theta.dtype)
        return {"trpo/accepted": float(result.accepted), "trpo/backtracks": float(result.backtracks),
                "trpo/kl": result.kl, "trpo/surrogate_improvement": result.loss_before - result.loss_after,
                "trpo/step_norm": result.step_norm}
