"""The rollout engine: N rollouts in lockstep, one batched policy call per step.

`lockstep(sim, policy, horizon, transform)` is the one time-step loop of the workbench. It
resets the batched simulator, and at each step hands the policy the normalised observations
`(obs - mean) * inv_std`, steps every environment with the actions it returns, masks the
environments that have reported done (they add no reward, no length and no observations
afterwards), and stops when all are done. It accumulates each rollout's return and length,
the statistics `[T, sum s, sum s^2]` of the observations the policies saw (for the global
normaliser) and, on request, positions and a per-step trace. The statistics are summed in
a canonical order (`normalization.chunk_stats`, `fold`: per-rollout sums over time, then
chunks of `STATS_CHUNK` rows) so that a batch split over workers at multiples of
`STATS_CHUNK` rows gives the same bits as one process.

Its two users differ only in the policy they pass and in what they keep:
- `deterministic_rollouts(spec, family, thetas [N, D], tasks [N], horizon)`: rollout i
  with the deterministic policy `thetas[i]` on task `tasks[i]`; every ES phase (perturbed
  points, adaptation queries, adapted points) is one such call.
- `baselines.trajectories.sample`: Gaussian-policy rollouts for the PG baselines, which also
  records the per-step trace (observations, actions, log-probs, means, mask, dones).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Union

import torch
from torch import Tensor

from workbench.obs_normalization import Normalizer, chunk_stats, fold
from workbench.policies import PolicySpec
from workbench.tasks.base import BatchedSim, TaskFamily

#: What `lockstep` itself can trace per step, each stacked to `[T, N, ...]`: the raw
#: observations the actions were chosen on, the actions, the alive mask (1.0 while the
#: environment had not reported done, in the simulator's dtype), the rewards times that mask,
#: and the steps at which an alive environment reported done (bool).
TRACEABLE = ("obs", "actions", "mask", "rewards", "dones")

#: `policy(t, x [N, obs_dim]) -> actions [N, act_dim]`, or `(actions, extras)` where
#: `extras` maps names to per-step tensors `[N, ...]` that `lockstep` stacks into the trace.
StepPolicy = Callable[[int, Tensor], Union[Tensor, tuple[Tensor, dict[str, Tensor]]]]


@dataclass
class Rollouts:
    returns: Tensor  # [N]
    lengths: Tensor  # [N] steps taken before done (horizon if never done)
    obs_stats: Tensor  # [1 + 2 obs_dim], float64: fold(obs_chunks)
    positions: Tensor | None = None  # [steps + 1, N, 2] when recorded
    obs_chunks: Tensor | None = None  # [ceil(N / STATS_CHUNK), 1 + 2 obs_dim] chunk sums
    trace: dict[str, Tensor] | None = None  # name -> [steps, N, ...] when traced

    @property
    def env_steps(self) -> int:
        return int(self.lengths.sum())


def check_horizon(horizon: int) -> int:
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer; got {horizon!r}")
    return horizon


def check_fit(spec: PolicySpec, family: TaskFamily) -> None:
    if spec.obs_dim != family.obs_dim or spec.act_dim != family.act_dim:
        raise ValueError(f"policy {spec.describe()} does not fit task {family.name} "
                         f"(obs_dim {family.obs_dim}, act_dim {family.act_dim})")


def input_transform(normalizer: Normalizer | None, obs_dim: int,
                    dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """`(mean, inv_std)` in `dtype` for policy inputs `(obs - mean) * inv_std` (identity
    without a normaliser). The normaliser is read, not updated."""
    norm = normalizer or Normalizer(obs_dim, enabled=False)
    mean, inv_std = norm.transform()
    return mean.to(dtype), inv_std.to(dtype)


def lockstep(sim: BatchedSim, policy: StepPolicy, horizon: int,
             transform: tuple[Tensor, Tensor], seeds: Tensor | None = None,
             positions: bool = False, trace: Iterable[str] = (),
             stop_when_done: bool = True) -> Rollouts:
    """Run every environment of `sim` for up to `horizon` steps, one `policy` call a step.

    `seeds [N]` drive the reset noise (`sim.reset`); `transform = (mean, inv_std)` maps raw
    observations to policy inputs. `positions` records `sim.position()` before the first
    step and after each; `trace` names what to stack per step out of `TRACEABLE`, to which
    the policy's extras (if it returns any) are added. With `stop_when_done` False the loop
    runs all `horizon` steps even after every environment is done (masked steps change no
    result; a Ray worker uses it so that its slice's trace covers every step the whole
    batch may take).
    """
    check_horizon(horizon)
    trace = tuple(trace)
    unknown = sorted(set(trace) - set(TRACEABLE))
    if unknown:
        raise ValueError(f"cannot trace {unknown}; lockstep traces {list(TRACEABLE)}")
    mean, inv_std = transform
    obs = sim.reset(seeds)
    n, obs_dim = obs.shape
    alive = torch.ones(n, dtype=torch.bool)
    returns = torch.zeros(n, dtype=sim.dtype)
    lengths = torch.zeros(n, dtype=torch.int64)
    # Per-rollout sums over time, reduced canonically at the end (normalization.chunk_stats):
    # a batch-wide sum per step would depend on the batch's size and split.
    s1 = torch.zeros(n, obs_dim, dtype=torch.float64)
    s2 = torch.zeros(n, obs_dim, dtype=torch.float64)
    if positions and sim.position() is None:
        raise ValueError(f"{sim.family.name}: its simulator has no positions to record "
                         f"(see TaskFamily.has_positions)")
    path = [sim.position().clone()] if positions else None
    steps: dict[str, list[Tensor]] = {k: [] for k in trace}
    masked = "mask" in trace or "rewards" in trace
    all_alive = True
    for t in range(horizon):
        seen = obs.to(torch.float64)
        if not all_alive:
            seen = torch.where(alive.unsqueeze(1), seen, 0.0)
        s1 += seen
        s2 += seen * seen
        out = policy(t, (obs - mean) * inv_std)
        actions, extras = out if isinstance(out, tuple) else (out, None)
        if extras:
            for k, v in extras.items():
                steps.setdefault(k, []).append(v)
        live = alive.to(sim.dtype) if masked else None
        if "obs" in steps:
            steps["obs"].append(obs)
        if "actions" in steps:
            steps["actions"].append(actions)
        if "mask" in steps:
            steps["mask"].append(live)
        obs, reward, done = sim.step(actions)
        if all_alive:
            returns += reward
            lengths += 1
        else:
            returns += torch.where(alive, reward, 0.0)
            lengths += alive
        if "rewards" in steps:
            steps["rewards"].append(reward * live)
        if "dones" in steps:
            steps["dones"].append(done & alive)
        if positions:
            path.append(sim.position().clone())
        if done.any():
            alive = alive & ~done
            all_alive = False
            if stop_when_done and not alive.any():
                break
    # A rollout saw one observation per step it was alive for: its length.
    chunks = chunk_stats(torch.cat([lengths.to(torch.float64).unsqueeze(1), s1, s2], 1))
    return Rollouts(returns, lengths, fold(chunks), torch.stack(path) if positions else None,
                    chunks, {k: torch.stack(v) for k, v in steps.items()} if steps else None)


@torch.no_grad()
def deterministic_rollouts(spec: PolicySpec, family: TaskFamily, thetas: Tensor, tasks: Tensor,
             horizon: int, normalizer: Normalizer | None = None, seeds: Tensor | None = None,
             record: bool = False, dtype: torch.dtype = torch.float32) -> Rollouts:
    """Roll out `thetas[i]` on `tasks[i]` for up to `horizon` steps, all in lockstep.

    `seeds [N]` drive each rollout's reset noise (default: 0..N-1); the normaliser is read,
    not updated (the caller merges `obs_stats` after the phase, as the reference does).
    `record` keeps the positions.
    """
    check_horizon(horizon)
    check_fit(spec, family)
    thetas = spec.check(thetas).to(dtype)
    tasks = torch.as_tensor(tasks, dtype=torch.int64).reshape(-1)
    n = thetas.shape[0]
    if len(tasks) != n:
        raise ValueError(f"got {n} parameter vectors but {len(tasks)} task ids; "
                         f"evaluate pairs them one to one")
    layers = spec.unflatten(thetas)

    def act(t: int, x: Tensor) -> Tensor:
        return spec.apply(layers, x.unsqueeze(1)).squeeze(1)

    return lockstep(family.make_sim(tasks, dtype), act, horizon,
                    input_transform(normalizer, family.obs_dim, dtype), seeds, record)
