"""MuJoCo locomotion families against gymnasium's own v5 environments (the oracle).

- From the same initial qpos/qvel and the same actions, the batched simulator's observations,
  forward velocities, control costs, rewards and termination steps equal those of
  `gym.make("<Robot>-v5")`.
- The batched engine (`mujoco.batch.Batch`) is bit-identical to the per-simulation `mj_step`
  loop, on one and two threads, through the whole rollout engine.
- Task rewards: Forward-Backward flips sign with d, Goal-Velocity peaks at v*, Goal-Position
  is the L1 distance of the torso's xy to the goal.
- Default reward weights are prior meta-RL work's (ProMP) for the non-Ant robots and the
  paper's (A.7.1) for Ant; the parity tests set v5's weights explicitly.
- Terminated simulations stop being stepped.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from workbench.obs_normalization import Normalizer, stats_of
from workbench.policies import PolicySpec
from workbench.rollout import deterministic_rollouts
from workbench.tasks.locomotion import (FAMILIES, AntFB, AntGoal, AntGV, HalfCheetahFB,
                                        HalfCheetahGV, SwimmerFB, Walker2dFB, Walker2dGV)
from workbench.tasks.mujoco_sim import reset_state

NAMES = {cls.name: cls for cls in FAMILIES}

# gymnasium v5's default weights (gymnasium/envs/mujoco/*_v5.py), set explicitly on our
# families whenever they are compared with gym.make("<Robot>-v5").
V5_WEIGHTS = {
    "HalfCheetah-v5": {"ctrl_cost_weight": 0.1},
    "Swimmer-v5": {"ctrl_cost_weight": 1e-4},
    "Walker2d-v5": {"ctrl_cost_weight": 1e-3, "healthy_reward": 1.0},
    "Ant-v5": {"ctrl_cost_weight": 0.5},  # Ant's healthy reward stays 0 (A.7.1), see below
}


def gym_env(family):
    kwargs = {}
    if family.robot.gym_id.startswith("Ant"):
        # v5's Ant with the ES-MAML settings: no cfrc_ext in the observation, no termination
        kwargs = {"include_cfrc_ext_in_observation": False, "terminate_when_unhealthy": False,
                  "ctrl_cost_weight": family.params["ctrl_cost_weight"]}
    return gym.make(family.robot.gym_id, **kwargs).unwrapped


def actions_for(family, steps: int, b: int, seed: int) -> np.ndarray:
    """Random actions, some beyond the ctrlrange (MuJoCo clamps them; v5 charges them)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.3, 1.3, (steps, b, family.act_dim))


@pytest.mark.parametrize("cls,engine", [(HalfCheetahFB, "batch"), (SwimmerFB, "batch"),
                                        (Walker2dFB, "batch"), (AntFB, "batch"),
                                        (Walker2dFB, "loop"), (AntFB, "loop")])
def test_parity_with_gymnasium_v5(cls, engine):
    # v5's weights (our defaults follow prior meta-RL work, and Ant's are 0 by A.7.1)
    family = cls(engine=engine, nthread=2, **V5_WEIGHTS[cls.robot.gym_id])
    b, steps = 3, 120
    tasks = torch.tensor([1, 1, 0])  # d = +1, +1, -1
    sim = family.make_sim(tasks, torch.float64)
    obs = sim.reset(torch.tensor([3, 4, 5])).numpy()
    actions = actions_for(family, steps, b, seed=11)
    envs = [gym_env(family) for _ in range(b)]
    for i, env in enumerate(envs):
        env.reset(seed=0)
        env.set_state(sim.engine.qpos[i].copy(), sim.engine.qvel[i].copy())
        np.testing.assert_allclose(obs[i], env._get_obs(), rtol=0, atol=1e-9)
    ended = [None] * b
    direction = family.table[tasks, 0].numpy()
    for t in range(steps):
        obs, reward, done, info = sim.step_np(torch.from_numpy(actions[t]))
        for i, env in enumerate(envs):
            if ended[i] is not None:
                continue
            g_obs, g_reward, g_term, _, g_info = env.step(actions[t, i])
            np.testing.assert_allclose(obs[i], g_obs, rtol=0, atol=1e-9)
            assert info["x_velocity"][i] == pytest.approx(g_info["x_velocity"], abs=1e-9)
            assert info["ctrl_cost"][i] == pytest.approx(-g_info["reward_ctrl"], abs=1e-12)
            if cls is AntFB:
                np.testing.assert_allclose(sim.engine.qpos[i], env.data.qpos, rtol=0, atol=1e-9)
                np.testing.assert_allclose(sim.engine.qvel[i], env.data.qvel, rtol=0, atol=1e-9)
            # the reward from gymnasium's own terms
            survive = g_info.get("reward_survive", 0.0) if cls is Walker2dFB else 0.0
            expect = direction[i] * g_info["x_velocity"] + g_info["reward_ctrl"] + survive
            assert reward[i] == pytest.approx(expect, abs=1e-9)
            if direction[i] > 0 and cls is not AntFB:
                assert reward[i] == pytest.approx(g_reward, abs=1e-9)
            assert bool(done[i]) == g_term
            if g_term:
                ended[i] = t
    if cls is Walker2dFB:
        assert all(e is not None for e in ended), "random actions should fell every walker"


