"""gymnasium's own HalfCheetah-v5 with a forward/backward task, through the task hook.

The same task as the built-in `halfcheetah-fb` family (workbench/tasks/locomotion.py): a
direction d in {-1, +1}, reward d * forward velocity - 0.05 * |a|^2 (ProMP's control
weight). The built-in family steps all rollouts in one `mujoco.batch` call; this class is
what a user would write for gymnasium, one environment per rollout. tests/test_gym_adapter.py
checks that both give the same returns for the same weights, and

    workbench bench rollouts --task halfcheetah-fb --against gym:examples.halfcheetah_fb:HalfCheetahFB

times one against the other.
"""

from __future__ import annotations

from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv


class HalfCheetahFB(HalfCheetahEnv):
    max_episode_steps = 200

    def __init__(self, ctrl_cost_weight: float = 0.05, reset_noise_scale: float = 0.1) -> None:
        super().__init__(ctrl_cost_weight=ctrl_cost_weight, reset_noise_scale=reset_noise_scale)
        self.direction = 1.0

    def sample_tasks(self, n: int) -> list[float]:
        # two tasks; the workbench draws num_train + num_test of them
        return [(-1.0, 1.0)[i % 2] for i in range(n)]

    def set_task(self, direction: float) -> None:
        self.direction = float(direction)

    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        reward = self.direction * info["x_velocity"] + info["reward_ctrl"]
        return obs, reward, terminated, truncated, info
