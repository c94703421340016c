"""`workbench bench iteration`: seconds per training iteration, local and Ray alike."""

from __future__ import annotations

import time
from typing import Any

import torch

from workbench.algorithm import algorithm_class
from workbench.app import runconfig as cfg
from workbench.backends import check_backend


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
