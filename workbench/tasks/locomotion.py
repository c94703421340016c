"""MuJoCo locomotion meta-RL families (ES-MAML §4.2, §4.4, A.5, A.7.1) on gymnasium's v5 robots.

Task kinds, with v = forward velocity (x_after - x_before) / dt as v5 computes it:
- Forward-Backward (`*-fb`): d in {-1, +1}, r = d * v. Finite: 2 tasks, (N, N, N) split.
- Goal-Velocity (`*-gv`): v* ~ U[velocity_low, velocity_high], r = -|v - v*|. (50, 5) split.
- Goal-Position (`ant-goal`): goal uniform in the disk of radius `goal_radius` (3),
  r = -||torso xy - goal||_1. (50, 5) split.
Each reward then loses a control cost `ctrl_cost_weight * sum(a^2)` (v5's form) and, for
Walker2d, gains a healthy (alive) reward per healthy step; Walker2d terminates as v5 does.

Default weights (A.7.1: the non-Ant robots keep the weightings of prior meta-RL work). They
follow ProMP's task environments (meta_policy_search/envs/mujoco_envs/), whose costs act on
an action in [-1, 1] as ours do:
- HalfCheetah: ctrl 0.05 (ProMP's `0.5 * 0.1`, forward-backward and goal-velocity; v5: 0.1).
- Swimmer: ctrl 1e-4 (ProMP's swimmer_rand_vel.py; ProMP and MAML have no forward-backward
  Swimmer, so `swimmer-fb` takes the same robot's weight; equal to v5's).
- Walker2d: ctrl 1e-3 (equal to v5's); alive bonus 1 for forward-backward
  (walker2d_rand_direc.py; v5: 1) and 15 for goal-velocity (walker2d_rand_vel.py).
v5's weights stay available through `ctrl_cost_weight` and `healthy_reward`.

Ant (A.7.1): the paper removes the auxiliary terms -- control cost, contact cost and
survival bonus -- and keeps only the goal-distance cost or forward-movement reward, so the
Ant defaults are ctrl_cost_weight 0, healthy_reward 0 and no termination (without a survival
bonus, ending an episode early would only stop a negative goal-position or goal-velocity
reward: falling over would pay). Every choice and deviation is in docs/tasks.md.

Task parameters common to all: `engine` (`batch` | `loop`), `nthread` (physics threads of
the batch engine; default all cores), `ctrl_cost_weight`; Walker2d and Ant add
`healthy_reward` and `terminate_when_unhealthy`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from workbench.config import option, usable_cpus, with_defaults
from workbench.tasks.base import TaskFamily, TaskParams
from workbench.tasks.mujoco_sim import (ANT, ENGINES, HALF_CHEETAH, SWIMMER, WALKER2D,
                                        MujocoSim, Robot)


@dataclass(frozen=True)
class LocomotionParams(TaskParams):
    engine: str = option("batch", "physics engine: batch (mujoco.batch, C threads) or loop",
                         choices=ENGINES)
    nthread: int | None = option(None, "physics threads of the batch engine (default: the "
                                 "cores this process may use)", low=1)
    ctrl_cost_weight: float = option(0.0, "weight of the control cost w * |a|^2", low=0.0)


@dataclass(frozen=True)
class HealthParams(LocomotionParams):
    healthy_reward: float = option(0.0, "reward per step while healthy (alive bonus)")
    terminate_when_unhealthy: bool = option(False, "end the episode when unhealthy")


@dataclass(frozen=True)
class VelocityParams(LocomotionParams):
    velocity_low: float = option(0.0, "lower end of the goal-velocity range")
    velocity_high: float = option(2.0, "upper end of the goal-velocity range")

    def check(self) -> None:
        if self.velocity_low > self.velocity_high:
            raise ValueError(f"task.velocity_low ({self.velocity_low}) must not exceed "
                             f"task.velocity_high ({self.velocity_high})")


@dataclass(frozen=True)
class VelocityHealthParams(HealthParams, VelocityParams):
    pass


@dataclass(frozen=True)
class GoalParams(HealthParams):
    goal_radius: float = option(3.0, "goals are uniform in the disk of this radius", low=0.0,
                                low_open=True)


class LocomotionFamily(TaskFamily):
    """A MuJoCo robot with a task reward; subclasses pick the robot and the task kind."""

    #: Torch threads for any process that steps these tasks: MuJoCo's own threads own the
    #: cores; set once when an algorithm is built, so every iteration of a
    #: run (resumed or not) runs its torch code on the same thread count.
    torch_threads = 1

    robot: ClassVar[Robot]
    simulator = "mujoco"
    default_horizon = 200
    #: default rollout count of `workbench bench rollouts` (a few seconds of physics a pass)
    bench_rollouts: ClassVar[int] = 300

    @property
    def nthread(self) -> int:
        return self.params["nthread"] or usable_cpus()

    @property
    def dt(self) -> float:
        return self.robot.dt

    def make_sim(self, tasks: Tensor, dtype: torch.dtype = torch.float32) -> MujocoSim:
        return MujocoSim(self, tasks, dtype)

    def task_reward(self, sim: MujocoSim, velocity: np.ndarray) -> np.ndarray:
        """The task's term of the reward `[B]` (float64), before the control cost."""
        raise NotImplementedError


