"""`workbench bench contention`: training throughput alone and beside one busy process."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import torch

from workbench.algorithm import algorithm_class
from workbench.app import runconfig as cfg
from workbench.app.errors import CommandFailed
from workbench.config import usable_cpus
from workbench.tasks import family_class


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
                    [sys.executable, "-c", "from workbench.app.bench.contention import "
                     "_contention_child; _contention_child()", json.dumps(job)],
                    env=env, capture_output=True, text=True)
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
            if proc.returncode != 0:
                said = proc.stderr.strip().splitlines() or ["no output"]
                raise CommandFailed(f"bench contention: the {variant}/{load} run failed "
                                    f"(exit {proc.returncode}): {said[-1]}")
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
