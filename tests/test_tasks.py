"""Each batched simulator against its plain-Python oracle, step by step, plus splits and sampling."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from tests.scalar_tasks import (ScalarBiasedCartPole, ScalarFourCorners, ScalarNav2D,
                                ScalarSixCircles)
from workbench import seeding
from workbench.tasks import make_family

POINT_TASKS = ["nav2d", "four-corners", "four-corners-penalty", "six-circles"]


def scalar_env(family, task: int):
    p = family.table[task].tolist()
    if family.name == "nav2d":
        return ScalarNav2D(p)
    if family.name.startswith("four-corners"):
        return ScalarFourCorners(int(p[2]), family.params["penalty"])
    if family.name == "six-circles":
        correct = [i for i, m in enumerate(p) if m > 0.5]
        return ScalarSixCircles(correct, int(family.params["num_goals"]),
                                family.params["penalty"])
    return ScalarBiasedCartPole(p[0], family.params["integrator"],
                                family.params["observation"])


def point_actions(family, tasks, steps: int, g: torch.Generator) -> torch.Tensor:
    """Action sequences [steps, B, 2] that hit the walls and tour the goals.

    Half the batch random-walks with a strong drift (so positions hit the clip bounds and
    actions exceed the 0.1 clip); the other half steers to a sequence of targets (goals,
    wrong corners, circles) so that sparse rewards, penalties and Six Circles'
    deactivation all occur.
    """
    b = len(tasks)
    drift = torch.randn(b, 2, generator=g, dtype=torch.float64)
    actions = drift + 0.5 * torch.randn(steps, b, 2, generator=g, dtype=torch.float64)
    targets = 2.9 * torch.randn(steps // 20 + 1, b, 2, generator=g, dtype=torch.float64)
    if family.name == "six-circles":
        pick = torch.randint(0, len(family.goals), (steps // 20 + 1, b), generator=g)
        targets = family.goals[pick]
    pos = torch.zeros(b, 2, dtype=torch.float64)
    steer = torch.empty(steps, b, 2, dtype=torch.float64)
    for t in range(steps):
        steer[t] = (targets[t // 20] - pos) * 10
        pos = (pos + steer[t].clamp(-0.1, 0.1)).clamp(-family.bound, family.bound)
    half = b // 2
    actions[:, half:] = steer[:, half:]
    return actions


@pytest.mark.parametrize("mode", ["clip", "scale"])
@pytest.mark.parametrize("name", POINT_TASKS)
def test_point_tasks_match_scalar_oracle(name, mode):
    family = make_family(name, actions=mode)
    g = torch.Generator().manual_seed(1)
    tasks = family.sample_tasks(24, g)
    steps = 160
    actions = point_actions(family, tasks, steps, g)
    sim = family.make_sim(tasks, torch.float64)
    obs = sim.reset()
    oracles = [scalar_env(family, int(t)) for t in tasks]
    for o in oracles:
        o.actions = mode
    ref_obs = torch.tensor([o.reset() for o in oracles], dtype=torch.float64)
    assert torch.equal(obs, ref_obs)
    alive = [True] * len(tasks)
    seen = {"clip": False, "done": False, "deactivated": False, "penalty": False}
    for t in range(steps):
        obs, reward, done = sim.step(actions[t])
        for i, o in enumerate(oracles):
            if not alive[i]:
                continue  # the oracle stops at done; the engine masks later steps
            r_obs, r_rew, r_done = o.step(actions[t, i].tolist())
            assert obs[i].tolist() == r_obs, (t, i)
            assert reward[i].item() == pytest.approx(r_rew, rel=1e-12, abs=1e-9), (t, i)
            assert bool(done[i]) == r_done, (t, i)
            alive[i] = not r_done
            seen["clip"] |= max(abs(v) for v in r_obs) == family.bound
            seen["done"] |= r_done
            seen["penalty"] |= r_rew < -1000
            seen["deactivated"] |= bool(getattr(o, "visited", None))
    assert seen["clip"], "no action sequence reached the position bound"
    if name == "nav2d":
        assert seen["done"]
    if name in ("four-corners-penalty", "six-circles"):
        assert seen["penalty"], "no rollout entered a wrong goal's penalty region"
    if name == "six-circles":
        assert seen["deactivated"], "no correct goal was ever reached and switched off"


@pytest.mark.parametrize("observation", ["norml", "full"])
@pytest.mark.parametrize("integrator", ["euler", "semi-implicit"])
def test_cartpole_matches_scalar_oracle(integrator, observation):
    family = make_family("cartpole-biased", integrator=integrator, observation=observation)
    g = torch.Generator().manual_seed(2)
    tasks = family.sample_tasks(16, g)
    sim = family.make_sim(tasks, torch.float64)
    seeds = torch.arange(100, 116)
    obs = sim.reset(seeds)
    oracles = [scalar_env(family, int(t)) for t in tasks]
    for i, o in enumerate(oracles):
        assert o.reset(sim.state[i].tolist()) == pytest.approx(obs[i].tolist(), abs=1e-15)
    alive = [True] * 16
    for t in range(200):
        actions = torch.rand(16, 1, generator=g, dtype=torch.float64) * 3 - 1.5
        obs, reward, done = sim.step(actions)
        for i, o in enumerate(oracles):
            if alive[i]:
                r_obs, r_rew, r_done = o.step(actions[i].tolist())
                assert obs[i].tolist() == pytest.approx(r_obs, rel=1e-12, abs=1e-12)
                assert (reward[i].item(), bool(done[i])) == (r_rew, r_done)
                alive[i] = not r_done
    assert not any(alive), "random forces should topple every pole within 200 steps"


@pytest.mark.parametrize("integrator", ["euler", "semi-implicit euler"])
def test_cartpole_zero_bias_matches_gymnasium(integrator):
    ours = "euler" if integrator == "euler" else "semi-implicit"
    family = make_family("cartpole-biased", integrator=ours, observation="full", num_biases=5,
                         num_train=4, num_test=1)
    zero = int((family.table[:, 0].abs() < 1e-15).nonzero()[0])
    env = gym.make("CartPole-v1").unwrapped
    env.kinematics_integrator = integrator
    g = torch.Generator().manual_seed(3)
    for episode in range(5):
        env.reset(seed=episode)
        sim = family.make_sim(torch.tensor([zero]), torch.float64)
        sim.reset(torch.tensor([episode]))
        env.state = sim.state[0].numpy().copy()
        for t in range(500):
            a = int(torch.randint(0, 2, (1,), generator=g))
            gym_obs, gym_rew, gym_term, _, _ = env.step(a)
            obs, rew, done = sim.step(torch.tensor([[2.0 * a - 1.0]], dtype=torch.float64))
            assert sim.state[0].tolist() == pytest.approx(env.state.tolist(), abs=1e-6)
            # observation=full at zero bias is the state; gymnasium returns it in float32
            assert obs[0].tolist() == pytest.approx(gym_obs.tolist(), abs=1e-6)
            assert bool(done[0]) == gym_term
            # gymnasium pays 1 on the failing step too; this task pays 0 there (NoRML).
            assert rew.item() == (0.0 if gym_term else gym_rew)
            if gym_term:
                break
        assert gym_term, "a random policy should fail within 500 steps"


def range_normalize_reference(observ: np.ndarray) -> np.ndarray:
    """NoRML's RangeNormalize formula on gym's CartPole bounds, written from the formula.

    gym (>= 0.12.1, which NoRML pins) declares CartPole's observation space as a float32 Box
    with high = (2 * x_threshold, float32 max, 2 * theta_threshold, float32 max), low = -high.
    gymnasium's CartPole-v1 declares inf for the velocities instead, so the bounds are built
    here. The observation is float64 (gym returns `np.array(state)`); `high - low` stays a
    float32 subtraction and overflows to inf for the velocities.
    """
    unwrapped = gym.make("CartPole-v1").unwrapped
    big = np.finfo(np.float32).max
    high = np.array([2 * unwrapped.x_threshold, big, 2 * unwrapped.theta_threshold_radians, big],
                    dtype=np.float32)
    low = -high
    with np.errstate(over="ignore"):
        return 2 * (observ - low) / (high - low) - 1


def test_range_normalize_reference_needs_a_float64_observation():
    """The constant -1 velocity entries come from float64 / float32-inf; had the observation
    itself been float32, `2 * (obs - low)` would overflow too and give NaN."""
    state = np.array([0.3, -1.7, 0.05, 2.5])
    out = range_normalize_reference(state)
    assert out.dtype == np.float64
    assert out[1] == out[3] == -1.0
    assert out[0] == pytest.approx(0.3 / 4.8, rel=1e-7)
    assert out[2] == pytest.approx(0.05 / (24 * math.pi / 180), rel=1e-7)
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(range_normalize_reference(state.astype(np.float32))[[1, 3]]).all()


@pytest.mark.parametrize("integrator", ["euler", "semi-implicit euler"])
def test_cartpole_norml_observation_is_range_normalized_gymnasium_state(integrator):
    """observation=norml equals RangeNormalize (a NumPy re-implementation) applied to
    gymnasium CartPole-v1's state with the bias added to the angle."""
    ours = "euler" if integrator == "euler" else "semi-implicit"
    family = make_family("cartpole-biased", integrator=ours, observation="norml")
    assert family.params["observation"] == "norml" and family.obs_dim == 4
    tasks = torch.tensor([int(family.table[:, 0].argmin()), int(family.table[:, 0].argmax()),
                          int(family.train_ids[0])])
    biases = family.table[tasks, 0].numpy()
    g = torch.Generator().manual_seed(5)
    steps = 0
    for i, task in enumerate(tasks):
        env = gym.make("CartPole-v1").unwrapped
        env.kinematics_integrator = integrator
        env.reset(seed=i)
        sim = family.make_sim(task.reshape(1), torch.float64)
        obs = sim.reset(torch.tensor([30 + i]))
        env.state = sim.state[0].numpy().copy()
        for t in range(500):
            expect = range_normalize_reference(env.state + np.array([0.0, 0.0, biases[i], 0.0]))
            np.testing.assert_allclose(obs[0].numpy(), expect, rtol=0, atol=1e-12)
            assert obs[0, 1].item() == obs[0, 3].item() == -1.0
            a = int(torch.randint(0, 2, (1,), generator=g))
            _, _, gym_term, _, _ = env.step(a)
            obs, _, done = sim.step(torch.tensor([[2.0 * a - 1.0]], dtype=torch.float64))
            steps += 1
            assert bool(done[0]) == gym_term
            if gym_term:
                break
    assert steps > 30
    # float32 simulators (the rollout engine's default) give the same -1 entries, no NaN
    sim = family.make_sim(tasks)
    obs = sim.reset(torch.tensor([1, 2, 3]))
    for _ in range(5):
        assert torch.isfinite(obs).all() and (obs[:, [1, 3]] == -1.0).all()
        obs, _, _ = sim.step(torch.full((3, 1), 0.7))


