"""The rollout engine: N deterministic rollouts in lockstep, one batched policy call per step.

`evaluate(spec, family, thetas [N, D], tasks [N], horizon)` runs rollout i with policy
`thetas[i]` on task `tasks[i]` and returns each rollout's return plus the statistics
`[T, sum s, sum s^2]` of the observations the policies saw, for the global normaliser,
summed in a canonical order (`normalization.chunk_stats`, `fold`) so that a population split
over workers at multiples of `STATS_CHUNK` rows gives the same bits as one process.
Every ES phase (perturbed points, adaptation queries, adapted points) is one such call.
An environment that reports done stops accumulating reward; the batch stops stepping when
all are done.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from workbench.normalization import Normalizer, chunk_stats, fold
from workbench.policies import PolicySpec
from workbench.tasks.base import TaskFamily


@dataclass
class Rollouts:
    returns: Tensor  # [N]
    lengths: Tensor  # [N] steps taken before done (horizon if never done)
    obs_stats: Tensor  # [1 + 2 obs_dim], float64: fold(obs_chunks)
    positions: Tensor | None = None  # [steps + 1, N, 2] when recorded
    obs_chunks: Tensor | None = None  # [ceil(N / STATS_CHUNK), 1 + 2 obs_dim] chunk sums

    @property
    def env_steps(self) -> int:
        return int(self.lengths.sum())


def check_horizon(horizon: int) -> int:
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer; got {horizon!r}")
    return horizon


@torch.no_grad()
def evaluate(spec: PolicySpec, family: TaskFamily, thetas: Tensor, tasks: Tensor,
             horizon: int, normalizer: Normalizer | None = None, seeds: Tensor | None = None,
             record: bool = False, dtype: torch.dtype = torch.float32) -> Rollouts:
    """Roll out `thetas[i]` on `tasks[i]` for up to `horizon` steps, all in lockstep.

    `seeds [N]` drive each rollout's reset noise (default: 0..N-1); the normaliser is read,
    not updated (the caller merges `obs_stats` after the phase, as the reference does).
    """
    check_horizon(horizon)
    if spec.obs_dim != family.obs_dim or spec.act_dim != family.act_dim:
        raise ValueError(f"policy {spec.describe()} does not fit task {family.name} "
                         f"(obs_dim {family.obs_dim}, act_dim {family.act_dim})")
    thetas = spec.check(thetas).to(dtype)
    tasks = torch.as_tensor(tasks, dtype=torch.int64).reshape(-1)
    n = thetas.shape[0]
    if len(tasks) != n:
        raise ValueError(f"got {n} parameter vectors but {len(tasks)} task ids; "
                         f"evaluate pairs them one to one")
    layers = spec.unflatten(thetas)
    norm = normalizer or Normalizer(family.obs_dim, enabled=False)
    mean, inv_std = (t.to(dtype) for t in norm.transform())

    sim = family.make_sim(tasks, dtype)
    obs = sim.reset(seeds)
    alive = torch.ones(n, dtype=torch.bool)
    returns = torch.zeros(n, dtype=dtype)
    lengths = torch.zeros(n, dtype=torch.int64)
    # Per-rollout sums over time, reduced canonically at the end (normalization.chunk_stats):
    # a batch-wide sum per step would depend on the batch's size and split.
    s1 = torch.zeros(n, family.obs_dim, dtype=torch.float64)
    s2 = torch.zeros(n, family.obs_dim, dtype=torch.float64)
    positions = [sim.position().clone()] if record else None
    all_alive = True
    for _ in range(horizon):
        seen = obs.to(torch.float64)
        if not all_alive:
            seen = torch.where(alive.unsqueeze(1), seen, 0.0)
        s1 += seen
        s2 += seen * seen
        actions = spec.apply(layers, ((obs - mean) * inv_std).unsqueeze(1)).squeeze(1)
        obs, reward, done = sim.step(actions)
        if all_alive:
            returns += reward
            lengths += 1
        else:
            returns += torch.where(alive, reward, 0.0)
            lengths += alive
        if record:
            positions.append(sim.position().clone())
        if done.any():
            alive = alive & ~done
            all_alive = False
            if not alive.any():
                break
    # A rollout saw one observation per step it was alive for: its length.
    chunks = chunk_stats(torch.cat([lengths.to(torch.float64).unsqueeze(1), s1, s2], 1))
    return Rollouts(returns, lengths, fold(chunks), torch.stack(positions) if record else None,
                    chunks)
