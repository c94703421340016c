"""The PG trajectory sampler: Gaussian-policy rollouts of many tasks in lockstep.

`sample(spec, family, params [n, P], tasks [n], K, horizon, seeds [n K])` runs K stochastic
rollouts per task, each task with its OWN parameter vector (after an inner step every task
has its own adapted policy), on one batched simulator of n K environments with one batched
policy call per time step: the mean network is `PolicySpec.apply` on stacked weights
(`[n, in, out]`, `torch.baddbmm`), the same population forward the ES side uses.

Flat parameter layout (`GaussianPolicy.flat()`): the `PolicySpec` mean parameters `[D]`,
then `act_dim` log-stds; `P = D + act_dim`. Actions are `mean + exp(log_std) * eps`,
unbounded (each task clips them to its own bounds, as the deterministic engine does with
`tanh` outputs); log-probabilities are SUMMED over action dimensions.

Randomness: rollout b's reset noise and its action noise at step t are pure functions of
`seeds[b]` (SplitMix64, `workbench.seeding`), so a rollout does not depend on which other
rollouts share its batch, and an iteration is reproduced exactly from its seeds.

Layout: rollouts are task-major, rollout b belongs to task b // K. Per-step tensors are
`[T, B]` (B = n K); `Batch.per_task(x)` views them as `[T, n, K]`. An environment that
reports done stops: its later steps are masked (`mask` 0) and add no reward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from workbench import rollout, seeding
from workbench.obs_normalization import Normalizer, chunk_stats, fold
from workbench.policies import PolicySpec
from workbench.rollout import check_fit, check_horizon, input_transform
from workbench.tasks.base import TaskFamily

# Keys separating a rollout's streams of randomness.
RESET, NOISE = 1, 2
LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class Batch:
    """K stochastic rollouts for each of n tasks, recorded step by step."""

    obs: Tensor  # [T, B, obs_dim] raw observations the actions were chosen on
    actions: Tensor  # [T, B, act_dim]
    rewards: Tensor  # [T, B] (0 on masked steps)
    logp: Tensor  # [T, B] log-probs under the sampling policy (0 on masked steps)
    means: Tensor  # [T, B, act_dim] the sampling policy's means (for KL terms)
    log_std: Tensor  # [n, act_dim] the sampling policies' log-stds
    mask: Tensor  # [T, B] 1.0 where the environment was alive when the action was taken
    dones: Tensor  # [T, B] bool: the environment reported done at this step
    tasks: Tensor  # [n] task ids
    K: int  # rollouts per task
    obs_mean: Tensor  # [obs_dim] the policy-input transform used: (obs - mean) * inv_std
    obs_inv_std: Tensor  # [obs_dim]
    obs_stats: Tensor  # [1 + 2 obs_dim] statistics of the observations seen (normaliser),
    #                    summed canonically as the ES engine does (`normalization.fold`)
    returns: Tensor  # [B] undiscounted return of each rollout (accumulated step by step, so
    #                  a rollout's value does not depend on the batch's size or layout)
    positions: Tensor | None = None  # [T + 1, B, 2] when recorded

    @property
    def T(self) -> int:
        return self.rewards.shape[0]

    @property
    def B(self) -> int:
        return self.rewards.shape[1]

    @property
    def n(self) -> int:
        return len(self.tasks)

    @property
    def lengths(self) -> Tensor:
        return self.mask.sum(0).to(torch.int64)

    @property
    def env_steps(self) -> int:
        return int(self.mask.sum())

    def per_task(self, x: Tensor) -> Tensor:
        """`[T, B, ...]` -> `[T, n, K, ...]` (a view)."""
        return x.reshape(x.shape[0], self.n, self.K, *x.shape[2:])

    def policy_input(self) -> Tensor:
        return (self.obs - self.obs_mean) * self.obs_inv_std


def split_params(spec: PolicySpec, params: Tensor) -> tuple[Tensor, Tensor]:
    """`params [n, D + act_dim]` -> mean parameters `[n, D]` and log-stds `[n, act_dim]`."""
    if params.dim() != 2 or params.shape[1] != spec.num_params + spec.act_dim:
        raise ValueError(f"parameters have shape {tuple(params.shape)}; this Gaussian policy "
                         f"({spec.describe()}) expects [n, {spec.num_params + spec.act_dim}] "
                         f"({spec.num_params} mean + {spec.act_dim} log-std)")
    return params[:, :spec.num_params], params[:, spec.num_params:]


def policy_means(spec: PolicySpec, params: Tensor, x: Tensor) -> Tensor:
    """Per-task means: `params [n, P]`, policy inputs `x [n, M, obs_dim]` -> `[n, M, act]`.

    Differentiable in `params` (stacked weights through `baddbmm`), so inner updates can be
    differentiated through.
    """
    mean_params, _ = split_params(spec, params)
    return spec.apply(spec.unflatten(mean_params), x.to(params.dtype))


def gaussian_log_prob(actions: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """Diagonal-Gaussian log-density summed over the last (action) dimension."""
    z = (actions - mean) * torch.exp(-log_std)
    return (-0.5 * z.square() - log_std - 0.5 * LOG_2PI).sum(-1)


def gaussian_kl(mean0: Tensor, log_std0: Tensor, mean1: Tensor, log_std1: Tensor) -> Tensor:
    """KL(N(mean0, std0) || N(mean1, std1)) for diagonal Gaussians, summed over actions."""
    var0, var1 = torch.exp(2 * log_std0), torch.exp(2 * log_std1)
    return (log_std1 - log_std0 + (var0 + (mean0 - mean1).square()) / (2 * var1) - 0.5).sum(-1)


def distribution(spec: PolicySpec, params: Tensor, batch: Batch) -> tuple[Tensor, Tensor]:
    """Means `[T, B, act]` and log-stds `[T, B, act]` of per-task policies `params [n, P]`
    on the batch's observations (task i's policy on task i's rollouts)."""
    T, n, K = batch.T, batch.n, batch.K
    if params.shape[0] != n:
        raise ValueError(f"got {params.shape[0]} parameter vectors for a batch of {n} tasks")
    x = batch.per_task(batch.policy_input())  # [T, n, K, obs]
    x = x.permute(1, 0, 2, 3).reshape(n, T * K, -1)
    mu = policy_means(spec, params, x).reshape(n, T, K, -1).permute(1, 0, 2, 3)
    _, log_std = split_params(spec, params)
    log_std = log_std[None, :, None, :].expand_as(mu)
    return mu.reshape(T, n * K, -1), log_std.reshape(T, n * K, -1)


