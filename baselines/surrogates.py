"""Surrogate losses of the PG-MAML baselines, as plain functions of recorded tensors.

Every function takes per-step tensors `[T, B]` (B = n K rollouts, task-major, see
`baselines.trajectories`) and returns one loss PER TASK `[n]`, so that `autograd.grad` of their
sum with respect to per-task parameters `[n, P]` gives each task its own inner gradient.
The same functions build the inner steps and the outer objectives of MAML-TRPO, ProMP and
DiCE, and are what `tests/test_baselines.py` checks against closed-form meta-gradients.

Scaling: `vpg`, `lvc`, `ppo_clip` and the KL terms average over the task's valid steps
(ProMP's convention, so inner_lr = 0.1 means the same thing in each); `dice` sums over
time and divides by K T (a constant), which keeps it exactly unbiased when episode lengths
vary. For fixed-length episodes all of them estimate (1 / T) d/dtheta E[sum_t ...].

- `vpg`: -mean(log pi(a|s) A). Its gradient is the policy gradient, but its second
  derivative lacks the term grad log pi grad log pi^T A: used as an inner loss it loses
  the pre-update credit assignment (Finn et al. 2017's implementation; Rothfuss et al.).
- `lvc`: -mean(pi(a|s) / pi_old(a|s) A), pi_old the sampling policy (ProMP's low-variance
  curvature): per-STEP likelihood ratios, so its Hessian keeps the same-step outer product
  but drops the cross-step ones (biased for horizons > 1, exact for one step).
- `dice`: -sum_t magic(sum_{t' <= t} log pi_t') c_t with magic(x) = exp(x - x.detach())
  (Foerster et al. 2018), the cumulative sum taken within each rollout (each column of
  `[T, B]` is one episode; masked steps add 0). Unbiased derivatives of every order.
- `tmaml_control_variate`: T-MAML's term sum_t (1 - magic(log pi_t)) (1 - magic(w_{<t})) b_t
  (Liu et al. 2019), added to the DiCE inner loss by `dice` mode `t-maml`: value 0, gradient
  0, Hessian b_t (grad log pi_t grad w_{<t}^T + transpose), zero mean at every order.
"""

from __future__ import annotations

import torch
from torch import Tensor

DICE_MODES = ("adjusted", "control-variate", "none", "t-maml")


def magic_box(x: Tensor) -> Tensor:
    """`exp(x - x.detach())`: value 1, derivative d x (DiCE's magic box)."""
    return torch.exp(x - x.detach())


def per_task_sum(x: Tensor, n: int) -> Tensor:
    """`x [T, B]` -> `[n]` sums over each task's steps and rollouts."""
    return x.reshape(x.shape[0], n, -1).sum((0, 2))


def per_task_mean(x: Tensor, mask: Tensor, n: int) -> Tensor:
    """Mean of `x [T, B]` over each task's valid steps: `[n]`."""
    return per_task_sum(x * mask, n) / per_task_sum(mask, n).clamp(min=1.0)


def vpg(logp: Tensor, adv: Tensor, mask: Tensor, n: int) -> Tensor:
    """`-mean(log pi * A)` per task (the first-order, "log-likelihood" inner loss)."""
    return -per_task_mean(logp * adv, mask, n)


def lvc(logp: Tensor, logp_old: Tensor, adv: Tensor, mask: Tensor, n: int) -> Tensor:
    """`-mean(pi / pi_old * A)` per task (likelihood ratio against the sampling policy)."""
    ratio = torch.exp((logp - logp_old) * mask)
    return -per_task_mean(ratio * adv, mask, n)


def ppo_clip(logp: Tensor, logp_old: Tensor, adv: Tensor, mask: Tensor, n: int,
             clip: float) -> Tensor:
    """PPO's clipped surrogate `-mean(min(r A, clip(r, 1 - eps, 1 + eps) A))` per task."""
    ratio = torch.exp((logp - logp_old) * mask)
    clipped = torch.minimum(ratio * adv, ratio.clamp(1.0 - clip, 1.0 + clip) * adv)
    return -per_task_mean(clipped, mask, n)


