"""Small gymnasium environments for tests/test_gym_adapter.py: each breaks one rule the
adapter checks (or follows it in a form the example does not use)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from examples.target_pendulum import TargetPendulum


class NoHook(gym.Env):
    """No sample_tasks, no set_task."""
    observation_space = gym.spaces.Box(-1.0, 1.0, (2,))
    action_space = gym.spaces.Box(-1.0, 1.0, (1,))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2), {}

    def step(self, action):
        return np.zeros(2), 0.0, False, False, {}


class DiscreteActions(TargetPendulum):
    def __init__(self) -> None:
        super().__init__()
        self.action_space = gym.spaces.Discrete(3)


class DictObservations(TargetPendulum):
    def __init__(self) -> None:
        super().__init__()
        self.observation_space = gym.spaces.Dict({"x": gym.spaces.Box(-1.0, 1.0, (3,))})


class Counting(TargetPendulum):
    """Counts the steps of the current rollout in `t`."""

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return super().reset(seed=seed, options=options)


class RaisesAtStep3(Counting):
    """Raises at the fourth step (step index 3) of every rollout."""

    def step(self, action):
        if self.t == 3:
            raise FloatingPointError("the pole left the plane")
        self.t += 1
        return super().step(action)


class EndsEarly(Counting):
    """Terminates after `target`-dependent steps: 5 for targets below 0, else 8."""

    def step(self, action):
        obs, reward, _, truncated, info = super().step(action)
        self.t += 1
        return obs, reward, self.t >= (5 if self.target < 0 else 8), truncated, info


def three_tasks(n):
    """A sampler that ignores n."""
    return [{"target": 0.1}] * 3


def gravities(n, rng):
    """Tasks for gymnasium's Pendulum-v1, which has no set_task: its attribute g."""
    return [{"g": float(g)} for g in rng.uniform(8.0, 12.0, n)]


class OwnGenerator(TargetPendulum):
    """Draws its tasks from the environment's own np_random (Meta-World's habit)."""

    def sample_tasks(self, n):
        return [{"target": float(t)} for t in self.np_random.uniform(-0.4, 0.4, n)]


def unseeded(n):
    """Tasks from fresh OS entropy: different at every call."""
    import numpy as np
    return [{"target": float(t)} for t in np.random.default_rng().uniform(-0.4, 0.4, n)]


class PointWalk(gym.Env):
    """A point that walks to a goal: the observation is its 2-D position (the shape the
    built-in point tasks have, without their positions capability)."""
    observation_space = gym.spaces.Box(-5.0, 5.0, (2,))
    action_space = gym.spaces.Box(-0.5, 0.5, (2,))
    max_episode_steps = 20

    def __init__(self) -> None:
        self.goal = np.zeros(2)
        self.pos = np.zeros(2)

    def sample_tasks(self, n):
        return [self.np_random.uniform(-2.0, 2.0, 2) for _ in range(n)]

    def set_task(self, task):
        self.goal = np.asarray(task, dtype=np.float64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(-0.1, 0.1, 2)
        return self.pos.copy(), {}

    def step(self, action):
        self.pos = np.clip(self.pos + np.asarray(action), -5.0, 5.0)
        return self.pos.copy(), -float(np.linalg.norm(self.pos - self.goal)), False, False, {}


class LineWalk(PointWalk):
    """The same walk on a line: a 1-D observation and a 1-D action."""
    observation_space = gym.spaces.Box(-5.0, 5.0, (1,))
    action_space = gym.spaces.Box(-0.5, 0.5, (1,))

    def sample_tasks(self, n):
        return [float(g) for g in self.np_random.uniform(-2.0, 2.0, n)]

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.pos[:1]
        return self.pos.copy(), {}


def not_an_environment():
    """A task factory that returns a number instead of an environment."""
    return 3


class VectorReward(PointWalk):
    """Returns its reward as a 2-vector: not a number."""

    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        return obs, self.goal - self.pos, terminated, truncated, info


class RaisesOffCenter(TargetPendulum):
    """Steps at mid-range actions (the adapter's probe) but raises at any other action:
    the failure comes only once training runs."""

    def step(self, action):
        if np.any(np.asarray(action) != 0.0):
            raise FloatingPointError("the pole left the plane")
        return super().step(action)
