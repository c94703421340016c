"""Benchmarks that report ratios measured in one run, so the numbers survive a noisy machine.

`rollouts`: the batched engine against a one-rollout-at-a-time loop (a `MetaEnv` per
rollout and a NumPy policy, the way a gym user would write it) over the SAME rollouts:
same parameters, tasks, seeds and horizon. The loop may run a prefix of the rollouts to
bound its time; the rates are per env-step either way, and the loop's returns are checked
against the engine's.

`rollouts` on a MuJoCo task (`bench_mujoco_rollouts`): the engine with the policy in the
loop against (b) a raw replay of the SAME control sequences with `mujoco.rollout` on one
thread (the physics limit; the replay's final states are checked against the engine's) and
(c) a gymnasium `env.step` loop over the same rollouts (same parameters and start states).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import numpy as np
import torch

from workbench.config import usable_cpus
from workbench.policies import PolicySpec
from workbench.app.progress import progress as progress_display
from workbench.rollout import evaluate
from workbench.tasks import make_family


def numpy_policy(spec: PolicySpec, theta: np.ndarray):
    """A single policy as a NumPy closure `obs [obs_dim] -> action [act_dim]`."""
    layers, at = [], 0
    for fan_in, fan_out in spec.layer_sizes:
        w = theta[at:at + fan_in * fan_out].reshape(fan_in, fan_out)
        at += fan_in * fan_out
        layers.append((w, theta[at:at + fan_out]))
        at += fan_out
    hidden = np.tanh if spec.activation == "tanh" else (lambda x: np.maximum(x, 0.0))

    def act(obs: np.ndarray) -> np.ndarray:
        x = obs
        for i, (w, b) in enumerate(layers):
            x = x @ w + b
            x = np.tanh(x) if i == len(layers) - 1 else hidden(x)
        return x
    return act


def population(family, policy: str, rollouts: int, seed: int):
    """`(spec, thetas, tasks, seeds)`: perturbed copies of one initial policy, a realistic ES
    population, with its tasks and per-rollout seeds."""
    spec = PolicySpec.from_name(policy, family.obs_dim, family.act_dim)
    g = torch.Generator().manual_seed(seed)
    thetas = spec.init(g) + 0.1 * torch.randn(rollouts, spec.num_params, generator=g)
    return spec, thetas, family.sample_tasks(rollouts, g), torch.arange(rollouts)


def bench_rollouts(task: str, rollouts: int | None = None, horizon: int | None = None,
                   policy: str = "L", threads: int | None = None, loop_rollouts: int = 300,
                   repeats: int = 3, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Engine vs per-rollout loop (2-D and CartPole tasks; 3000 rollouts by default).

    MuJoCo tasks go to `bench_mujoco_rollouts` (engine vs raw replay vs gymnasium).
    """
    from workbench.tasks import family_class
    if family_class(task).simulator == "mujoco":
        return bench_mujoco_rollouts(task, rollouts, horizon, policy, threads, loop_rollouts,
                                     seed=seed, progress=progress)
    rollouts = rollouts or 3000
    threads = threads or usable_cpus()
    torch.set_num_threads(threads)
    family = make_family(task)
    horizon = horizon or family.default_horizon
    spec, thetas, tasks, seeds = population(family, policy, rollouts, seed)

    evaluate(spec, family, thetas[:8], tasks[:8], min(horizon, 5), seeds=seeds[:8])
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = evaluate(spec, family, thetas, tasks, horizon, seeds=seeds)
        best = min(best, time.perf_counter() - start)
    engine_rate = result.env_steps / best

    m = min(loop_rollouts, rollouts)
    env = family.make_env()
    loop_returns, loop_steps = np.zeros(m), 0
    start = time.perf_counter()
    for i in progress_display(range(m), enabled=progress, desc="per-rollout loop", total=m,
                              leave=False):
        act = numpy_policy(spec, thetas[i].double().numpy())
        env.set_task(int(tasks[i]))
        obs, _ = env.reset(seed=int(seeds[i]))
        for _ in range(horizon):
            obs, reward, done, _, _ = env.step(act(obs))
            loop_returns[i] += reward
            loop_steps += 1
            if done:
                break
    loop_rate = loop_steps / (time.perf_counter() - start)
    diff = np.abs(loop_returns - result.returns[:m].double().numpy())
    scale = np.maximum(1.0, np.abs(loop_returns))
    return {
        "task": task, "rollouts": rollouts, "horizon": horizon, "threads": threads,
        "policy": policy, "engine_steps_per_s": engine_rate, "loop_rollouts": m,
        "loop_steps_per_s": loop_rate, "engine_over_loop": engine_rate / loop_rate,
        "loop_vs_engine_max_rel_diff": float((diff / scale).max()),
    }