def log_prob(spec: PolicySpec, params: Tensor, batch: Batch) -> Tensor:
    """`[T, B]` log-probs of the batch's actions under per-task policies `params [n, P]`,
    zero on masked steps."""
    mu, log_std = distribution(spec, params, batch)
    lp = gaussian_log_prob(batch.actions.to(mu.dtype), mu, log_std)
    return lp * batch.mask.to(lp.dtype)


def standard_normal(seeds: Tensor, n: int, dtype: torch.dtype) -> Tensor:
    """`[B, n]` N(0, 1) draws, row b a function of `seeds[b]` alone (Box-Muller)."""
    u = seeding.uniform(seeds, 2 * n)  # float64 in [0, 1)
    radius = torch.sqrt(-2.0 * torch.log1p(-u[:, :n]))  # 1 - u in (0, 1]
    return (radius * torch.cos(2.0 * math.pi * u[:, n:])).to(dtype)


@torch.no_grad()
def sample(spec: PolicySpec, family: TaskFamily, params: Tensor, tasks: Tensor, K: int,
           horizon: int, seeds: Tensor, normalizer: Normalizer | None = None,
           record: bool = False, dtype: torch.dtype = torch.float32,
           stop_when_done: bool = True) -> Batch:
    """K stochastic rollouts of `params[i]` on `tasks[i]` for every i, all in lockstep.

    `seeds [n K]` (task-major) drive each rollout's reset and action noise. The normaliser
    (if any) is read, not updated: the caller merges `Batch.obs_stats` afterwards. The loop
    is the ES engine's (`workbench.rollout.lockstep`), so returns, lengths and the
    observation statistics are accumulated as `evaluate` does. `stop_when_done=False`
    (remote slices, see `concat`) steps on to `horizon` after every rollout is done.
    """
    check_horizon(horizon)
    check_fit(spec, family)
    if not isinstance(K, int) or K < 1:
        raise ValueError(f"K (rollouts per task) must be a positive integer; got {K!r}")
    tasks = torch.as_tensor(tasks, dtype=torch.int64).reshape(-1)
    params = params.detach().to(dtype)
    n = len(tasks)
    if params.shape[0] != n:
        raise ValueError(f"got {params.shape[0]} parameter vectors but {n} task ids; "
                         f"sample pairs them one to one")
    mean_params, log_std = split_params(spec, params)
    seeds = torch.as_tensor(seeds, dtype=torch.int64).reshape(-1)
    B, act_dim = n * K, spec.act_dim
    if len(seeds) != B:
        raise ValueError(f"need one seed per rollout ({n} tasks x {K} = {B}); got {len(seeds)}")
    obs_mean, obs_inv_std = input_transform(normalizer, family.obs_dim, dtype)
    layers = spec.unflatten(mean_params)
    std = torch.exp(log_std).unsqueeze(1)  # [n, 1, act]
    # log N(a; mu, std) summed over actions, with a = mu + std eps: -|eps|^2/2 - sum log std - ...
    logp_const = -(log_std.sum(-1) + 0.5 * act_dim * LOG_2PI).repeat_interleave(K)  # [B]
    noise_seeds = seeding.derive_many(seeds, NOISE)

    def act(t: int, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        mu = spec.apply(layers, x.reshape(n, K, -1))
        eps = standard_normal(seeding.derive_many(noise_seeds, t), act_dim, dtype)
        actions = (mu + std * eps.reshape(n, K, act_dim)).reshape(B, act_dim)
        # log-probs before masking; multiplied by the mask below
        return actions, {"means": mu.reshape(B, act_dim),
                         "logp": -0.5 * eps.square().sum(-1) + logp_const}

    out = rollout.lockstep(family.make_sim(tasks.repeat_interleave(K), dtype), act, horizon,
                           (obs_mean, obs_inv_std), seeding.derive_many(seeds, RESET),
                           record, trace=("obs", "actions", "mask", "rewards", "dones"),
                           stop_when_done=stop_when_done)
    tr = out.trace
    return Batch(obs=tr["obs"], actions=tr["actions"], rewards=tr["rewards"],
                 logp=tr["logp"] * tr["mask"], means=tr["means"], log_std=log_std.clone(),
                 mask=tr["mask"], dones=tr["dones"], tasks=tasks, K=K, obs_mean=obs_mean,
                 obs_inv_std=obs_inv_std, obs_stats=out.obs_stats, returns=out.returns,
                 positions=out.positions)


def concat(batches: list[Batch]) -> Batch:
    """One batch from consecutive task slices sampled apart (the Ray backend), bitwise the
    batch one `sample` call over all the tasks returns.

    The slices must have been sampled with `stop_when_done=False`: one process stops when
    its last rollout is done, so the whole batch has `max(lengths)` steps, which a slice
    alone cannot know; the concatenation is cut there. The observation statistics are
    summed again from the observations and the mask, per rollout over time and then in
    chunks of rows aligned to row 0, exactly as `lockstep` sums them, so they do not depend
    on where the slices were cut.
    """
    if len(batches) == 1 and batches[0].T == int(batches[0].lengths.max()):
        return batches[0]
    K = batches[0].K
    mask = torch.cat([b.mask for b in batches], 1)
    lengths = mask.sum(0).to(torch.int64)
    T = int(lengths.max())

    def steps(name: str) -> Tensor:
        return torch.cat([getattr(b, name)[:T] for b in batches], 1)

    mask, obs = mask[:T], steps("obs")
    s1 = torch.zeros(obs.shape[1], obs.shape[2], dtype=torch.float64)
    s2 = torch.zeros_like(s1)
    for t in range(T):
        seen = torch.where(mask[t].bool().unsqueeze(1), obs[t].to(torch.float64), 0.0)
        s1 += seen
        s2 += seen * seen
    per_row = torch.cat([lengths.to(torch.float64).unsqueeze(1), s1, s2], 1)
    return Batch(obs=obs, actions=steps("actions"), rewards=steps("rewards"),
                 logp=steps("logp"), means=steps("means"),
                 log_std=torch.cat([b.log_std for b in batches]), mask=mask,
                 dones=steps("dones"), tasks=torch.cat([b.tasks for b in batches]), K=K,
                 obs_mean=batches[0].obs_mean, obs_inv_std=batches[0].obs_inv_std,
                 obs_stats=fold(chunk_stats(per_row)),
                 returns=torch.cat([b.returns for b in batches]))
