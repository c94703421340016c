"""ProMP (Rothfuss et al. 2019, "ProMP: Proximal Meta-Policy Search") [ProMP].

Inner step per task with the low-variance-curvature (LVC) loss
-mean(pi_theta(a|s) / pi_old(a|s) * A), pi_old the pre-update sampling policy.

Outer objective, minimised with Adam (lr 1e-3) for `epochs` full-batch steps per
iteration (ProMP's `num_ppo_steps` = 5, one minibatch), each step rebuilding the adapted
policies from the current theta through the inner step:
  mean_i PPO-clip(pi_{theta_i'} / pi_old_i', A', eps = 0.3)
  + kl_penalty * mean_steps mean_i KL(pi_old(pre) || pi_theta(pre)),
the KL term (coefficient 5e-4, fixed: ProMP's `adaptive_inner_kl_penalty` off in its
published configs) between the policy that sampled each inner step's rollouts and the
current policy at that step, on that step's samples (ProMP's `inner_kl`): it keeps the
pre-update policy, and with it the LVC estimate, close to where the samples came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from baselines import surrogates
from baselines.base import PGMAML, PGConfig, Step, mean_kl
from baselines.trajectories import log_prob
from workbench.config import option
from workbench.policies import PolicySpec


def promp_loss(spec: PolicySpec, chain: list[Tensor], steps: list[Step], post: Step,
               clip_eps: float, kl_penalty: float) -> tuple[Tensor, Tensor, Tensor]:
    """ProMP's outer loss on a rebuilt chain `[Theta_0, ..., Theta_S]` of per-task params:
    (loss, PPO-clip part, mean inner KL), each averaged over tasks."""
    b = post.batch
    logp = log_prob(spec, chain[-1], b)
    clip = surrogates.ppo_clip(logp, b.logp.to(logp.dtype), post.data.advantages, b.mask,
                               b.n, clip_eps).mean()
    inner_kl = torch.stack([mean_kl(spec, params, st.batch).mean()
                            for params, st in zip(chain[:-1], steps)]).mean()
    return clip + kl_penalty * inner_kl, clip, inner_kl


@dataclass(frozen=True)
class ProMPConfig(PGConfig):
    outer_lr: float = option(1e-3, "Adam learning rate of the outer step", low=0.0,
                             low_open=True)
    epochs: int = option(5, "outer optimisation epochs per iteration", low=1)
    clip_eps: float = option(0.3, "PPO clip range", low=0.0, low_open=True, high=1.0,
                             high_open=True)
    kl_penalty: float = option(5e-4, "weight of the inner KL penalty", low=0.0)


class ProMP(PGMAML):
    name = "promp"
    backends = ("local", "ray")
    INNER_LOSS = "lvc"
    Config = ProMPConfig

    def objective(self, theta: Tensor, steps: list[Step], post: Step) -> tuple[Tensor, Tensor, Tensor]:
        """(loss, clipped surrogate loss, mean inner KL), differentiable in `theta`."""
        chain = self.chain(theta, steps, create_graph=True)
        return promp_loss(self.spec, chain, steps, post, float(self.config["clip_eps"]),
                          float(self.config["kl_penalty"]))

    def outer_update(self, steps: list[Step], post: Step, iteration: int) -> dict[str, float]:
        first = last = None
        for _ in range(int(self.config["epochs"])):
            theta = self.theta.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                loss, clip, kl = self.objective(theta, steps, post)
                (grad,) = torch.autograd.grad(loss, theta)
            self.check_finite(iteration, loss, grad)
            loss, clip, kl = loss.detach(), clip.detach(), kl.detach()
            first = first if first is not None else (float(loss), float(clip))
            last = (float(loss), float(clip), float(kl))
            self.adam_step(grad, float(self.config["outer_lr"]))
        return {"promp/loss_first_epoch": first[0], "promp/loss_last_epoch": last[0],
                "promp/clip_loss_last_epoch": last[1], "promp/inner_kl_last_epoch": last[2]}