def dice(logp: Tensor, disc_rewards: Tensor, disc_values: Tensor, mask: Tensor, n: int,
         mode: str = "adjusted") -> Tensor:
    """The DiCE surrogate per task (a loss: minus the objective), divided by K T.

    `disc_rewards` are gamma^t r_t and `disc_values` gamma^t V(s_t) (any fixed V). Modes:
    - `none`: sum_t magic(w_{<=t}) gamma^t r_t.
    - `adjusted` (default): sum_t magic(w_{<=t}) (gamma^t r_t - b_t) with the telescoping
      baseline b_t = gamma^t V_t - gamma^{t+1} V_{t+1} (V = 0 after the last step), i.e.
      c_t = gamma^t delta_t. Its first derivative is sum_t grad log pi_t gamma^t (G_t - V_t),
      and the baseline part has zero-mean derivatives of EVERY order (its sum telescopes to
      V(s_0), which does not depend on theta). A state-dependent b_t placed directly in the
      magic box (b_t = gamma^t V_t) would bias the estimate, since s_t depends on earlier
      actions.
    - `control-variate` (the DiCE baseline of Mao et al. 2019):
      sum_t magic(w_{<=t}) gamma^t r_t + sum_t (1 - magic(log pi_t)) magic(w_{<t}) gamma^t V_t.
      The added term is 0 in value and its derivatives of every order have mean zero
      (magic(w_{<t}) b_t and magic(w_{<=t}) b_t have the same expected derivatives); at
      first order it subtracts grad log pi_t gamma^t V_t. Since magic(w_{<t+1}) =
      magic(w_{<=t}), the sum telescopes: it equals the `adjusted` mode's baseline plus the
      constant gamma^0 V(s_0), so the two modes have IDENTICAL derivatives of every order
      (this is why `dice --set control_variates=true` used to change nothing; T-MAML's
      term is mode `t-maml` below). Note the order of the
      two magic boxes: (1 - magic(w_{<t})) magic(log pi_t) b_t instead would be biased for a
      state-dependent b (tests/test_baselines.py measures it).
    - `t-maml` (Liu et al. 2019): `disc_values` is `[T, B, 2]`, gamma^t V_t and a second,
      learned coefficient c_t; the `adjusted` surrogate with V plus
      `tmaml_control_variate(logp, c)`, which subtracts c_t from what the cross-step terms
      grad log pi_t grad w_{<t}^T of the Hessian are multiplied by (`baselines.dice`).
    """
    if mode not in DICE_MODES:
        raise ValueError(f"unknown DiCE mode {mode!r}; valid: {', '.join(DICE_MODES)}")
    if mode == "t-maml":
        values, coef = disc_values.unbind(-1)
        return (dice(logp, disc_rewards, values, mask, n, "adjusted")
                + tmaml_control_variate(logp, coef, mask, n))
    T, B = logp.shape
    logp = logp * mask
    cum = torch.cumsum(logp, 0)  # within each episode: columns are episodes
    terms = disc_rewards * mask
    if mode == "adjusted":
        v = disc_values * mask
        v_next = torch.cat([v[1:], torch.zeros_like(v[:1])])
        terms = terms - (v - v_next)
    objective = magic_box(cum) * terms * mask
    if mode == "control-variate":
        before = cum - logp
        objective = objective + (1.0 - magic_box(logp)) * magic_box(before) * disc_values * mask
    return -per_task_sum(objective, n) / float(T * (B // n))


def tmaml_control_variate(logp: Tensor, coef: Tensor, mask: Tensor, n: int) -> Tensor:
    """T-MAML's control variate as a loss term per task `[n]`, divided by K T like `dice`:
    +sum_t (1 - magic(log pi_t)) (1 - magic(w_{<t})) c_t, w_{<t} the log-probs of the
    episode's earlier steps (so a DiCE objective minus this term).

    Value 0 and first derivative 0 (each factor is 0 in value). Second derivative
    c_t (grad log pi_t grad w_{<t}^T + grad w_{<t} grad log pi_t^T): DiCE's Hessian multiplies
    exactly this cross-step matrix by the reward-to-go gamma^t G_t, so the term replaces that
    factor by gamma^t G_t - c_t. Expanding, (1 - magic(x))(1 - magic(y)) = 1 - magic(x) -
    magic(y) + magic(x + y); for c_t depending only on the history up to s_t, magic(w_{<t})
    and magic(w_{<=t}) have the same expected derivatives of every order (those of
    E[c_t]), and magic(log pi_t) has expected derivatives 0 (E over a_t of grad^k pi / pi is
    grad^k 1), so the term has zero mean at EVERY order, for any such c. (Written
    (1 - magic(w_{<t})) magic(log pi_t) c_t, as T-MAML's reference code has it, its gradient
    would be -c_t grad w_{<t}, whose mean grad E[c(s_t)] is not zero for a state-dependent c.)
    """
    T, B = logp.shape
    logp = logp * mask
    before = torch.cumsum(logp, 0) - logp
    term = (1.0 - magic_box(logp)) * (1.0 - magic_box(before)) * coef * mask
    return per_task_sum(term, n) / float(T * (B // n))


def kl_mean(kl: Tensor, mask: Tensor, n: int) -> Tensor:
    """Per-task mean of a per-step KL `[T, B]` over valid steps."""
    return per_task_mean(kl, mask, n)
