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

from dataclasses import dataclass

import torch
from torch import Tensor

from baselines import surrogates
from baselines.base import INNER_LOSSES, PGMAML, PGConfig, Step, mean_kl
from baselines.trajectories import log_prob
from baselines.trpo import trpo_step
from workbench.config import option
from workbench.policies import PolicySpec


def outer_surrogate(spec: PolicySpec, params: Tensor, post: Step) -> Tensor:
    """Per-task TRPO surrogate LOSS on the post-update phase: -mean(ratio * A) `[n]`."""
    b = post.batch
    logp = log_prob(spec, params, b)
    return surrogates.lvc(logp, b.logp.to(logp.dtype), post.data.advantages, b.mask, b.n)


@dataclass(frozen=True)
class MAMLTRPOConfig(PGConfig):
    inner_loss: str = option("vpg", "inner loss: vpg, lvc or dice", choices=INNER_LOSSES)
    max_kl: float = option(0.01, "TRPO trust region (mean KL)", low=0.0, low_open=True)
    cg_iters: int = option(10, "conjugate-gradient iterations", low=1)
    cg_damping: float = option(1e-5, "damping added to the Fisher-vector product", low=0.0)
    backtrack_ratio: float = option(0.8, "line-search shrink factor", low=0.0, low_open=True,
                                    high=1.0, high_open=True)
    max_backtracks: int = option(15, "line-search steps", low=1)


class MAMLTRPO(PGMAML):
    name = "maml-trpo"
    backends = ("local", "ray")
    Config = MAMLTRPOConfig

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