def test_cartpole_observation_parameter_is_checked():
    with pytest.raises(ValueError, match="config key 'task.observation' must be one of "
                                         "full, norml; got 'raw'"):
        make_family("cartpole-biased", observation="raw")


@pytest.mark.parametrize("observation", ["norml", "full"])
def test_cartpole_bias_changes_only_observed_angle(observation):
    family = make_family("cartpole-biased", observation=observation)
    lo, hi = int(family.table[:, 0].argmin()), int(family.table[:, 0].argmax())
    sim = family.make_sim(torch.tensor([lo, hi]), torch.float64)
    obs = sim.reset(torch.tensor([7, 7]))
    assert torch.equal(sim.state[0], sim.state[1])
    actions = torch.tensor([[0.3], [0.3]], dtype=torch.float64)
    for _ in range(10):
        obs, reward, done = sim.step(actions)
        assert torch.equal(sim.state[0], sim.state[1])
        assert torch.equal(obs[:, [0, 1, 3]][0], obs[:, [0, 1, 3]][1])
        # norml divides the angle (and so the bias) by its float32 half-range, 24 degrees
        scale = 1.0 if observation == "full" else float(np.float32(24 * math.pi / 180))
        assert obs[1, 2] - obs[0, 2] == pytest.approx(2 * math.pi / 18 / scale)
        assert torch.equal(reward[0], reward[1]) and torch.equal(done[0], done[1])