# The default reward weights of prior meta-RL work. Sources, in ProMP
# (github.com/jonasrothfuss/ProMP), meta_policy_search/envs/mujoco_envs/:
#   half_cheetah_rand_direc.py, half_cheetah_rand_vel.py: reward_ctrl = -0.5 * 0.1 * sum(a^2)
#   swimmer_rand_vel.py: ctrl_cost_coeff = 0.0001 (ProMP and MAML have no forward-backward
#     Swimmer; swimmer-fb takes the same robot's weight)
#   walker2d_rand_direc.py: alive_bonus = 1.0, reward -= 1e-3 * sum(a^2)
#   walker2d_rand_vel.py: alive_bonus = 15.0, reward -= 1e-3 * sum(a^2)
# Ant: ES-MAML paper A.7.1 drops the control, contact and survival terms.
# name: (ctrl_cost_weight, healthy_reward or None where the robot has none, terminates)
PRIOR_WEIGHTS = {
    "halfcheetah-fb": (0.05, None, False),
    "halfcheetah-gv": (0.05, None, False),
    "swimmer-fb": (1e-4, None, False),
    "swimmer-gv": (1e-4, None, False),
    "walker2d-fb": (1e-3, 1.0, True),
    "walker2d-gv": (1e-3, 15.0, True),
    "ant-fb": (0.0, 0.0, False),
    "ant-gv": (0.0, 0.0, False),
    "ant-goal": (0.0, 0.0, False),
}


def test_default_weights_are_prior_works():
    assert set(PRIOR_WEIGHTS) == set(NAMES)
    for name, (ctrl, healthy, terminates) in PRIOR_WEIGHTS.items():
        params = NAMES[name]().params
        assert params["ctrl_cost_weight"] == pytest.approx(ctrl, rel=1e-15, abs=0), name
        assert params.get("healthy_reward") == healthy, name
        assert params.get("terminate_when_unhealthy", False) == terminates, name
    # v5's weights remain one parameter away
    assert HalfCheetahFB(ctrl_cost_weight=0.1).params["ctrl_cost_weight"] == 0.1
    assert Walker2dGV(healthy_reward=1.0).params["healthy_reward"] == 1.0


def test_walker_goal_velocity_pays_its_alive_bonus():
    """walker2d-gv: r = -|v - v*| - 1e-3 * sum(a^2) + 15 per healthy step (0 on the step that
    ends the episode, v5's rule)."""
    family = Walker2dGV(nthread=1)
    sim = family.make_sim(torch.tensor([0, 1]), torch.float64)
    sim.reset(torch.tensor([2, 3]))
    target = family.table[torch.tensor([0, 1]), 0].numpy()
    actions = actions_for(family, 80, 2, seed=6)
    alive = np.ones(2, dtype=bool)
    ended = False
    for t in range(80):
        _, reward, done, info = sim.step_np(torch.from_numpy(actions[t]))
        base = -np.abs(info["x_velocity"] - target) - 1e-3 * np.square(info["ctrl"]).sum(1)
        expect = base + 15.0 * ~done
        np.testing.assert_allclose(reward[alive], expect[alive], rtol=0, atol=1e-9)
        ended |= bool(done[alive].any())
        alive &= ~done
        if not alive.any():
            break
    assert ended, "random actions should fell a walker"


def test_reset_noise_per_rollout_and_v5_ranges():
    family = HalfCheetahFB()
    a = family.make_sim(torch.tensor([0, 1, 0]), torch.float64)
    b = family.make_sim(torch.tensor([1]), torch.float64)
    obs_a = a.reset(torch.tensor([5, 6, 7]))
    obs_b = b.reset(torch.tensor([7]))
    assert torch.equal(obs_a[2], obs_b[0])
    assert not torch.equal(obs_a[0], obs_a[1])
    # HalfCheetah-v5: qpos0 + U[-0.1, 0.1], qvel 0.1 * N(0, 1)
    qpos, qvel = reset_state(family.robot, torch.arange(4000))
    assert np.abs(qpos).max() <= 0.1
    assert abs(qvel.mean()) < 0.005 and qvel.std() == pytest.approx(0.1, rel=0.03)
    # Walker2d-v5: both uniform with scale 5e-3 around qpos0 (z = 1.25)
    qpos, qvel = reset_state(Walker2dFB.robot, torch.arange(200))
    assert np.abs(qpos - Walker2dFB.robot.model.qpos0).max() <= 5e-3
    assert np.abs(qvel).max() <= 5e-3


