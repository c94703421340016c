"""DiCE-MAML (Foerster et al. 2018, "DiCE: The Infinitely Differentiable Monte Carlo
Estimator"), with T-MAML's learned control variate as an option (Liu et al. 2019).

Inner step per task with the DiCE surrogate, whose derivatives of every order are
unbiased, so the meta-gradient keeps the pre-update credit term:
  -mean( magic(sum_{t' <= t} log pi_t') * (gamma^t r_t - b_t) ),  magic(x) = exp(x - x.detach()),
the cumulative sum taken within each episode. b_t is the telescoping baseline
gamma^t V(s_t) - gamma^{t+1} V(s_{t+1}) from the linear feature baseline (unbiased at every
order; `baselines.surrogates.dice` explains why a plain state-dependent b_t would not be).
`baseline: zero` drops it.

`control_variates: true` (T-MAML) adds to the inner loss, for every pre-update phase,
  + sum_t (1 - magic(log pi_t)) (1 - magic(sum_{t' < t} log pi_t')) gamma^t s c(s_t, t)  / (K T)
(`surrogates.tmaml_control_variate`; s is the task's advantage-normalisation factor, as on
the DiCE terms). It is 0 in value and in gradient; its Hessian subtracts gamma^t s c(s_t, t)
from the factor gamma^t s (G_t - V_t) that the DiCE Hessian puts on each cross-step product
grad log pi_t grad log pi_{t'}^T (t' < t), and it has zero mean at every order for any c
that does not see a_t or later. c is learned: `baselines.meta_baseline.MetaBaseline`, a
64-64 tanh network (`cv_width`) meta-learned across tasks (Adam `cv_lr`, one step per
iteration) whose linear head is refitted per task in closed form (ridge `cv_ridge` toward the
meta-learned head), cross-fitted (one half of a task's rollouts baselines the other, so the
estimate stays exactly unbiased) and fitted to the residual G_t - V_t that the linear
baseline leaves in those cross-step factors (with V = 0 that is T-MAML's reward-to-go
target). Its parameters and Adam moments are in `state_dict`. What it buys: against DiCE
without a state baseline it cuts the meta-gradient variance by about 30% (tests); on top of
the telescoping linear baseline, which already multiplies the cross-step products by
G_t - V_t, it measured variance-neutral (docs/baselines.md).

(Until this option existed, `control_variates: true` switched to the surrogate's
`control-variate` mode, Mao et al.'s sum_t (1 - magic(log pi_t)) magic(w_{<t}) gamma^t V_t
with the SAME linear V; that sum telescopes to the `adjusted` mode's baseline plus the
constant V(s_0), so both modes have identical derivatives of every order and theta moved
only by rounding, <= 5e-10 in three iterations.)

Outer step: the same DiCE surrogate (with the linear baseline, no control variate) on the
post-update rollouts, differentiated through the inner step, minimised with Adam (lr 1e-3),
`outer_steps` steps per iteration (ProMP's DiCE-MAML takes one). The meta-baseline takes
one Adam step per iteration, after the policy's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from baselines import surrogates
from baselines.advantages import Processed
from baselines.base import PGMAML, PGConfig, Step
from baselines.meta_baseline import MetaBaseline
from baselines.trajectories import Batch, log_prob
from workbench.config import option
from workbench.policies import PolicySpec
from workbench.seeding import derive

CV_INIT = 11  # seeding key of the meta-baseline's initial weights


def dice_outer_loss(spec: PolicySpec, params: Tensor, post: Step, mode: str) -> Tensor:
    """The DiCE surrogate of adapted per-task params `[n, P]` on the post-update phase,
    averaged over tasks (differentiate it through `params` for the meta-gradient)."""
    b, d = post.batch, post.data
    logp = log_prob(spec, params, b)
    return surrogates.dice(logp, d.disc_rewards, d.disc_values, b.mask, b.n, mode).mean()


@dataclass
class TMAMLProcessed(Processed):
    """A pre-update phase's data with T-MAML's control variate: `disc_values` is
    `[T, B, 2]` (gamma^t V_t, the coefficient gamma^t s c_t); `cv_grad` is the meta-baseline's
    first-order meta-gradient from this phase, `cv_explained` the fraction of the target's
    variance its cross-fitted prediction explains."""

    cv_grad: Tensor | None = None
    cv_explained: float = 0.0


@dataclass(frozen=True)
class DiCEConfig(PGConfig):
    outer_lr: float = option(1e-3, "Adam learning rate of the outer step", low=0.0,
                             low_open=True)
    outer_steps: int = option(1, "outer Adam steps per iteration", low=1)
    control_variates: bool = option(False, "T-MAML's control variate with a learned "
                                    "meta-baseline (needs K >= 2 and baseline=linear)")
    cv_width: int = option(64, "hidden width of the meta-baseline network", low=1)
    cv_ridge: float = option(10.0, "ridge weight of the per-task head refit", low=0.0,
                             low_open=True)
    cv_lr: float = option(1e-3, "Adam learning rate of the meta-baseline", low=0.0)


class DiCE(PGMAML):
    name = "dice"
    backends = ("local", "ray")
    INNER_LOSS = "dice"
    Config = DiCEConfig

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.control_variates = bool(config["control_variates"])
        self.meta_baseline: MetaBaseline | None = None
        self._phase = 0
        if self.control_variates:
            if config["baseline"] == "zero":
                raise ValueError("control_variates needs a baseline to build them from; "
                                 "set baseline=linear")
            if self.K < 2:
                raise ValueError("control_variates needs K >= 2 (the meta-baseline is fitted on "
                                 "one half of each task's rollouts and applied to the other)")
            self.meta_baseline = MetaBaseline(
                self.family.obs_dim, int(config["cv_width"]), float(config["cv_ridge"]),
                float(config["cv_lr"]), seed=derive(self.seed, CV_INIT))

    @property
    def dice_mode(self) -> str:
        """The inner loss's surrogate mode (`baselines.surrogates.dice`)."""
        if self.config["baseline"] == "zero":
            return "none"
        return "t-maml" if self.control_variates else "adjusted"

    @property
    def outer_mode(self) -> str:
        return "none" if self.config["baseline"] == "zero" else "adjusted"

    # -- T-MAML's control variate on the pre-update phases ---------------------------------
    def collect(self, tasks: Tensor, seed: int):
        self._phase = 0  # `_process` numbers the phases: inner_steps pre-update, then post
        return super().collect(tasks, seed)

    def _process(self, batch: Batch) -> Processed:
        data = super()._process(batch)
        pre = self._phase < self.inner_steps
        self._phase += 1
        if self.meta_baseline is None or not pre:
            return data
        target = (data.returns - data.values) * batch.mask
        pred, grad = self.meta_baseline.fit_predict(batch.obs, target, batch.mask, batch.n)
        gamma = float(self.config["gamma"])
        disc = gamma ** torch.arange(batch.T, dtype=torch.float64)
        coef = disc.to(pred.dtype).unsqueeze(1) * data.dice_scale * pred * batch.mask
        valid = batch.mask.bool()
        resid = (target - pred)[valid]
        explained = 1.0 - float(resid.var() / target[valid].var().clamp(min=1e-12))
        return TMAMLProcessed(data.advantages, data.returns, data.values, data.disc_rewards,
                              torch.stack([data.disc_values, coef], -1), data.dice_scale,
                              grad, explained)

    # -- the outer step --------------------------------------------------------------------
    def objective(self, theta: Tensor, steps: list[Step], post: Step) -> Tensor:
        params = self.chain(theta, steps, create_graph=True)[-1]
        return dice_outer_loss(self.spec, params, post, self.outer_mode)

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
        extras = {"dice/grad_norm": float(grad.norm()), "dice/loss": losses[0]}
        if self.meta_baseline is not None:
            cv_grads = torch.stack([s.data.cv_grad for s in steps])
            self.meta_baseline.update(cv_grads.mean(0))
            explained = sum(s.data.cv_explained for s in steps) / len(steps)
            extras["tmaml/explained_variance"] = explained
        return extras

    # -- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.meta_baseline is not None:
            state["meta_baseline"] = self.meta_baseline.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self.meta_baseline is not None:
            if "meta_baseline" not in state:
                raise ValueError("the checkpoint has no meta-baseline (it was written with "
                                 "control_variates=false); resume it with control_variates=false")
            self.meta_baseline.load_state_dict(state["meta_baseline"])