def robot_params(base: type, ctrl_cost_weight: float, **extra: Any) -> type:
    """The `Params` section of one family: `base` with the robot's reward weights."""
    return with_defaults(base, None, ctrl_cost_weight=ctrl_cost_weight, **extra)


# Default reward weights: prior meta-RL work for the non-Ant robots (ProMP's
# meta_policy_search/envs/mujoco_envs/<file>), the paper's A.7.1 for Ant. v5's own weights
# are `Robot.ctrl_cost_weight` (and healthy reward 1) in mujoco_sim.py.
HALF_CHEETAH_CTRL = 0.5 * 0.1  # half_cheetah_rand_direc.py, half_cheetah_rand_vel.py
SWIMMER_CTRL = 1e-4  # swimmer_rand_vel.py (no forward-backward Swimmer in ProMP or MAML)
WALKER_CTRL = 1e-3  # walker2d_rand_direc.py, walker2d_rand_vel.py
WALKER_FB_EXTRA = {"healthy_reward": 1.0,  # walker2d_rand_direc.py: alive_bonus = 1.0
                   "terminate_when_unhealthy": True}
WALKER_GV_EXTRA = {"healthy_reward": 15.0,  # walker2d_rand_vel.py: alive_bonus = 15.0
                   "terminate_when_unhealthy": True}
ANT_EXTRA = {"healthy_reward": 0.0, "terminate_when_unhealthy": False}  # A.7.1
ANT_CTRL = 0.0  # A.7.1 (v5: 0.5)


# -- task kinds -------------------------------------------------------------------------
class ForwardBackward(LocomotionFamily):
    """d in {-1, +1}: run forward or backward; r = d * v."""

    def enumerate_tasks(self) -> Tensor:
        return torch.tensor([[-1.0], [1.0]], dtype=torch.float64)

    def task_reward(self, sim: MujocoSim, velocity: np.ndarray) -> np.ndarray:
        return sim.task_params[:, 0] * velocity

    def get_task(self, task: int) -> dict[str, Any]:
        return {"id": int(task), "direction": float(self.table[int(task), 0])}


class GoalVelocity(LocomotionFamily):
    """v* ~ U[velocity_low, velocity_high]; r = -|v - v*|."""

    DEFAULT_SPLIT = (50, 5)

    def draw_tasks(self, n: int, generator: torch.Generator) -> Tensor:
        lo, hi = float(self.params["velocity_low"]), float(self.params["velocity_high"])
        return lo + (hi - lo) * torch.rand(n, 1, generator=generator, dtype=torch.float64)

    def task_reward(self, sim: MujocoSim, velocity: np.ndarray) -> np.ndarray:
        return -np.abs(velocity - sim.task_params[:, 0])

    def get_task(self, task: int) -> dict[str, Any]:
        return {"id": int(task), "velocity": float(self.table[int(task), 0])}