@pytest.mark.parametrize("cls,arch", [(Walker2dGV, "H"), (HalfCheetahGV, "L"), (AntGoal, "L")])
def test_batch_engine_equals_mj_step_loop(cls, arch):
    n, horizon = 6, 60
    spec = PolicySpec.from_name(arch, cls.obs_dim, cls.act_dim, width=8)
    g = torch.Generator().manual_seed(2)
    thetas = spec.init(g) + 0.3 * torch.randn(n, spec.num_params, generator=g)
    seeds = torch.arange(20, 20 + n)
    norm = Normalizer(cls.obs_dim)
    norm.update(stats_of(torch.randn(50, cls.obs_dim, generator=g)))
    out = {}
    for engine, nthread in [("loop", 1), ("batch", 1), ("batch", 2)]:
        family = cls(engine=engine, nthread=nthread)
        tasks = family.sample_tasks(n, torch.Generator().manual_seed(0))
        out[engine, nthread] = deterministic_rollouts(spec, family, thetas, tasks, horizon, normalizer=norm,
                                        seeds=seeds)
    ref = out["loop", 1]
    for key in [("batch", 1), ("batch", 2)]:
        assert torch.equal(out[key].returns, ref.returns), key
        assert torch.equal(out[key].lengths, ref.lengths), key
        assert torch.equal(out[key].obs_stats, ref.obs_stats), key
    if cls is Walker2dGV:
        assert (ref.lengths < horizon).any()


def test_forward_backward_sign_flips():
    family = HalfCheetahFB()
    actions = torch.from_numpy(actions_for(family, 30, 2, seed=3))
    sim = family.make_sim(torch.tensor([0, 1]), torch.float64)  # d = -1, +1
    sim.reset(torch.tensor([9, 9]))  # the same start
    moved = 0.0
    for t in range(30):
        _, reward, _, info = sim.step_np(actions[t, :1].repeat(2, 1))
        v, c = info["x_velocity"], info["ctrl_cost"]
        assert v[0] == v[1] and c[0] == c[1]
        assert reward[1] == pytest.approx(v[1] - c[1], abs=1e-12)
        assert reward[0] == pytest.approx(-v[0] - c[0], abs=1e-12)
        moved += abs(v[0])
    assert moved > 0.1


def test_goal_velocity_peaks_at_target():
    family = HalfCheetahGV(num_train=40, num_test=5)
    velocities = family.table[:, 0]
    assert velocities.min() >= 0.0 and velocities.max() <= 2.0
    b = family.num_tasks
    sim = family.make_sim(torch.arange(b), torch.float64)
    sim.reset(torch.zeros(b, dtype=torch.int64))  # every rollout from the same start
    actions = torch.from_numpy(actions_for(family, 15, 1, seed=4)).repeat(1, b, 1)
    for t in range(15):
        _, reward, _, info = sim.step_np(actions[t])
        v, c = info["x_velocity"][0], info["ctrl_cost"][0]
        np.testing.assert_allclose(reward, -np.abs(v - velocities.numpy()) - c, atol=1e-12)
        # the best task is the one whose target is nearest the velocity reached
        assert int(np.argmax(reward)) == int(np.argmin(np.abs(velocities.numpy() - v)))
    # and a target exactly at the velocity pays only the control cost
    stub = type("Stub", (), {"task_params": np.array([[0.7], [0.2]])})()
    r = family.task_reward(stub, np.array([0.7, 0.7]))
    assert r[0] == 0.0 and r[1] == pytest.approx(-0.5)


def test_goal_position_uses_l1_distance_of_torso():
    family = AntGoal()
    goals = family.table
    assert (goals.norm(dim=1) <= 3.0 + 1e-12).all() and goals.norm(dim=1).max() > 2.0
    tasks = torch.tensor([0, 1])
    sim = family.make_sim(tasks, torch.float64)
    sim.reset(torch.tensor([1, 2]))
    env = gym_env(family)
    env.reset(seed=0)
    env.set_state(sim.engine.qpos[0].copy(), sim.engine.qvel[0].copy())
    actions = actions_for(family, 25, 2, seed=5)
    for t in range(25):
        _, reward, done, _ = sim.step_np(torch.from_numpy(actions[t]))
        _, _, _, _, info = env.step(actions[t, 0])
        xy = np.array([info["x_position"], info["y_position"]])  # Ant-v5: the torso's qpos
        goal = goals[0].numpy()
        assert reward[0] == pytest.approx(-np.abs(xy - goal).sum(), abs=1e-9)
        assert not done.any()  # the ES-MAML Ant tasks never terminate


