"""The gymnasium adapter (`--task gym:...`, workbench/tasks/gym_adapter.py).

Oracles: gymnasium's own HalfCheetah-v5 (wrapped by examples/halfcheetah_fb.py) against the
native `halfcheetah-fb` family, same weights and same action sequences; and a plain Python
loop over the example environment against the adapter's lockstep rollouts.
"""

from __future__ import annotations

import dataclasses
import math
import sys

import numpy as np
import pytest
import torch

from workbench.app.bench.population import numpy_policy
from workbench.app.cli import main
from workbench.policies import PolicySpec
from workbench.rollout import deterministic_rollouts
from workbench.tasks import family_class, make_family
from workbench.tasks.locomotion import HalfCheetahFB
from workbench.tasks.mujoco_sim import HALF_CHEETAH

PENDULUM = "gym:examples.target_pendulum:TargetPendulum"
CHEETAH = "gym:examples.halfcheetah_fb:HalfCheetahFB"


class StillCheetahFB(HalfCheetahFB):
    """The native family with v5's reset noise off: both sides start at qpos0, qvel 0."""
    robot = dataclasses.replace(HALF_CHEETAH, reset_noise_scale=0.0)


def _cheetahs(engine="batch"):
    native = StillCheetahFB(engine=engine)
    adapted = make_family(CHEETAH, reset_noise_scale=0.0, num_train=2, num_test=2)
    # task ids with direction -1 and +1 in each family's table
    ids = {d: [i for i, t in enumerate(adapted.tasks) if t == d][0] for d in (-1.0, 1.0)}
    return native, adapted, ids


@pytest.mark.parametrize("engine", ["batch", "loop"])
def test_same_weights_give_halfcheetah_fbs_returns(engine):
    """Eight policies (H, perturbed), both directions, 200 steps, float64: the adapter on
    gymnasium's HalfCheetah-v5 returns what the native engine returns."""
    native, adapted, ids = _cheetahs(engine)
    spec = PolicySpec.from_name("H", 17, 6)
    g = torch.Generator().manual_seed(3)
    thetas = (spec.init(g) + 0.3 * torch.randn(8, spec.num_params, generator=g)).double()
    directions = [-1.0, 1.0] * 4
    ours = deterministic_rollouts(spec, native, thetas,
                                  torch.tensor([0 if d < 0 else 1 for d in directions]), 200,
                                  dtype=torch.float64)
    theirs = deterministic_rollouts(spec, adapted, thetas,
                                    torch.tensor([ids[d] for d in directions]), 200,
                                    dtype=torch.float64)
    assert ours.returns.abs().min() > 1.0  # the policies move: the comparison has content
    np.testing.assert_allclose(theirs.returns.numpy(), ours.returns.numpy(), rtol=0,
                               atol=1e-9)
    assert torch.equal(theirs.lengths, ours.lengths)