def bench_iteration(task: str, algo: str = "es-maml", sets: list[str] | None = None,
                    repeats: int = 3, threads: int | None = None, backend: str = "local",
                    ray_address: str | None = None) -> dict[str, Any]:
    """Seconds per paper-scale training iteration (the algorithm's defaults), best of `repeats`.

    With more than one repeat a warm-up iteration runs first (allocations, lazy imports);
    `repeats=1` times a single cold iteration, for tasks where one iteration takes minutes.
    Iterations differ only in their random draws, so each timed one costs the same work.

    `backend="ray"` builds the same run twice, on the local backend and on Ray (actors
    started before any timing), and times them in alternation, iteration i on one then on
    the other, so load from other jobs hits both alike; it reports both, `ray_over_local`
    (env-steps/s on Ray over local), whether both computed the same numbers, and the bytes
    the Ray backend sent and received per iteration.
    """
    from workbench.app import runconfig as cfg
    from workbench.algorithm import algorithm_class
    from workbench.backends import check_backend

    check_backend(backend)
    cls = algorithm_class(algo)
    names = ["local"] if backend == "local" else ["local", backend]
    runners = {}
    for name in names:
        # `threads` (or --set threads=N) is the run's torch thread count, which building
        # the algorithm sets; without either, the run's default (1)
        config = cfg.resolve(cls, None, sets, task=task, backend=name, threads=threads,
                             ray_address=ray_address if name == "ray" else None)
        runners[name] = cls(config)
    threads = torch.get_num_threads()
    try:
        return _time_iterations(task, algo, runners, repeats, threads)
    finally:
        for runner in runners.values():
            runner.close()


def _time_iterations(task: str, algo: str, runners: dict[str, Any], repeats: int,
                     threads: int) -> dict[str, Any]:
    for runner in runners.values():
        runner.backend.start()
        if repeats > 1:
            runner.train_iteration(0)
    best = {name: (float("inf"), 0, 0, 0.0) for name in runners}
    seen: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
    traffic: dict[str, int] = {}
    for i in range(1, repeats + 1):
        for name, runner in runners.items():
            before = _backend_counters(runner)
            start, cpu = time.perf_counter(), time.process_time()
            result = runner.train_iteration(i)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            after = _backend_counters(runner)
            if after:
                traffic = {k: after[k] - before.get(k, 0) for k in after}
                traffic["iteration_s"] = elapsed
            # CPU seconds of the work (this process, plus the actors' on Ray): unlike wall
            # time, not skewed by other jobs competing for the cores
            cpu += after.get("actor_cpu_s", 0.0) - before.get("actor_cpu_s", 0.0)
            seen[name].append((result.pre_return, result.post_return))
            if elapsed < best[name][0]:
                best[name] = (elapsed, result.env_steps, result.rollouts, cpu)
    first = next(iter(runners.values()))
    out: dict[str, Any] = {
        "task": task, "algo": algo, "backend": list(runners)[-1], "backends": list(runners),
        "threads": threads, "policy": first.spec.describe(), "horizon": first.horizon,
        "rollouts_per_iteration": best["local"][2]}
    for name, (seconds, steps, _, cpu) in best.items():
        out[f"{name}_seconds_per_iteration"] = seconds
        out[f"{name}_env_steps_per_s"] = steps / seconds
        out[f"{name}_cpu_seconds_per_iteration"] = cpu
    last = list(runners)[-1]
    out["seconds_per_iteration"] = out[f"{last}_seconds_per_iteration"]
    out["env_steps_per_s"] = out[f"{last}_env_steps_per_s"]
    if "ray" in runners:
        ray_backend = runners["ray"].backend
        out["ray_over_local"] = out["ray_env_steps_per_s"] / out["local_env_steps_per_s"]
        out["ray_actors"] = int(runners["ray"].backend_counters().get("live_actors", 0))
        out["ray_actor_cpus"] = ray_backend.actor_cpus
        out["ray_actor_restarts"] = ray_backend.restarts
        out["same_numbers"] = seen["local"] == seen["ray"] and _same_state(
            runners["local"].state_dict(), runners["ray"].state_dict())
        out["ray_bytes_sent_per_iteration"] = traffic.get("sent", 0)
        out["ray_bytes_received_per_iteration"] = traffic.get("received", 0)
        out["ray_bytes_if_rows_per_iteration"] = traffic.get("dense", 0)
        # Where Ray's time goes (last timed iteration): the share of the iteration spent in
        # phases, and how busy the actors were during phases (1 = no overhead, no waiting).
        out["ray_phase_share"] = traffic.get("phase_s", 0.0) / max(traffic.get("iteration_s", 1.0), 1e-9)
        out["ray_actor_busy"] = traffic.get("actor_s", 0.0) / max(traffic.get("actor_capacity_s", 0.0), 1e-9)
    return out


def _backend_counters(runner: Any) -> dict[str, float]:
    """The Ray objective's cumulative bytes and seconds (empty on the local backend)."""
    return runner.backend_counters()


