"""Returns, the linear feature baseline, GAE and advantage normalisation, per task batch.

All tensors are `[T, B]` (time first, B = n K rollouts, task-major; see `baselines.trajectories`)
with a `mask [T, B]` of the steps that were taken. Everything here is computed once per
sampled batch and held fixed (no gradient) while the policy is optimised.

- `discount_cumsum`: y_t = x_t + c y_{t+1} along time, as one triangular matmul.
- `LinearFeatureBaseline` [rllab / ProMP]: least-squares value fit on the features
  `[clip(obs, +-10), obs^2, t, t^2, t^3, 1]` with t = step / 100, damped by 1e-5 * I (ten
  times more, up to 5 tries, when the solve fails or is not finite), fitted separately for
  each task's K rollouts and then evaluated on the same rollouts (as ProMP does).
- `gae`: delta_t = r_t + gamma V_{t+1} - V_t (V = 0 past the last step, as ProMP: no
  bootstrap at the horizon), A_t = sum_l (gamma lambda)^l delta_{t+l}; lambda = 1 gives
  A_t = G_t - V_t.
- `normalize`: per task, (A - mean) / (std + 1e-8) over the task's valid steps.
- `dice_rewards`: the per-step terms the DiCE surrogate multiplies its magic boxes with;
  see `baselines.dice`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from baselines.trajectories import Batch

BASELINES = ("linear", "zero")
EPS = 1e-8


def discount_cumsum(x: Tensor, discount: float) -> Tensor:
    """`y_t = sum_{l >= 0} discount^l x_{t+l}` along dim 0 of `x [T, ...]`."""
    T = x.shape[0]
    idx = torch.arange(T, dtype=torch.float64)
    lag = idx.unsqueeze(0) - idx.unsqueeze(1)  # [t, t'] = t' - t
    weights = torch.where(lag >= 0, torch.tensor(float(discount), dtype=torch.float64) ** lag.clamp(min=0),
                          torch.zeros((), dtype=torch.float64))
    flat = x.reshape(T, -1).to(torch.float64)
    return (weights @ flat).reshape(x.shape).to(x.dtype)


def discounted_returns(rewards: Tensor, mask: Tensor, gamma: float) -> Tensor:
    """Discounted rewards-to-go `G_t` of each rollout (0 on masked steps)."""
    return discount_cumsum(rewards * mask, gamma) * mask


class LinearFeatureBaseline:
    """Per-task linear value fit (rllab's / ProMP's `LinearFeatureBaseline`)."""

    def __init__(self, reg: float = 1e-5, tries: int = 5) -> None:
        self.reg = reg
        self.tries = tries

    @staticmethod
    def features(obs: Tensor) -> Tensor:
        """`obs [T, B, d]` -> `[T, B, 2 d + 4]`: clip(obs, +-10), obs^2, t, t^2, t^3, 1."""
        T, B = obs.shape[:2]
        o = obs.to(torch.float64).clamp(-10.0, 10.0)
        t = (torch.arange(T, dtype=torch.float64) / 100.0).reshape(T, 1, 1).expand(T, B, 1)
        return torch.cat([o, o.square(), t, t.square(), t ** 3, torch.ones_like(t)], -1)

    def fit_predict(self, obs: Tensor, targets: Tensor, mask: Tensor, n: int) -> Tensor:
        """Fit one linear model per task (n task-major groups of rollouts); predict `[T, B]`.

        Damped least squares `(F'F + reg I) c = F'y` on each task's valid steps; where the
        solve fails or is not finite the damping grows tenfold (up to `tries` times), and a
        task whose fit never succeeds gets a zero baseline.
        """
        T, B = targets.shape
        K = B // n
        feats = self.features(obs) * mask.to(torch.float64).unsqueeze(-1)  # [T, B, f]
        f = feats.shape[-1]
        F = feats.reshape(T, n, K, f).permute(1, 0, 2, 3).reshape(n, T * K, f)
        y = (targets.to(torch.float64) * mask).reshape(T, n, K).permute(1, 0, 2).reshape(n, T * K, 1)
        gram, rhs = F.transpose(1, 2) @ F, F.transpose(1, 2) @ y
        eye = torch.eye(f, dtype=torch.float64)
        coef = torch.zeros(n, f, 1, dtype=torch.float64)
        todo = torch.ones(n, dtype=torch.bool)
        reg = self.reg
        for _ in range(self.tries):
            sol, info = torch.linalg.solve_ex(gram[todo] + reg * eye, rhs[todo])
            good = (info == 0) & torch.isfinite(sol).all(-1).all(-1)
            idx = todo.nonzero().squeeze(1)
            coef[idx[good]] = sol[good]
            todo[idx[good]] = False
            if not todo.any():
                break
            reg *= 10.0
        pred = (F @ coef).reshape(n, T, K).permute(1, 0, 2).reshape(T, B)
        return (pred * mask).to(targets.dtype)


def gae(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float, lam: float) -> Tensor:
    """Generalised advantage estimates `[T, B]` (0 on masked steps)."""
    v = values * mask
    v_next = torch.cat([v[1:], torch.zeros_like(v[:1])]) * torch.cat([mask[1:], torch.zeros_like(mask[:1])])
    deltas = (rewards + gamma * v_next - v) * mask
    return discount_cumsum(deltas, gamma * lam) * mask


def group_stats(x: Tensor, mask: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """Mean and std `[n]` of `x [T, B]` over each task's valid steps."""
    T, B = x.shape
    xs = (x * mask).reshape(T, n, B // n)
    m = mask.reshape(T, n, B // n)
    count = m.sum((0, 2)).clamp(min=1.0)
    mean = xs.sum((0, 2)) / count
    var = ((xs - mean[None, :, None]).square() * m).sum((0, 2)) / count
    return mean, var.sqrt()


def normalize(x: Tensor, mask: Tensor, n: int, center: bool = True) -> Tensor:
    """Per task: `(x - mean) / (std + 1e-8)` over valid steps (`center=False`: `x / (std + 1e-8)`)."""
    mean, std = group_stats(x, mask, n)
    T, B = x.shape
    mean = mean.repeat_interleave(B // n).unsqueeze(0) if center else 0.0
    std = std.repeat_interleave(B // n).unsqueeze(0)
    return (x - mean) / (std + EPS) * mask


def dice_rewards(rewards: Tensor, values: Tensor, mask: Tensor, gamma: float) -> tuple[Tensor, Tensor]:
    """`(gamma^t r_t, gamma^t V_t)` per step: the DiCE surrogate's rewards and baselines."""
    disc = gamma ** torch.arange(rewards.shape[0], dtype=torch.float64)
    disc = disc.to(rewards.dtype).unsqueeze(1)
    return disc * rewards * mask, disc * values * mask


@dataclass
class Processed:
    """What the surrogates need from one batch (all `[T, B]`, fixed)."""

    advantages: Tensor  # GAE, normalised per task when asked
    returns: Tensor  # discounted rewards-to-go
    values: Tensor  # baseline predictions V(s_t)
    disc_rewards: Tensor  # gamma^t r_t, divided by the task's advantage std when normalising
    disc_values: Tensor  # gamma^t V_t, same scale
    dice_scale: Tensor | None = None  # [1, B] the factor disc_rewards / disc_values carry


def process(batch: Batch, gamma: float = 0.99, gae_lambda: float = 1.0,
            baseline: str = "linear", normalize_advantages: bool = True) -> Processed:
    """Returns, baseline, GAE and (optionally) per-task normalisation for one batch.

    With normalisation the DiCE terms are only *scaled* by the task's advantage std (no
    mean subtraction, which would bias DiCE when episode lengths vary).
    """
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; valid: {', '.join(BASELINES)}")
    mask = batch.mask
    rewards = batch.rewards
    returns = discounted_returns(rewards, mask, gamma)
    if baseline == "linear":
        values = LinearFeatureBaseline().fit_predict(batch.obs, returns, mask, batch.n)
    else:
        values = torch.zeros_like(returns)
    adv = gae(rewards, values, mask, gamma, gae_lambda)
    disc_r, disc_v = dice_rewards(rewards, values, mask, gamma)
    scale = torch.ones(1, batch.B, dtype=disc_r.dtype)
    if normalize_advantages:
        _, std = group_stats(adv, mask, batch.n)
        scale = (1.0 / (std + EPS)).repeat_interleave(batch.K).unsqueeze(0)
        disc_r, disc_v = disc_r * scale, disc_v * scale
        adv = normalize(adv, mask, batch.n)
    return Processed(adv, returns, values, disc_r, disc_v, scale)
