"""`workbench bench rollouts` on a MuJoCo task: engine, raw `mujoco.rollout` replay and
gymnasium loop over the same rollouts (see the package docstring)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from workbench.app.bench.population import numpy_policy, population
from workbench.app.progress import progress as progress_display
from workbench.config import usable_cpus
from workbench.rollout import deterministic_rollouts
from workbench.tasks import make_family


class _RecordingFamily:
    """A family whose simulators record the controls they apply (for the raw replay)."""
    def __init__(self, family) -> None:
        self.family = family
        self.controls: list[np.ndarray] = []
        self.sim = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.family, name)

    def make_sim(self, tasks, dtype=torch.float32):
        sim = self.family.make_sim(tasks, dtype)
        inner = sim.step

        def step(actions):
            out = inner(actions)
            self.controls.append(sim.engine.ctrl.copy())
            return out
        sim.step = step
        self.sim = sim
        return sim


def _gym_env(family):
    """gymnasium's own v5 environment for a family's robot, configured as the family."""
    import gymnasium as gym
    kwargs: dict[str, Any] = dict(family.robot.gym_kwargs)
    if "terminate_when_unhealthy" in family.params:
        kwargs["terminate_when_unhealthy"] = bool(family.params["terminate_when_unhealthy"])
    return gym.make(family.robot.gym_id, **kwargs)


def bench_mujoco_rollouts(task: str, rollouts: int | None = None, horizon: int | None = None,
                          policy: str = "L", threads: int | None = None,
                          gym_rollouts: int | None = None, repeats: int = 3, seed: int = 0,
                          progress: bool = True) -> dict[str, Any]:
    """env-steps/s of (a) the engine (`evaluate`, `threads` physics threads), (b) a raw
    `mujoco.rollout` replay of the engine's controls on one thread, (c) a gymnasium loop.

    A first, untimed engine pass records the controls (the engine is deterministic, so the
    timed passes retrace it). Then `repeats` rounds each time (a), (b) and (c) one after the
    other, and each path reports its best round: interleaving keeps the ratios fair when
    other jobs come and go on the machine. (c) runs the first `gym_rollouts` rollouts
    (default half of them). torch runs on one thread throughout.
    """
    import mujoco
    from mujoco import rollout as mj_rollout

    from workbench.tasks.mujoco_sim import reset_state

    threads = threads or usable_cpus()
    torch.set_num_threads(1)
    family = make_family(task, nthread=threads)
    robot, model = family.robot, family.robot.model
    rollouts = rollouts or family.bench_rollouts
    horizon = horizon or family.default_horizon
    spec, thetas, tasks, seeds = population(family, policy, rollouts, seed)

    # the engine's controls, recorded in an untimed pass (also the warm-up)
    recorder = _RecordingFamily(family)
    lengths = deterministic_rollouts(spec, recorder, thetas, tasks, horizon, seeds=seeds).lengths.numpy()
    controls = np.stack(recorder.controls, 1)  # [N, steps, nu]
    final_qpos = recorder.sim.engine.qpos.copy()

    # the raw replay's inputs: v5 start states, controls per substep, grouped by length
    qpos0, qvel0 = reset_state(robot, seeds)
    spec_full = mujoco.mjtState.mjSTATE_FULLPHYSICS.value
    data = mujoco.MjData(model)
    initial = np.empty((rollouts, mujoco.mj_stateSize(model, spec_full)))
    for i in range(rollouts):
        mujoco.mj_resetData(model, data)
        data.qpos[:], data.qvel[:] = qpos0[i], qvel0[i]
        mujoco.mj_getState(model, data, initial[i], spec_full)
    groups = []
    for length in np.unique(lengths):
        idx = np.flatnonzero(lengths == length)
        ctrl = np.ascontiguousarray(np.repeat(controls[idx, :length], robot.frame_skip, 1))
        out = np.empty((len(idx), length * robot.frame_skip, initial.shape[1]))
        groups.append((idx, np.ascontiguousarray(initial[idx]), ctrl, out))

    m = min(gym_rollouts or max(1, rollouts // 2), rollouts)
    env = _gym_env(family)
    env.reset(seed=seed)
    base = env.unwrapped
    policies = [numpy_policy(spec, thetas[i].double().numpy()) for i in range(m)]

    best = {"engine": float("inf"), "raw": float("inf"), "gym": float("inf")}
    engine_steps = gym_steps = 0
    runner = mj_rollout.Rollout(nthread=0)
    for _ in progress_display(range(repeats), enabled=progress, desc=f"bench {task}",
                              total=repeats, leave=False):
        # (a) the engine, policy in the loop
        start = time.perf_counter()
        result = deterministic_rollouts(spec, family, thetas, tasks, horizon, seeds=seeds)
        best["engine"] = min(best["engine"], time.perf_counter() - start)
        engine_steps = result.env_steps
        # (b) raw replay of the same controls, one thread
        start = time.perf_counter()
        for idx, init, ctrl, out in groups:
            runner.rollout(model, data, init, ctrl, state=out)
        best["raw"] = min(best["raw"], time.perf_counter() - start)
        # (c) gymnasium env.step loop, NumPy policy, same parameters and start states
        steps = 0
        start = time.perf_counter()
        for i in range(m):
            env.reset()
            base.set_state(qpos0[i], qvel0[i])
            obs = base._get_obs()
            act = policies[i]
            for _ in range(horizon):
                obs, _, terminated, truncated, _ = env.step(act(obs))
                steps += 1
                if terminated or truncated:
                    break
        best["gym"] = min(best["gym"], time.perf_counter() - start)
        gym_steps = steps
    runner.close()
    env.close()
    qpos_at = 1 + np.arange(model.nq)  # FULLPHYSICS: time, then qpos
    raw_diff = max(float(np.abs(out[:, -1, qpos_at] - final_qpos[idx]).max())
                   for idx, _, _, out in groups)
    engine_rate = engine_steps / best["engine"]
    raw_rate = int(lengths.sum()) / best["raw"]
    gym_rate = gym_steps / best["gym"]
    return {
        "task": task, "rollouts": rollouts, "horizon": horizon, "threads": threads,
        "policy": policy, "engine_steps_per_s": engine_rate, "raw_steps_per_s": raw_rate,
        "gym_steps_per_s": gym_rate, "engine_over_raw": engine_rate / raw_rate,
        "engine_over_gym": engine_rate / gym_rate, "gym_rollouts": m, "repeats": repeats,
        "raw_vs_engine_max_abs_diff": raw_diff,
    }
