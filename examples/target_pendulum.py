"""A pendulum whose target angle is the task: a complete task for `--task gym:...`.

The pole hangs from a motor. Each task asks it to hold a different angle `target` (radians
from straight down, drawn from U[-0.4, 0.4]); the policy sees only cos, sin and the angular
velocity, so it must find out from its K adaptation rollouts which way to lean. A policy
blind to the task holds the pole straight down and pays about target^2 per step.

What the workbench needs from an environment (docs/own-task.md):
- a 1-D Box observation space and a 1-D Box action space;
- `sample_tasks(n)` returning n tasks (here with an optional `seed`, which the workbench
  passes), and `set_task(task)`;
- `reset(seed=...)` drawing any start noise from `self.np_random`, so each rollout is a
  function of its seed;
- optionally `max_episode_steps`, the default horizon.
Constructor keyword arguments with scalar defaults (`max_torque`, `mass`) become `task.*`
keys: `--set task.mass=1.5`.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class TargetPendulum(gym.Env):
    max_episode_steps = 100

    def __init__(self, max_torque: float = 2.0, mass: float = 1.0, length: float = 1.0,
                 target_range: float = 0.4) -> None:
        self.max_torque, self.mass, self.length = max_torque, mass, length
        self.target_range = target_range
        self.gravity, self.dt = 10.0, 0.05
        high = np.array([1.0, 1.0, 8.0], dtype=np.float32)
        self.observation_space = gym.spaces.Box(-high, high, dtype=np.float32)
        self.action_space = gym.spaces.Box(-max_torque, max_torque, (1,), dtype=np.float32)
        self.target = 0.0
        self.state = np.zeros(2)

    # -- the task hook (learn2learn's MetaEnv names) --------------------------------------
    def sample_tasks(self, n: int, seed: int | None = None) -> list[dict[str, float]]:
        rng = np.random.default_rng(seed)
        return [{"target": float(t)} for t in rng.uniform(-self.target_range,
                                                          self.target_range, n)]

    def set_task(self, task: dict[str, float]) -> None:
        self.target = float(task["target"])

    def get_task(self) -> dict[str, float]:
        return {"target": self.target}

    # -- gymnasium ---------------------------------------------------------------------
    def _obs(self) -> np.ndarray:
        theta, omega = self.state
        return np.array([np.cos(theta), np.sin(theta), omega], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.state = self.np_random.uniform(-0.1, 0.1, size=2)
        return self._obs(), {}

    def step(self, action):
        u = float(np.clip(action[0], -self.max_torque, self.max_torque))
        theta, omega = self.state
        error = (theta - self.target + np.pi) % (2 * np.pi) - np.pi
        reward = -(error ** 2 + 0.1 * omega ** 2 + 0.001 * u ** 2)
        # theta from straight down: gravity pulls back towards 0
        accel = (-3 * self.gravity / (2 * self.length) * np.sin(theta)
                 + 3.0 / (self.mass * self.length ** 2) * u)
        omega = float(np.clip(omega + accel * self.dt, -8.0, 8.0))
        self.state = np.array([theta + omega * self.dt, omega])
        return self._obs(), reward, False, False, {}
