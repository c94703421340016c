"""DiCE-MAML (Foerster et al. 2018, "DiCE: The Infinitely Differentiable Monte Carlo
Estimator"), with T-MAML's control variates as an option (Liu et al. 2019).

Inner step per task with the DiCE surrogate, whose derivatives of every order are
unbiased, so the meta-gradient keeps the pre-update credit term:
  -mean( magic(sum_{t' <= t} log pi_t') * (gamma^t r_t - b_t) ),  magic(x) = exp(x - x.detach()),
the cumulative sum taken within each episode. b_t is the telescoping baseline
gamma^t V(s_t) - gamma^{t+1} V(s_{t+1}) from the linear feature baseline (unbiased at every
order; `baselines.surrogates.dice` explains why a plain state-dependent b_t would not be).
With `control_variates: true` the baseline enters instead as T-MAML's / Mao et al.'s
control variate sum_t (1 - magic(log pi_t)) magic(sum_{t' < t} log pi_t') gamma^t V(s_t),
which telescopes to the same surrogate up to a constant: identical gradients and Hessians
(kept as an option for users comparing the literal T-MAML form). `baseline: zero` drops both.

Outer step: the same DiCE surrogate on the post-update rollouts, differentiated through
the inner step, minimised with Adam (lr 1e-3), `outer_steps` steps per iteration (ProMP's
DiCE-MAML takes one).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from baselines import surrogates
from baselines.base import PGMAML, Step, check
from baselines.sampler import log_prob
from workbench.policies import PolicySpec


def dice_outer_loss(spec: PolicySpec, params: Tensor, post: Step, mode: str) -> Tensor:
    """The DiCE surrogate of adapted per-task params `[n, P]` on the post-update phase,
    averaged over tasks (differentiate it through `params` for the meta-gradient)."""
    b, d = post.batch, post.data
    logp = log_prob(spec, params, b)
    return surrogates.dice(logp, d.disc_rewards, d.disc_values, b.mask, b.n, mode).mean()


class DiCE(PGMAML):
    name = "dice"
    INNER_LOSS = "dice"
    DEFAULTS: dict[str, Any] = {
        **PGMAML.COMMON,
        "outer_lr": 1e-3,
        "outer_steps": 1,
        "control_variates": False,
    }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        check(config, "outer_lr", lambda v: float(v) > 0, "be > 0")
        check(config, "outer_steps", lambda v: int(v) >= 1, "be >= 1")
        if config["control_variates"] and config["baseline"] == "zero":
            raise ValueError("control_variates needs a baseline to build them from; "
                             "set baseline=linear")

    @property
    def dice_mode(self) -> str:
        if self.config["baseline"] == "zero":
            return "none"
        return "control-variate" if self.config["control_variates"] else "adjusted"

    def objective(self, theta: Tensor, steps: list[Step], post: Step) -> Tensor:
        params = self.chain(theta, steps, create_graph=True)[-1]
        return dice_outer_loss(self.spec, params, post, self.dice_mode)

    def outer_update(self, steps: list[Step], post: Step, iteration: int) -> dict[str, float]:
        losses = []
        for _ in range(int(self.config["outer_steps"])):
            theta = self.theta.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                loss = self.objective(theta, steps, post)
                (grad,) = torch.autograd.grad(loss, theta)
            self.check_finite(iteration, loss, grad)
            losses.append(float(loss.detach()))
            self.adam_step(grad, float(self.config["outer_lr"]))
        return {"dice/grad_norm": float(grad.norm()), "dice/loss": losses[0]}
