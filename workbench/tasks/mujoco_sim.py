"""Batched MuJoCo simulation for the locomotion families: gymnasium's v5 robots, many at once.

A `Robot` states what gymnasium's v5 environment does (model file, frame skip, control-cost
weight, reset noise, observation layout, how forward velocity is measured, when the robot
is unhealthy). `MujocoSim` is the `BatchedSim` the rollout engine drives; its physics runs on
one of two engines with the same interface:

- `BatchEngine` (the default, `task.engine=batch`): one `mujoco.batch.Batch` for the whole
  population. One Python call per control step advances every live simulation by
  `frame_skip` substeps on `nthread` C threads with the GIL released; state and derived
  fields are live `(nsim, ...)` NumPy views, so observations and rewards are computed
  vectorised; terminated simulations are left out with `ids` and cost nothing.
- `LoopEngine` (`task.engine=loop`): one `MjData` per simulation and a plain `mj_step` loop,
  the reference path. MuJoCo's batch is bit-identical to such a loop, and the tests hold
  the two engines to that.

Observations and rewards are computed in float64 from the engine's arrays and only then
cast to the engine's dtype, so both engines give the same numbers whatever the dtype.
Model files are read from the installed gymnasium package (never copied).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import mujoco
import numpy as np
import torch
from mujoco.batch import Batch
from torch import Tensor

from workbench import seeding
from workbench.tasks.base import BatchedSim


class SimFamily(Protocol):
    """What `MujocoSim` takes from its task family (tasks/locomotion.py's `LocomotionFamily`
    provides it): the robot, the family's parameters (`nthread`, reward weights), the task
    table, a name for messages, and the task's reward term."""

    name: str
    robot: "Robot"
    params: dict[str, Any]
    table: Tensor
    nthread: int

    def task_reward(self, sim: "MujocoSim", velocity: np.ndarray) -> np.ndarray: ...

ENGINES = ("batch", "loop")


def assets_dir() -> str:
    """gymnasium's MuJoCo assets folder, found without importing gymnasium.envs.mujoco
    (whose import pulls in the renderer and imageio)."""
    spec = importlib.util.find_spec("gymnasium")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the MuJoCo tasks read gymnasium's v5 model files; install gymnasium")
    return os.path.join(list(spec.submodule_search_locations)[0], "envs", "mujoco", "assets")


@functools.lru_cache(maxsize=None)
def load_model(xml: str) -> mujoco.MjModel:
    """gymnasium's model file `xml`, compiled once per process (callers only read it:
    a Batch works on its own copy).

    gymnasium's half_cheetah.xml still sets the compiler attribute `settotalmass`, which
    MuJoCo compiles as before but reports as deprecated through its warning handler (whose
    default prints the text and appends it to MUJOCO_LOG.TXT in the working directory).
    That one known message is dropped while compiling; any other warning is passed on as a
    Python `RuntimeWarning`."""
    previous = mujoco.get_mju_user_warning()

    def on_warning(message: str) -> None:
        if "settotalmass" not in message:
            warnings.warn(f"MuJoCo: {message}", RuntimeWarning, stacklevel=2)

    mujoco.set_mju_user_warning(on_warning)
    try:
        return mujoco.MjModel.from_xml_path(os.path.join(assets_dir(), xml))
    finally:
        mujoco.set_mju_user_warning(previous)