def _same_state(a: Any, b: Any) -> bool:
    """Bitwise equality of two state dicts (tensors, numbers, nested dicts and lists)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and \
            all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and \
            all(_same_state(x, y) for x, y in zip(a, b))
    return a == b


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
    kwargs: dict[str, Any] = {}
    if "terminate_when_unhealthy" in family.params:
        kwargs["terminate_when_unhealthy"] = bool(family.params["terminate_when_unhealthy"])
    if family.robot.gym_id.startswith("Ant"):
        kwargs["include_cfrc_ext_in_observation"] = False
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
    lengths = evaluate(spec, recorder, thetas, tasks, horizon, seeds=seeds).lengths.numpy()
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
        result = evaluate(spec, family, thetas, tasks, horizon, seeds=seeds)
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


#: `make demo`'s configuration, less its iteration count and evaluation schedule.
DEMO_SETS = ("adaptation=hc", "policy=H", "K=20")


def bench_contention(task: str = "four-corners", iterations: int = 30,
                     sets: list[str] | None = None, progress: bool = True) -> dict[str, Any]:
    """Training throughput alone and beside one busy process, before and after `threads`.

    Each measurement is a fresh process (`_contention_child`) that builds ES-MAML with the
    demo configuration (`DEMO_SETS`, then `sets`) and times `iterations` training
    iterations (building and imports not included; no test evaluations). Four of them:
    "before" (torch on every usable core, what torch does by default, and for MuJoCo
    tasks physics on every usable core, as `task.nthread` defaulted to before) and "after"
    (the run's defaults), each alone and beside `yes > /dev/null` pinned to the first
    usable core. The throughput ratio loaded/alone is alone seconds over loaded seconds:
    1 means the busy process cost nothing, 0.5 a fair share of two cores.
    """
    import subprocess
    import sys

    from workbench.tasks import family_class

    sets = list(sets or [])
    for item in sets:
        key = item.split("=", 1)[0].strip()
        if key in ("iterations", "threads", "backend"):
            raise ValueError(f"bench contention sets {key} itself; got --set {item!r}")
    cpus = usable_cpus()
    before = [f"threads={cpus}"]
    if family_class(task).simulator == "mujoco" and not any(
            s.split("=", 1)[0].strip() == "task.nthread" for s in sets):
        before.append(f"task.nthread={cpus}")
    variants = {"before": before, "after": []}
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}  # torch's own default
    busy_core = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    seconds: dict[str, float] = {}
    threads: dict[str, Any] = {}
    for variant, extra in variants.items():
        for load in ("alone", "loaded"):
            job = {"task": task, "iterations": iterations,
                   "sets": [*DEMO_SETS, *sets, *extra]}
            busy = None
            try:
                if load == "loaded":
                    busy = subprocess.Popen(
                        ["yes"], stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                        preexec_fn=lambda: os.sched_setaffinity(0, {busy_core}))
                proc = subprocess.run(
                    [sys.executable, "-c", "from workbench.app.bench import _contention_child; "
                     "_contention_child()", json.dumps(job)],
                    env=env, capture_output=True, text=True)
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
            if proc.returncode != 0:
                raise RuntimeError(f"bench contention: the {variant}/{load} run failed:\n"
                                   + proc.stderr[-2000:])
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            seconds[f"{variant}_{load}"] = out["seconds"]
            threads[variant] = {"torch": out["torch_threads"], "physics": out["nthread"]}
            if progress:
                print(f"  {variant:6s} {load:6s} {out['seconds']:8.2f} s  (torch "
                      f"{out['torch_threads']} thread(s)"
                      + (f", physics {out['nthread']}" if out["nthread"] else "") + ")",
                      file=sys.stderr, flush=True)
    return {
        "task": task, "iterations": iterations, "usable_cpus": cpus,
        "sets": [*DEMO_SETS, *sets], "before_sets": before, "busy_core": busy_core,
        "before_threads": threads["before"], "after_threads": threads["after"],
        **{f"{k}_s": v for k, v in seconds.items()},
        "before_loaded_over_alone": seconds["before_alone"] / seconds["before_loaded"],
        "after_loaded_over_alone": seconds["after_alone"] / seconds["after_loaded"],
        "after_over_before_alone": seconds["before_alone"] / seconds["after_alone"],
        "after_over_before_loaded": seconds["before_loaded"] / seconds["after_loaded"],
    }


def _contention_child() -> None:
    """One `bench_contention` measurement (argv[1]: JSON job); prints one JSON line."""
    import sys

    from workbench.app import runconfig as cfg
    from workbench.algorithm import algorithm_class

    job = json.loads(sys.argv[1])
    cls = algorithm_class("es-maml")
    config = cfg.resolve(cls, None, job["sets"], task=job["task"],
                         iterations=job["iterations"])
    runner = cls(config)
    try:
        start = time.perf_counter()
        for i in range(job["iterations"]):
            runner.train_iteration(i)
        elapsed = time.perf_counter() - start
        nthread = None  # physics threads: MuJoCo families only
        if runner.family.simulator == "mujoco":
            nthread = runner.family.nthread if runner.family.params["engine"] == "batch" else 1
        print(json.dumps({"seconds": elapsed, "torch_threads": torch.get_num_threads(),
                          "nthread": nthread}))
    finally:
        runner.close()