def test_terminated_sims_stop_stepping():
    family = Walker2dFB(nthread=2)
    sim = family.make_sim(torch.tensor([0, 1, 0, 1]), torch.float64)
    sim.reset()
    clock = sim.engine.batch.bind("time")
    rng = np.random.default_rng(0)
    frozen = {}
    for t in range(60):
        actions = np.zeros((4, family.act_dim))  # zero torque: stands for ~100 steps
        actions[0] = -1.0  # full negative torque: falls within ~10 steps
        actions[1] = rng.uniform(-1, 1, family.act_dim)  # falls within ~20 steps
        _, _, done, _ = sim.step_np(torch.from_numpy(actions))
        for i in np.flatnonzero(done):
            if i in frozen:
                assert clock[i] == frozen[i][0]
                assert np.array_equal(sim.engine.qpos[i], frozen[i][1])
            else:
                frozen[i] = (clock[i], sim.engine.qpos[i].copy())
    assert {0, 1} <= set(frozen) and len(frozen) < 4
    alive = [i for i in range(4) if i not in frozen]
    assert clock[alive[0]] == pytest.approx(60 * family.dt)


@pytest.mark.parametrize("name", sorted(NAMES))
def test_whole_engine_on_every_task(name):
    family = NAMES[name](nthread=1)
    spec = PolicySpec.from_name("H", family.obs_dim, family.act_dim, width=8)
    g = torch.Generator().manual_seed(0)
    n = 4
    thetas = spec.init(g) + 0.5 * torch.randn(n, spec.num_params, generator=g)
    tasks = family.sample_tasks(n, g)
    norm = Normalizer(family.obs_dim)
    out = deterministic_rollouts(spec, family, thetas, tasks, 6, normalizer=norm)
    assert out.returns.shape == (n,) and torch.isfinite(out.returns).all()
    assert out.obs_stats[0] == out.env_steps
    assert family.default_horizon == 200
    env = family.make_env()
    env.set_task(int(family.test_ids[0]))
    obs, _ = env.reset(seed=3)
    assert obs.shape == (family.obs_dim,)
    obs, reward, done, _, _ = env.step(np.zeros(family.act_dim))
    assert np.isfinite(reward)


def test_walker_falls_in_the_engine():
    family = Walker2dFB(nthread=1)
    spec = PolicySpec.from_name("L", family.obs_dim, family.act_dim)
    thetas = torch.zeros(3, spec.num_params)
    thetas[:2, -family.act_dim:] = -3.0  # constant negative torque (biases): falls
    out = deterministic_rollouts(spec, family, thetas, torch.tensor([0, 1, 1]), 200)
    assert (out.lengths[:2] < 200).all()
    assert out.env_steps == int(out.lengths.sum())


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="engine"):
        HalfCheetahFB(engine="gpu")
    with pytest.raises(ValueError, match="nthread"):
        HalfCheetahFB(nthread=0)
    with pytest.raises(ValueError, match="velocity_low"):
        HalfCheetahGV(velocity_low=3.0, velocity_high=1.0)
    with pytest.raises(ValueError, match="unknown config key 'task.healthy_z'"):
        AntGV(healthy_z=1)
    assert HalfCheetahFB().num_tasks == 2 and torch.equal(HalfCheetahFB().train_ids,
                                                          HalfCheetahFB().test_ids)
    gv = AntGV()
    assert len(gv.train_ids) == 50 and len(gv.test_ids) == 5
    assert gv.table.max() <= 3.0


def test_registry_names():
    from workbench.tasks import make_family
    for name, cls in NAMES.items():
        assert type(make_family(name)) is cls


def test_bench_rollouts_cli_on_mujoco(capsys):
    import json

    from workbench.app.cli import main
    assert main(["bench", "rollouts", "--task", "walker2d-fb", "--rollouts", "6", "--horizon",
                 "30", "--threads", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ["task", "rollouts", "horizon", "threads", "engine_steps_per_s",
                "raw_steps_per_s", "gym_steps_per_s", "engine_over_raw", "engine_over_gym"]:
        assert key in result
    assert result["threads"] == 2 and result["rollouts"] == 6
    # the raw replay of the engine's controls lands on the engine's final states exactly
    assert result["raw_vs_engine_max_abs_diff"] == 0.0