class GoalPosition(LocomotionFamily):
    """goal uniform in the disk of radius `goal_radius`; r = -||torso xy - goal||_1."""

    DEFAULT_SPLIT = (50, 5)

    def draw_tasks(self, n: int, generator: torch.Generator) -> Tensor:
        u = torch.rand(n, 2, generator=generator, dtype=torch.float64)
        r = float(self.params["goal_radius"]) * u[:, 0].sqrt()
        angle = 2.0 * math.pi * u[:, 1]
        return torch.stack([r * angle.cos(), r * angle.sin()], 1)

    def task_reward(self, sim: MujocoSim, velocity: np.ndarray) -> np.ndarray:
        # the torso is the root of the free joint: its xy is qpos[0:2] after the step
        return -np.abs(sim.engine.qpos[:, :2] - sim.task_params).sum(1)

    def get_task(self, task: int) -> dict[str, Any]:
        return {"id": int(task), "goal": self.table[int(task)].tolist()}

    def plot_goals(self, task: int) -> list[tuple[float, float, str]]:
        x, y = self.table[int(task)].tolist()
        return [(x, y, "goal")]


# -- the nine families -----------------------------------------------------------------
class HalfCheetahFB(ForwardBackward):
    name = "halfcheetah-fb"
    robot = HALF_CHEETAH
    obs_dim, act_dim = robot.obs_dim, robot.act_dim
    Params = robot_params(LocomotionParams, HALF_CHEETAH_CTRL)


class HalfCheetahGV(GoalVelocity):
    name = "halfcheetah-gv"
    robot = HALF_CHEETAH
    obs_dim, act_dim = robot.obs_dim, robot.act_dim
    Params = robot_params(VelocityParams, HALF_CHEETAH_CTRL, velocity_low=0.0,
                          velocity_high=2.0)  # MAML; ProMP: [0, 3]


class SwimmerFB(ForwardBackward):
    name = "swimmer-fb"
    robot = SWIMMER
    obs_dim, act_dim = robot.obs_dim, robot.act_dim
    Params = robot_params(LocomotionParams, SWIMMER_CTRL)
    bench_rollouts = 200


class SwimmerGV(GoalVelocity):
    name = "swimmer-gv"
    robot = SWIMMER
    obs_dim, act_dim = robot.obs_dim, robot.act_dim
    Params = robot_params(VelocityParams, SWIMMER_CTRL, velocity_low=0.1,
                          velocity_high=0.2)  # ProMP
    bench_rollouts = 200


class Walker2dFB(ForwardBackward):
    name = "walker2d-fb"
    robot = WALKER2D
    obs_dim, act_dim = robot.obs_dim, robot.act_dim
    Params = robot_params(HealthParams, WALKER_CTRL, **WALKER_FB_EXTRA)


class Walker2dGV(GoalVelocity):
    name = "walker2d-gv"
    robot = WALKER2D
    obs_dim, act_dim = robot.obs_dim, robot.act_dim
    Params = robot_params(VelocityHealthParams, WALKER_CTRL, velocity_low=0.0,
                          velocity_high=2.0, **WALKER_GV_EXTRA)


class AntFB(ForwardBackward):
    name = "ant-fb"
    robot = ANT
    obs_dim, act_dim = robot.obs_dim, robot.act_dim
    Params = robot_params(HealthParams, ANT_CTRL, **ANT_EXTRA)
    bench_rollouts = 100


class AntGV(GoalVelocity):
    name = "ant-gv"
    robot = ANT
    obs_dim, act_dim = robot.obs_dim, robot.act_dim
    Params = robot_params(VelocityHealthParams, ANT_CTRL, velocity_low=0.0, velocity_high=3.0,
                          **ANT_EXTRA)  # MAML
    bench_rollouts = 100


class AntGoal(GoalPosition):
    name = "ant-goal"
    robot = ANT
    obs_dim, act_dim = robot.obs_dim, robot.act_dim
    Params = robot_params(GoalParams, ANT_CTRL, goal_radius=3.0, **ANT_EXTRA)
    bench_rollouts = 100


FAMILIES = (HalfCheetahFB, HalfCheetahGV, AntFB, AntGV, AntGoal, SwimmerFB, SwimmerGV,
            Walker2dFB, Walker2dGV)