def walker_healthy(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """Walker2d-v5: 0.8 < z < 2.0 and -1 < torso angle < 1 (strict), z = qpos[1]."""
    z, angle = qpos[:, 1], qpos[:, 2]
    return (0.8 < z) & (z < 2.0) & (-1.0 < angle) & (angle < 1.0)


def ant_healthy(qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
    """Ant-v5: the state is finite and 0.2 <= torso z <= 1.0 (inclusive), z = qpos[2]."""
    finite = np.isfinite(qpos).all(1) & np.isfinite(qvel).all(1)
    z = qpos[:, 2]
    return finite & (0.2 <= z) & (z <= 1.0)


@dataclass(frozen=True)
class Robot:
    """What gymnasium's v5 environment does, read from `gymnasium/envs/mujoco/*_v5.py`."""

    gym_id: str  # the oracle, e.g. "HalfCheetah-v5"
    xml: str
    frame_skip: int
    ctrl_cost_weight: float  # v5's default (the tasks default to prior work: locomotion.py)
    reset_noise_scale: float
    qvel_noise: str  # "normal" (scale * N(0,1)) or "uniform" (U[-scale, scale])
    skip_qpos: int  # leading qpos entries left out of the observation (x, or x and y)
    qvel_clip: float | None  # Walker2d clips the observed velocities to +-10
    velocity_body: str | None  # None: x = qpos[0]; else that body's xpos x (Ant: "torso")
    healthy: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
    obs_dim: int
    act_dim: int
    #: Keyword arguments that make gymnasium's environment observe as this robot does.
    gym_kwargs: tuple[tuple[str, Any], ...] = ()

    @property
    def model(self) -> mujoco.MjModel:
        return load_model(self.xml)

    @property
    def dt(self) -> float:
        return float(self.model.opt.timestep) * self.frame_skip


HALF_CHEETAH = Robot("HalfCheetah-v5", "half_cheetah.xml", 5, 0.1, 0.1, "normal", 1, None,
                     None, None, 17, 6)
SWIMMER = Robot("Swimmer-v5", "swimmer.xml", 4, 1e-4, 0.1, "uniform", 2, None, None, None,
                8, 2)
WALKER2D = Robot("Walker2d-v5", "walker2d_v5.xml", 4, 1e-3, 5e-3, "uniform", 1, 10.0, None,
                 walker_healthy, 17, 6)
# Ant-v5's main_body is body 1, the torso; its observation here leaves out cfrc_ext (v5's
# include_cfrc_ext_in_observation=False), see docs/tasks.md.
ANT = Robot("Ant-v5", "ant.xml", 5, 0.5, 0.1, "normal", 2, None, "torso", ant_healthy, 27, 8,
            gym_kwargs=(("include_cfrc_ext_in_observation", False),))


def reset_state(robot: Robot, seeds: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """v5's reset noise, `[B, nq]` and `[B, nv]`, each row a function of its seed alone.

    qpos = qpos0 + U[-s, s]; qvel = U[-s, s] or s * N(0, 1), the normal draws made from the
    counter-based uniforms by Box-Muller (cosine branch).
    """
    model = robot.model
    nq, nv, s = model.nq, model.nv, robot.reset_noise_scale
    normal = robot.qvel_noise == "normal"
    u = seeding.uniform(seeds, nq + (2 * nv if normal else nv)).numpy()
    qpos = model.qpos0[None, :] + s * (2.0 * u[:, :nq] - 1.0)
    if normal:
        u1, u2 = u[:, nq:nq + nv], u[:, nq + nv:]
        qvel = s * np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
    else:
        qvel = s * (2.0 * u[:, nq:] - 1.0)
    return qpos, qvel


class BatchEngine:
    """All simulations in one `mujoco.batch.Batch`; arrays are live views of its rows."""

    def __init__(self, model: mujoco.MjModel, nsim: int, frame_skip: int, body: int | None,
                 nthread: int) -> None:
        self.batch = Batch(model, nsim, nthread)
        self.frame_skip = frame_skip
        self.qpos = self.batch.bind("qpos")
        self.qvel = self.batch.bind("qvel")
        self.ctrl = self.batch.bind("ctrl")
        # an output: refreshed in place after every call, one substep behind the state
        # after step(), exactly as MjData.xpos after mj_step (what Ant-v5 reads)
        self.xpos = self.batch.bind("xpos")[:, body] if body is not None else None

    def reset(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        self.batch.reset(stage=mujoco.mjtStage.mjSTAGE_NONE)
        self.qpos[:] = qpos
        self.qvel[:] = qvel
        self.batch.forward()  # as gymnasium's set_state: mj_forward at the new state

    def step(self, ids: np.ndarray | None) -> None:
        self.batch.step(ids=ids, nstep=self.frame_skip)


class LoopEngine:
    """The reference: one MjData per simulation, `mj_step` in a Python loop."""

    def __init__(self, model: mujoco.MjModel, nsim: int, frame_skip: int,
                 body: int | None) -> None:
        self.model = model
        self.frame_skip = frame_skip
        self.body = body
        self.datas = [mujoco.MjData(model) for _ in range(nsim)]
        self.qpos = np.zeros((nsim, model.nq))
        self.qvel = np.zeros((nsim, model.nv))
        self.ctrl = np.zeros((nsim, model.nu))
        self.xpos = np.zeros((nsim, 3)) if body is not None else None

    def _read(self, i: int) -> None:
        d = self.datas[i]
        self.qpos[i] = d.qpos
        self.qvel[i] = d.qvel
        if self.xpos is not None:
            self.xpos[i] = d.xpos[self.body]

    def reset(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        for i, d in enumerate(self.datas):
            mujoco.mj_resetData(self.model, d)
            d.qpos[:] = qpos[i]
            d.qvel[:] = qvel[i]
            mujoco.mj_forward(self.model, d)
            self._read(i)

    def step(self, ids: np.ndarray | None) -> None:
        for i in range(len(self.datas)) if ids is None else ids.tolist():
            d = self.datas[i]
            d.ctrl[:] = self.ctrl[i]
            for _ in range(self.frame_skip):
                mujoco.mj_step(self.model, d)
            self._read(i)


class MujocoSim(BatchedSim):
    """B MuJoCo robots in lockstep, each with its own task; terminated ones stop stepping.

    The family supplies the task reward (`family.task_reward`); this class adds v5's
    control cost, healthy reward and termination. The policy's tanh output in (-1, 1) is
    mapped affinely onto each actuator's ctrlrange (the identity for all four robots,
    whose ranges are [-1, 1]); the control cost is v5's, on that mapped action.

    Building one calls `torch.set_num_threads(1)`: torch's intra-op threads would compete
    with MuJoCo's for the same cores, and the policy's batched matmul is tiny.
    """

    family: SimFamily

    def __init__(self, family: SimFamily, tasks: Tensor, dtype: torch.dtype) -> None:
        self.engine = None
        super().__init__(family, tasks, dtype)
        if torch.get_num_threads() != 1:
            torch.set_num_threads(1)
        self._build_engine()

    def _build_engine(self) -> None:
        robot, params = self.family.robot, self.family.params
        model = robot.model
        body = model.body(robot.velocity_body).id if robot.velocity_body else None
        n = self.batch_size
        if params["engine"] == "batch":
            self.engine = BatchEngine(model, n, robot.frame_skip, body, self.family.nthread)
        else:
            self.engine = LoopEngine(model, n, robot.frame_skip, body)
        lo, hi = model.actuator_ctrlrange[:, 0], model.actuator_ctrlrange[:, 1]
        self.ctrl_center, self.ctrl_half = (hi + lo) / 2.0, (hi - lo) / 2.0
        self.dt = robot.dt
        self.alive = np.zeros(n, dtype=bool)

    def set_task(self, tasks: Tensor) -> None:
        super().set_task(tasks)
        self.task_params = self.family.table[self.tasks].numpy()  # float64, not self.dtype
        if self.engine is not None and len(self.alive) != self.batch_size:
            self._build_engine()

    # -- state ----------------------------------------------------------------------
    def reset(self, seeds: Tensor | None = None) -> Tensor:
        seeds = self.reset_seeds(seeds)
        qpos, qvel = reset_state(self.family.robot, seeds)
        self.engine.reset(qpos, qvel)
        self.alive[:] = True
        return self.observe()

    def observe_np(self) -> np.ndarray:
        robot = self.family.robot
        qvel = self.engine.qvel
        if robot.qvel_clip is not None:
            qvel = np.clip(qvel, -robot.qvel_clip, robot.qvel_clip)
        return np.concatenate([self.engine.qpos[:, robot.skip_qpos:], qvel], axis=1)

    def observe(self) -> Tensor:
        return torch.from_numpy(self.observe_np()).to(self.dtype)

    def x_position(self) -> np.ndarray:
        """The x that v5 differentiates for the forward velocity (a copy)."""
        if self.engine.xpos is not None:
            return self.engine.xpos[:, 0].copy()
        return self.engine.qpos[:, 0].copy()

    def position(self) -> Tensor:
        """The root's first two coordinates: x, y for Ant and Swimmer; x, z otherwise."""
        return torch.from_numpy(self.engine.qpos[:, :2].copy()).to(self.dtype)

    # -- one control step -----------------------------------------------------------
    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        obs, reward, done, _ = self.step_np(actions)
        return (torch.from_numpy(obs).to(self.dtype), torch.from_numpy(reward).to(self.dtype),
                torch.from_numpy(done))

    def step_np(self, actions: Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
        """`step` in float64 NumPy, plus v5's per-step terms (`x_velocity`, `ctrl_cost`)."""
        a = self.check_actions(actions).detach().to(torch.float64).numpy()
        ctrl = self.ctrl_center + self.ctrl_half * a
        family, params = self.family, self.family.params
        ids = None if self.alive.all() else np.flatnonzero(self.alive).astype(np.int32)
        x_before = self.x_position()
        self.engine.ctrl[:] = ctrl
        if ids is None or len(ids):
            self.engine.step(ids)
        velocity = (self.x_position() - x_before) / self.dt
        ctrl_cost = params["ctrl_cost_weight"] * np.square(ctrl).sum(1)
        reward = family.task_reward(self, velocity) - ctrl_cost
        done = ~self.alive
        healthy = family.robot.healthy
        if healthy is not None and (params.get("healthy_reward")
                                    or params.get("terminate_when_unhealthy")):
            ok = healthy(self.engine.qpos, self.engine.qvel)
            reward = reward + params.get("healthy_reward", 0.0) * ok
            if params.get("terminate_when_unhealthy"):
                done = done | ~ok
        self.alive &= ~done
        info = {"x_velocity": velocity, "ctrl_cost": ctrl_cost, "ctrl": ctrl}
        return self.observe_np(), reward, done, info