def test_cartpole_reset_noise_is_per_rollout_and_in_range():
    family = make_family("cartpole-biased")
    sim = family.make_sim(family.train_ids[:6], torch.float64)
    a = sim.reset(torch.arange(6)).clone()
    state_a = sim.state.clone()
    sim.set_task(family.train_ids[2:5])
    sim.reset(torch.arange(2, 5))
    assert torch.equal(sim.state, state_a[2:5])
    assert state_a.abs().max() < 0.05 and a.shape == (6, 4)


def test_splitmix_matches_python_reference():
    def splitmix(seed: int, n: int) -> list[float]:
        mask = (1 << 64) - 1

        def mix(z):
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
            return z ^ (z >> 31)
        state = mix(seed & mask)
        return [(mix((state + (j + 1) * 0x9E3779B97F4A7C15) & mask) >> 11) * 2.0 ** -53
                for j in range(n)]

    seeds = torch.tensor([0, 1, 12345, 2 ** 40 + 7])
    ours = seeding.uniform(seeds, 5)
    for i, s in enumerate(seeds.tolist()):
        assert ours[i].tolist() == splitmix(s, 5)


def test_splits_are_fixed_disjoint_and_sampling_is_without_replacement():
    nav = make_family("nav2d")
    assert (len(nav.train_ids), len(nav.test_ids)) == (50, 5)
    assert torch.equal(nav.table, make_family("nav2d").table), "split_seed fixes the split"
    assert not torch.equal(nav.table, make_family("nav2d", split_seed=1).table)
    cart = make_family("cartpole-biased")
    assert not set(cart.train_ids.tolist()) & set(cart.test_ids.tolist())
    corners = make_family("four-corners")
    assert corners.train_ids.tolist() == corners.test_ids.tolist() == [0, 1, 2, 3]
    assert make_family("six-circles").num_tasks == 15
    assert make_family("six-circles", num_goals=4, num_correct=1).num_tasks == 4
    g = torch.Generator().manual_seed(0)
    ids = nav.sample_tasks(50, g)
    assert sorted(ids.tolist()) == list(range(50))
    ids = corners.sample_tasks(12, g)
    assert [ids[i:i + 4].sort().values.tolist() for i in (0, 4, 8)] == [[0, 1, 2, 3]] * 3


def test_meta_env_interface():
    family = make_family("four-corners")
    env = family.make_env()
    env.set_task(2)
    assert env.get_task() == 2
    obs, _ = env.reset(seed=0)
    obs, reward, done, truncated, _ = env.step([-1.0, -1.0])
    assert obs.tolist() == pytest.approx([-0.1, -0.1])
    assert reward == -4.0 and not done and not truncated  # d^2 = 7.22: outside radius 2
    assert len(set(env.sample_tasks(4, seed=1))) == 4