def test_same_action_sequences_give_the_same_steps():
    """Random action sequences in [-1, 1]^6: every observation and reward agrees."""
    native, adapted, ids = _cheetahs()
    a, b = native.make_sim(torch.tensor([0, 1]), torch.float64), \
        adapted.make_sim(torch.tensor([ids[-1.0], ids[1.0]]), torch.float64)
    np.testing.assert_allclose(b.reset().numpy(), a.reset().numpy(), rtol=0, atol=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(100):
        act = torch.from_numpy(rng.uniform(-1, 1, (2, 6)))
        (oa, ra, da), (ob, rb, db) = a.step(act), b.step(act)
        np.testing.assert_allclose(ob.numpy(), oa.numpy(), rtol=0, atol=1e-9)
        np.testing.assert_allclose(rb.numpy(), ra.numpy(), rtol=0, atol=1e-9)
        assert torch.equal(da, db)


def test_rollouts_equal_a_plain_loop_over_the_environment():
    """The adapter against a plain loop: env.reset(seed=i), set_task, NumPy policy, the
    action scaled onto [-2, 2] (the example's Box); per-rollout returns agree."""
    from examples.target_pendulum import TargetPendulum
    family = make_family(PENDULUM)
    spec = PolicySpec.from_name("H", 3, 1)
    g = torch.Generator().manual_seed(1)
    thetas = (spec.init(g) + 0.5 * torch.randn(6, spec.num_params, generator=g)).double()
    tasks = family.sample_tasks(6, g)
    seeds = torch.arange(10, 16)
    result = deterministic_rollouts(spec, family, thetas, tasks, 100, seeds=seeds,
                                    dtype=torch.float64)
    env = TargetPendulum()
    for i in range(6):
        act = numpy_policy(spec, thetas[i].numpy())
        env.set_task(family.tasks[int(tasks[i])])
        obs, _ = env.reset(seed=int(seeds[i]))
        total = 0.0
        for _ in range(100):
            obs, reward, *_ = env.step(2.0 * act(obs.astype(np.float64)))
            total += reward
        assert math.isclose(total, float(result.returns[i]), rel_tol=1e-9), i
    assert float(result.returns.std()) > 0.1  # tasks and weights differ: so do returns


def test_tasks_are_drawn_once_from_the_split_seed_and_keys_come_from_the_constructor():
    cls = family_class(PENDULUM)
    assert cls is family_class(PENDULUM)  # one class per name
    assert {"sampler", "mass", "max_torque", "target_range"} <= set(cls.Params.keys())
    assert cls.default_horizon == 100  # the class's max_episode_steps
    a, b = make_family(PENDULUM), make_family(PENDULUM, split_seed=1)
    assert a.tasks == make_family(PENDULUM).tasks and a.tasks != b.tasks
    assert (a.num_tasks, len(a.train_ids), len(a.test_ids)) == (55, 50, 5)
    assert a.get_task(0) == {"id": 0, "task": a.tasks[0]}
    heavy = make_family(PENDULUM, mass=2.0)
    assert heavy.make_sim(torch.tensor([0])).envs[0].mass == 2.0


def test_an_environment_drawing_from_its_own_np_random_gets_the_split_seed():
    a = make_family("gym:tests.gym_envs:OwnGenerator")
    assert a.tasks == make_family("gym:tests.gym_envs:OwnGenerator").tasks
    assert a.tasks != make_family("gym:tests.gym_envs:OwnGenerator", split_seed=1).tasks


def test_a_plain_environment_takes_dict_tasks_from_a_sampler():
    """gymnasium's Pendulum-v1 has no task hook: a sampler's dict tasks set attributes."""
    family = make_family("gym:Pendulum-v1", sampler="tests.gym_envs:gravities",
                         num_train=4, num_test=2)
    assert family.default_horizon == 200 and "g" in family.Params.keys()
    sim = family.make_sim(torch.tensor([0, 3]))
    sim.reset()
    assert [env.unwrapped.g for env in sim.envs] == [family.tasks[0]["g"], family.tasks[3]["g"]]


def test_episodes_that_end_stop_adding_steps():
    family = make_family("gym:tests.gym_envs:EndsEarly")
    ids = torch.tensor([next(i for i, t in enumerate(family.tasks) if t["target"] < 0),
                        next(i for i, t in enumerate(family.tasks) if t["target"] >= 0)])
    spec = PolicySpec.from_name("L", 3, 1)
    out = deterministic_rollouts(spec, family, spec.init().expand(2, -1), ids, 50)
    assert out.lengths.tolist() == [5, 8]


def test_an_entry_point_can_name_the_environment_class(tmp_path, monkeypatch):
    dist = tmp_path / "mytasks-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mytasks\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[workbench.tasks]\ntarget-pendulum = examples.target_pendulum:TargetPendulum\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    family = make_family("target-pendulum", mass=1.5)
    assert family.name == "target-pendulum" and family.obs_dim == 3
    assert family.make_sim(torch.tensor([0])).envs[0].mass == 1.5


BAD = [
    (["gym:NoSuchEnv-v0"], "unknown gymnasium id 'NoSuchEnv-v0'"),
    (["gym:Pendulm-v1"], "did you mean 'Pendulum-v1'"),
    (["gym:no_such_package.envs:Env"], "cannot import module 'no_such_package.envs'"),
    (["gym:tests.gym_envs:Nothing"], "module 'tests.gym_envs' has no attribute 'Nothing'"),
    (["gym:tests.gym_envs:NoHook"], "has no sample_tasks and no task.sampler"),
    (["gym:Pendulum-v1"], "has no sample_tasks and no task.sampler"),
    (["gym:tests.gym_envs:DiscreteActions"], "the action space is Discrete(3); the workbench "
                                             "needs a 1-D gymnasium.spaces.Box"),
    (["gym:tests.gym_envs:DictObservations"], "the observation space is Dict("),
    ([PENDULUM, "--set", "task.sampler=tests.gym_envs:three_tasks"],
     "returned 3 tasks when asked for 55"),
    (["gym:tests.gym_envs:RaisesAtStep3"],
     "step 3 of rollout 0 on task 0 ({'target': 0.374"),
    ([PENDULUM, "--set", "task.gravity=3"], "unknown config key 'task.gravity'"),
    ([PENDULUM, "--set", "task.sampler=tests.gym_envs:unseeded"],
     "gave different tasks for the same seed"),
    (["gym:tests.gym_envs:not_an_environment"],
     "the task's constructor returned int 3, which is not an environment (no "
     "observation_space)"),
    (["gym:tests.gym_envs:VectorReward"], "expected a number and two booleans"),
]


@pytest.mark.parametrize("task,message", BAD, ids=[b[1][:30] for b in BAD])
def test_bad_input_is_one_line_and_rc_2_before_anything_is_written(task, message, tmp_path,
                                                                   capsys):
    out = tmp_path / "run"
    rc = main(["train", "--algo", "es-maml", "--task", *task, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_a_step_that_raises_names_the_task_and_the_step():
    with pytest.raises(ValueError, match=r"step 3 of rollout 0 on task \d+ .*raised "
                                         r"FloatingPointError: the pole left the plane"):
        make_family("gym:tests.gym_envs:RaisesAtStep3")
    assert "tests.gym_envs" in sys.modules


def test_bench_rollouts_against_times_both_simulators_over_the_same_rollouts(capsys):
    import json
    assert main(["bench", "rollouts", "--task", "halfcheetah-fb", "--against", CHEETAH,
                 "--rollouts", "4", "--horizon", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (result["task"], result["against"], result["rollouts"]) == ("halfcheetah-fb",
                                                                       CHEETAH, 4)
    assert result["steps_per_s"] > 0 and result["against_steps_per_s"] > 0
    assert result["task_over_against"] == pytest.approx(
        result["steps_per_s"] / result["against_steps_per_s"])
    assert main(["bench", "rollouts", "--task", "nav2d", "--against", CHEETAH]) == 2
    err = capsys.readouterr().err
    assert "--against needs the same observation and action sizes" in err
    assert len(err.strip().splitlines()) == 1
