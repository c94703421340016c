"""The batched engine against a per-rollout scalar loop, and the normaliser's merging."""

from __future__ import annotations

import pytest
import torch

from tests.test_tasks import scalar_env
from workbench.obs_normalization import Normalizer, stats_of
from workbench.policies import PolicySpec
from workbench.rollout import deterministic_rollouts
from workbench.tasks import make_family


def scalar_policy(spec: PolicySpec, theta: torch.Tensor):
    """One policy, written as explicit sums over Python floats."""
    layers, at = [], 0
    for fan_in, fan_out in spec.layer_sizes:
        w = theta[at:at + fan_in * fan_out].reshape(fan_in, fan_out).tolist()
        at += fan_in * fan_out
        layers.append((w, theta[at:at + fan_out].tolist()))
        at += fan_out

    def tanh(v):  # torch's tanh, as the engine: math.tanh differs in the last bit
        return torch.tanh(torch.tensor(v, dtype=torch.float64)).item()

    hidden = tanh if spec.activation == "tanh" else (lambda v: max(v, 0.0))

    def act(obs):
        x = list(obs)
        for i, (w, b) in enumerate(layers):
            x = [sum(x[k] * w[k][j] for k in range(len(x))) + b[j] for j in range(len(b))]
            x = [tanh(v) if i == len(layers) - 1 else hidden(v) for v in x]
        return x
    return act


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("name,arch", [("nav2d", "L"), ("four-corners", "H"),
                                       ("six-circles", "L"), ("cartpole-biased", "H")])
def test_engine_returns_equal_scalar_loop(name, arch, activation):
    family = make_family(name)
    spec = PolicySpec.from_name(arch, family.obs_dim, family.act_dim, width=6,
                                activation=activation)
    g = torch.Generator().manual_seed(4)
    n, horizon = 12, 60
    thetas = spec.init(g, dtype=torch.float64) + \
        0.5 * torch.randn(n, spec.num_params, generator=g, dtype=torch.float64)
    tasks = family.sample_tasks(n, g)
    seeds = torch.arange(50, 50 + n)
    norm = Normalizer(family.obs_dim)
    norm.update(stats_of(torch.randn(30, family.obs_dim, generator=g) * 0.5 + 0.2))
    out = deterministic_rollouts(spec, family, thetas, tasks, horizon, normalizer=norm, seeds=seeds,
                   dtype=torch.float64)
    mean, inv_std = norm.transform()
    seen, lengths = [], []
    for i in range(n):
        env, act = scalar_env(family, int(tasks[i])), scalar_policy(spec, thetas[i])
        if name == "cartpole-biased":
            sim = family.make_sim(tasks[i:i + 1], torch.float64)
            sim.reset(seeds[i:i + 1])
            obs = env.reset(sim.state[0].tolist())
        else:
            obs = env.reset()
        total = 0.0
        for t in range(horizon):
            seen.append(obs)
            x = ((torch.tensor(obs, dtype=torch.float64) - mean) * inv_std).tolist()
            obs, reward, done = env.step(act(x))
            total += reward
            if done:
                break
        lengths.append(t + 1)
        assert out.returns[i].item() == pytest.approx(total, rel=1e-9, abs=1e-9), i
    assert out.lengths.tolist() == lengths
    torch.testing.assert_close(out.obs_stats, stats_of(torch.tensor(seen, dtype=torch.float64)), rtol=1e-9, atol=1e-9)
    if name in ("nav2d", "cartpole-biased"):
        assert min(lengths) < horizon, "the test should cover rollouts that end early"


def test_engine_records_positions_and_is_deterministic():
    family = make_family("four-corners")
    spec = PolicySpec.from_name("L", 2, 2)
    thetas = spec.init(torch.Generator().manual_seed(0)).repeat(4, 1)
    a = deterministic_rollouts(spec, family, thetas, torch.arange(4), 30, record=True)
    b = deterministic_rollouts(spec, family, thetas, torch.arange(4), 30, record=True)
    assert a.positions.shape == (31, 4, 2) and torch.equal(a.positions[0], torch.zeros(4, 2))
    assert torch.equal(a.returns, b.returns) and torch.equal(a.positions, b.positions)
    assert a.env_steps == 120


def test_normaliser_merged_from_parts_equals_concatenated():
    g = torch.Generator().manual_seed(5)
    data = torch.randn(1000, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.0]) \
        + torch.tensor([2.0, -1.0, 3.0])
    whole = Normalizer(3)
    whole.update(stats_of(data))
    parts = Normalizer(3)
    for chunk in data.split([1, 99, 400, 500]):
        parts.update(stats_of(chunk))
    torch.testing.assert_close(parts.stats, whole.stats)
    torch.testing.assert_close(parts.mean, data.mean(0))
    torch.testing.assert_close(parts.std[:2], data.std(0, unbiased=False)[:2])
    assert parts.std[2] == 1.0, "a zero std reads as 1"
    x = torch.tensor([[2.0, -1.0, 3.0]], dtype=torch.float64)
    torch.testing.assert_close(parts(x)[0, 2], torch.tensor(0.0, dtype=torch.float64))
    fresh = Normalizer(3)
    fresh.load_state_dict(parts.state_dict())
    torch.testing.assert_close(fresh(data), parts(data))
    assert torch.equal(Normalizer(3, enabled=False)(data), data)


def test_normaliser_maps_norml_cartpoles_constant_velocity_entries_to_zero():
    """Under NoRML's view both velocity entries are always -1 (docs/tasks.md). The running
    normaliser must turn a constant input into exactly 0 (centred, std read as 1), not
    into noise from a tiny rounding variance or a division by ~0."""
    family = make_family("cartpole-biased", observation="norml")
    spec = PolicySpec.from_name("L", 4, 1)
    n = len(family.train_ids)
    out = deterministic_rollouts(spec, family, torch.zeros(n, spec.num_params), family.train_ids, 50)
    norm = Normalizer(4)
    norm.update(out.obs_stats)
    obs = family.make_sim(family.train_ids[:3]).reset()
    assert obs[:, 1].eq(-1).all() and obs[:, 3].eq(-1).all()
    z = norm(obs.double())
    assert z[:, 1].eq(0).all() and z[:, 3].eq(0).all()
    assert norm.std[1] == 1.0 and norm.std[3] == 1.0
    assert z[:, [0, 2]].abs().gt(0).all()  # the informative entries still vary
