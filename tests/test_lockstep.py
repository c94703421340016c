"""The one lockstep loop (`workbench.rollout.lockstep`) behind both the ES engine and the PG
sampler: both route through it, the sampler's statistics are the canonical ones, and the
sampler agrees with a one-rollout-at-a-time scalar loop."""

from __future__ import annotations

import math

import pytest
import torch

from baselines.trajectories import NOISE, RESET, sample
from tests.test_rollout import scalar_policy
from tests.test_tasks import scalar_env
from workbench import rollout, seeding
from workbench.obs_normalization import STATS_CHUNK, Normalizer, chunk_stats, fold, stats_of
from workbench.policies import PolicySpec
from workbench.tasks import make_family


def gaussian_params(spec: PolicySpec, n: int, log_std: float, seed: int = 0,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mean = spec.init(g, dtype=dtype) + 0.3 * torch.randn(n, spec.num_params, generator=g,
                                                         dtype=dtype)
    return torch.cat([mean, torch.full((n, spec.act_dim), log_std, dtype=dtype)], 1)


def recorded_stats(batch) -> torch.Tensor:
    """The canonical statistics of the observations a batch recorded: each rollout's sums
    over its alive steps, in time order, then `chunk_stats` and `fold`."""
    alive = batch.mask.bool()
    obs = batch.obs.to(torch.float64)
    s1 = torch.zeros(batch.B, obs.shape[-1], dtype=torch.float64)
    s2 = torch.zeros_like(s1)
    for t in range(batch.T):
        seen = torch.where(alive[t].unsqueeze(1), obs[t], 0.0)
        s1 += seen
        s2 += seen * seen
    count = batch.lengths.to(torch.float64).unsqueeze(1)
    return fold(chunk_stats(torch.cat([count, s1, s2], 1)))


def test_sampler_stats_are_canonical_and_do_not_depend_on_the_split():
    family = make_family("nav2d")
    spec = PolicySpec.from_name("H", 2, 2, width=8)
    K = STATS_CHUNK // 4  # four tasks fill one chunk
    n = 8
    params = gaussian_params(spec, n, -0.5)
    tasks = family.train_ids[:n]
    seeds = torch.arange(n * K) + 11
    whole = sample(spec, family, params, tasks, K, 100, seeds)
    assert whole.dones.any() and not whole.mask.bool().all(), "cover episodes that end early"
    assert torch.equal(whole.obs_stats, recorded_stats(whole))
    seen = whole.obs[whole.mask.bool()]
    torch.testing.assert_close(whole.obs_stats, stats_of(seen), rtol=1e-12, atol=1e-9)
    # split at a STATS_CHUNK boundary: each half is one chunk, folded in order -> same bits
    half = n // 2
    a = sample(spec, family, params[:half], tasks[:half], K, 100, seeds[:half * K])
    b = sample(spec, family, params[half:], tasks[half:], K, 100, seeds[half * K:])
    assert torch.equal(fold(torch.stack([a.obs_stats, b.obs_stats])), whole.obs_stats)
    # an unaligned split still sums to the same statistics, up to rounding
    c = sample(spec, family, params[:3], tasks[:3], K, 100, seeds[:3 * K])
    d = sample(spec, family, params[3:], tasks[3:], K, 100, seeds[3 * K:])
    torch.testing.assert_close(c.obs_stats + d.obs_stats, whole.obs_stats,
                               rtol=1e-12, atol=1e-9)


def test_es_engine_and_pg_sampler_both_run_the_one_loop(monkeypatch):
    calls = []
    loop = rollout.lockstep

    def spy(sim, policy, horizon, transform, seeds=None, positions=False, trace=(), **kw):
        calls.append(tuple(trace))
        return loop(sim, policy, horizon, transform, seeds, positions, trace, **kw)

    monkeypatch.setattr(rollout, "lockstep", spy)
    family = make_family("cartpole-biased")
    spec = PolicySpec.from_name("H", family.obs_dim, family.act_dim, width=8)
    params = gaussian_params(spec, 2, -1.0)
    out = rollout.deterministic_rollouts(spec, family, params[:, :spec.num_params], family.train_ids[:2], 20)
    assert calls == [()] and out.trace is None, "the ES engine traces nothing"
    batch = sample(spec, family, params, family.train_ids[:2], 3, 20, torch.arange(6))
    assert len(calls) == 2 and set(calls[1]) == {"obs", "actions", "mask", "rewards", "dones"}
    assert batch.T <= 20


def test_lockstep_refuses_an_unknown_trace():
    family = make_family("nav2d")
    sim = family.make_sim(family.train_ids[:2])
    transform = rollout.input_transform(None, family.obs_dim, torch.float32)
    with pytest.raises(ValueError, match="cannot trace"):
        rollout.lockstep(sim, lambda t, x: torch.zeros(2, 2), 5, transform, trace=("logp",))


def scalar_normal(seed: int, t: int, k: int) -> list[float]:
    """Rollout `seed`'s action noise at step t: Box-Muller on its SplitMix64 uniforms."""
    u = seeding.uniform(torch.tensor([seeding.derive(seeding.derive(seed, NOISE), t)]), 2 * k)[0].tolist()
    return [math.sqrt(-2.0 * math.log1p(-u[j])) * math.cos(2.0 * math.pi * u[k + j])
            for j in range(k)]


@pytest.mark.parametrize("name", ["nav2d", "cartpole-biased"])
def test_sampler_equals_a_scalar_loop(name):
    """Rollout by rollout in Python floats: reset, Gaussian actions around the task's own
    policy, log-probs, rewards until done; then the masks and the statistics."""
    family = make_family(name)
    spec = PolicySpec.from_name("H", family.obs_dim, family.act_dim, width=6)
    n, K, horizon = 3, 4, 100
    dtype = torch.float64
    params = gaussian_params(spec, n, -0.3, seed=3, dtype=dtype)
    params[:, spec.num_params:] += torch.linspace(-0.3, 0.3, n, dtype=dtype).unsqueeze(1)
    tasks = family.train_ids[:n]
    seeds = torch.arange(n * K) + 40
    g = torch.Generator().manual_seed(9)
    norm = Normalizer(family.obs_dim)
    norm.update(stats_of(torch.randn(50, family.obs_dim, generator=g) * 0.5 + 0.1))
    batch = sample(spec, family, params, tasks, K, horizon, seeds, normalizer=norm,
                   dtype=dtype)
    mean, inv_std = norm.transform()
    seen, ended_early = [], False
    for b in range(n * K):
        i = b // K
        task = int(tasks[i])
        env = scalar_env(family, task)
        policy = scalar_policy(spec, params[i, :spec.num_params])
        log_std = params[i, spec.num_params:].tolist()
        if name == "cartpole-biased":
            sim = family.make_sim(tasks[i:i + 1], dtype)
            sim.reset(seeding.derive_many(seeds[b:b + 1], RESET))
            obs = env.reset(sim.state[0].tolist())
        else:
            obs = env.reset()
        total = 0.0
        for t in range(horizon):
            assert batch.mask[t, b] == 1.0, (b, t)
            torch.testing.assert_close(batch.obs[t, b].tolist(), list(obs), rtol=1e-9, atol=1e-9)
            seen.append(obs)
            x = ((torch.tensor(obs, dtype=dtype) - mean) * inv_std).tolist()
            mu = policy(x)
            eps = scalar_normal(int(seeds[b]), t, spec.act_dim)
            action = [m + math.exp(s) * e for m, s, e in zip(mu, log_std, eps)]
            logp = sum(-0.5 * e * e - s - 0.5 * math.log(2.0 * math.pi)
                       for s, e in zip(log_std, eps))
            torch.testing.assert_close(batch.means[t, b].tolist(), mu, rtol=1e-9, atol=1e-9)
            torch.testing.assert_close(batch.actions[t, b].tolist(), action,
                                       rtol=1e-9, atol=1e-9)
            assert batch.logp[t, b].item() == pytest.approx(logp, rel=1e-9, abs=1e-9)
            obs, reward, done = env.step(action)
            assert batch.rewards[t, b].item() == pytest.approx(reward, rel=1e-9, abs=1e-9)
            assert bool(batch.dones[t, b]) == bool(done), (b, t)
            total += reward
            if done:
                break
        steps = t + 1
        ended_early |= steps < horizon
        assert batch.lengths[b] == steps
        assert (batch.mask[steps:, b] == 0).all() and (batch.rewards[steps:, b] == 0).all()
        assert (batch.logp[steps:, b] == 0).all() and not batch.dones[steps:, b].any()
        assert batch.returns[b].item() == pytest.approx(total, rel=1e-9, abs=1e-9), b
    assert ended_early, "the test should cover rollouts that end early"
    torch.testing.assert_close(batch.obs_stats, stats_of(torch.tensor(seen, dtype=dtype)),
                               rtol=1e-9, atol=1e-9)


def test_a_batch_sampled_in_task_slices_concatenates_to_the_whole_batch():
    # cartpole-biased ends episodes early, so the whole batch stops before the horizon while
    # the slices (sampled as a Ray worker does, without stopping) run on: the concatenation
    # is cut where one process stops, and every field, obs_stats included, matches bitwise.
    import dataclasses
    from baselines.trajectories import concat
    from workbench.obs_normalization import Normalizer
    # NoRML's velocity-free view: these random policies drop the pole well before 80 steps
    family = make_family("cartpole-biased", observation="norml")
    spec = PolicySpec.from_name("H", family.obs_dim, family.act_dim, width=8)
    params = gaussian_params(spec, 5, 1.0)
    tasks, seeds = family.train_ids[:5], torch.arange(100, 115)
    norm = Normalizer(family.obs_dim)
    norm.update(torch.cat([torch.tensor([4.0]), torch.ones(family.obs_dim),
                           3 * torch.ones(family.obs_dim)]).double())
    whole = sample(spec, family, params, tasks, 3, 80, seeds, norm)
    assert whole.T < 80, "the test needs episodes that end before the horizon"
    for bounds in [[(0, 2), (2, 5)], [(0, 1), (1, 4), (4, 5)]]:
        parts = [sample(spec, family, params[a:b], tasks[a:b], 3, 80, seeds[3 * a:3 * b], norm,
                        stop_when_done=False) for a, b in bounds]
        assert all(p.T == 80 for p in parts)
        joined = concat(parts)
        for f in dataclasses.fields(whole):
            x, y = getattr(whole, f.name), getattr(joined, f.name)
            if isinstance(x, torch.Tensor):
                assert x.shape == y.shape and torch.equal(x, y), f.name
