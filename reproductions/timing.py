"""Time at scale: what a figure costs, from measured seconds per training iteration.

`measure` times one training iteration of a run's configuration on one thread, in
CPU-seconds of `workbench train` processes with start-up subtracted (see its docstring;
CPU time, so other jobs on the machine stretch it less than wall time, though busy cores
sharing caches still do a little). Measurements are cached in a JSON file keyed by the configuration, with the
commit and date they were taken on. Where runs of the same configuration have been
trained (any figure, any scale, under the same output directory), their own seconds per
iteration are used instead (`from_runs`): they include test evaluations and episodes that
lengthen as policies learn. Configurations that cost the same per iteration share
a key: a run's budget keys (iterations, evaluation schedule, checkpoints) are dropped, and
a locomotion task's goal-velocity / goal-position variant is timed as its forward-backward
family (the same robot stepped the same number of times; only the reward differs). A cold
iteration from the initial policy is measured: Walker2d and Ant policies that fall early
cost less than ones that learned to stay up, so their figures are lower bounds.

`estimate` turns per-run seconds into wall-clock times:
- on C cores with `--jobs C`: every (run, seed) is one single-threaded job of
  iterations x seconds; the longest-first schedule onto the least-loaded core (LPT) gives
  the makespan (never below the longest job or the total over C);
- on a Ray cluster of N CPUs with `--backend ray`: runs one after another, each
  iteration's rollouts spread over N actors, by Amdahl's law with the serial share and the
  per-CPU throughput the Ray backend measured (docs/distributed.md): an iteration of t
  seconds on one CPU takes t (s + (1 - s) / N) / efficiency.
"""

from __future__ import annotations

import dataclasses
import datetime
import heapq
import json
import math
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from reproductions.spec import Figure, Run
from workbench.app.errors import write_text
from workbench.app.runconfig import RunConfig
from workbench.metrics import WALL_TIME
from workbench.app.rundir import RunDir
from workbench.tasks import family_class

#: Keys that set a run's budget, not what one iteration costs.
BUDGET_KEYS = ("iterations", "eval_every", "eval_adaptations", "checkpoint_every")
#: Ray backend, measured (docs/distributed.md): the phases that run on actors are 99.6% of
#: an iteration at 2 actors, and an actor-CPU delivers 0.99 of a local core's throughput.
RAY_SERIAL = 0.004
RAY_EFFICIENCY = 0.99
CORES = (2, 16, 64)
#: Locomotion robots whose goal variants are timed as their forward-backward family.
_ROBOTS = ("halfcheetah", "swimmer", "walker2d", "ant")
RAY_CPUS = (16, 64, 256)
#: The cold measurements' cache, in the `--out` directory.
CACHE = "seconds_per_iteration.json"


def cost_key(run: Run) -> str:
    """The configuration that sets one iteration's cost, as a string."""
    task = run.task
    for variant in ("-gv", "-goal"):
        if task.endswith(variant) and task.split("-")[0] in _ROBOTS:
            task = task[: -len(variant)] + "-fb"
    sets = {k: v for k, v in sorted(run.sets.items()) if k not in BUDGET_KEYS}
    return json.dumps([run.algo, task, sets])



def _cpu_of(args: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(key: str, target: float = 10.0) -> float:
    """CPU-seconds of one training iteration of the configuration `key`, one thread.

    A 1-iteration run first. If its iteration took `target` seconds or more, the answer is
    its CPU time minus that of the same command with the cheapest population (one
    perturbation pair, K = 1, one current-point evaluation: start-up, model loading and a
    negligible iteration). Otherwise (CPU of a (1 + N)-iteration run - CPU of the
    1-iteration run) / N, with N sized so that the N iterations take about `target`
    seconds, so cheap iterations do not drown in the start-up's noise."""
    algo, task, sets = json.loads(key)
    with tempfile.TemporaryDirectory() as tmp:
        base = [sys.executable, "-m", "workbench", "train", "--algo", algo, "--task", task,
                "--quiet", "--set", "eval_adaptations=1", "--set", "eval_every=1000000000",
                "--set", "threads=1"]
        if "nthread" in {f.name for f in dataclasses.fields(family_class(task).Params)}:
            base += ["--set", "task.nthread=1"]  # MuJoCo's own threads: one, too
        full = base + [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
        one = _cpu_of(full + ["--out", f"{tmp}/one", "--set", "iterations=1"])
        first = RunDir(Path(tmp) / "one").read_metrics()[0]
        if first[WALL_TIME] >= target:
            cheap = {**sets, **CHEAPEST.get(algo, {})}
            probe = base + [a for k, v in cheap.items() for a in ("--set", f"{k}={v}")]
            return max(one - _cpu_of(probe + ["--out", f"{tmp}/probe",
                                               "--set", "iterations=1"]), 0.0)
        n = max(1, min(1000, math.ceil(target / max(first[WALL_TIME], 1e-3))))
        more = _cpu_of(full + ["--out", f"{tmp}/more", "--set", f"iterations={1 + n}"])
    return max(more - one, 0.0) / n


#: The smallest population of each algorithm: what `measure` subtracts as start-up.
CHEAPEST = {"es-maml": {"num_perturbations": 2, "num_current_evals": 1, "K": 1},
            "maml-trpo": {"meta_batch": 1, "K": 1}, "promp": {"meta_batch": 1, "K": 1},
            "dice": {"meta_batch": 1, "K": 1}}


def from_runs(out: Path, figures: list[Figure]) -> dict[str, float]:
    """Seconds per iteration over whole trained runs found under `out/runs/FIGURE/SCALE/`
    (wall time including test evaluations, mean over seeds and over the runs that share a
    configuration): what a run costs as it learns, e.g. on CartPole or Walker2d whose
    episodes lengthen as policies stop falling, where a cold iteration is far too cheap."""
    found: dict[str, list[float]] = {}
    for figure in figures:
        for scale, spec in figure.scales.items():
            for run in spec.runs:
                for metrics in sorted((out / "runs" / figure.name / scale / run.name)
                                      .glob("seed*/metrics.jsonl")):
                    # a torn last line (a run killed, or training now) is left out
                    rows = RunDir(metrics.parent).read_metrics()
                    if rows and WALL_TIME in rows[-1]:
                        found.setdefault(cost_key(run), []).append(
                            rows[-1][WALL_TIME] / len(rows))
    return {k: sum(v) / len(v) for k, v in found.items()}


def measured(figures: list[Figure], scale: str, out: Path, run_missing: bool,
             commit: str = "", log=print) -> tuple[dict[str, float], dict[str, str]]:
    """Seconds per iteration for every run of `figures` at `scale`, and where each came
    from: trained runs under `out/runs` first (`from_runs`, over every registered figure
    and scale), else one-thread cold iterations cached in
    `out/seconds_per_iteration.json`, measured now for missing keys when `run_missing`."""
    cached = _cache(out)
    runs = from_runs(out, figures)
    keys = sorted({cost_key(r) for f in figures for r in f.scale(scale).runs})
    for key in keys:
        if key in runs or key in cached or not run_missing:
            continue
        log(f"measuring {key}")
        cached[key] = {"cpu_seconds": round(measure(key), 4), "commit": commit,
                      "date": datetime.date.today().isoformat()}
        out.mkdir(parents=True, exist_ok=True)
        # written aside, then renamed: Ctrl-C leaves no torn file
        write_text(out / CACHE, json.dumps(cached, indent=1, sort_keys=True) + "\n")
    return _merged(cached, runs)


def known(out: Path, figures: list[Figure]) -> dict[str, float]:
    """Seconds per iteration already known under `out`, as `measured` finds them (trained
    runs first, else the cache), measuring nothing."""
    return _merged(_cache(out), from_runs(out, figures))[0]


def _cache(out: Path) -> dict[str, Any]:
    """The cold measurements cached under `out` ({} if none); ValueError if the file is not
    such a cache."""
    path = out / CACHE
    if not path.exists():
        return {}
    try:
        cached = json.loads(path.read_text())
    except ValueError:
        cached = None
    if not (isinstance(cached, dict) and all(
            isinstance(v, dict) and isinstance(v.get("cpu_seconds"), (int, float))
            for v in cached.values())):
        raise ValueError(f"{path} is not a seconds-per-iteration cache (JSON: configuration "
                         f"-> {{\"cpu_seconds\": number, ...}}); delete it to measure again")
    return cached


def _merged(cached: dict[str, Any], runs: dict[str, float]
            ) -> tuple[dict[str, float], dict[str, str]]:
    per = {k: v["cpu_seconds"] for k, v in cached.items()}
    source = {k: "cold" for k in per}
    per.update(runs)
    source.update({k: "runs" for k in runs})
    return per, source


# -- estimates -------------------------------------------------------------------------
def makespan(jobs: list[float], cores: int) -> float:
    """Longest-first schedule of independent single-core jobs onto `cores` cores."""
    loads = [0.0] * max(cores, 1)
    for job in sorted(jobs, reverse=True):
        heapq.heapreplace(loads, loads[0] + job)
    return max(loads)


def ray_seconds(jobs: list[float], cpus: int, serial: float = RAY_SERIAL,
                efficiency: float = RAY_EFFICIENCY) -> float:
    """Jobs one after another, each spread over `cpus` Ray actors (Amdahl)."""
    return sum(jobs) * (serial + (1.0 - serial) / cpus) / efficiency


def job_seconds(figure: Figure, scale: str, per_iteration: dict[str, float],
                seeds: int | None = None) -> tuple[list[float], list[str]]:
    """One entry per (run, seed): iterations x seconds per iteration; and the runs whose
    configuration has no measurement."""
    spec = figure.scale(scale)
    jobs, missing = [], []
    for run in spec.runs:
        key = cost_key(run)
        if key not in per_iteration:
            missing.append(run.name)
            continue
        iterations = int(run.sets.get("iterations", RunConfig.iterations))
        jobs += [iterations * per_iteration[key]] * (seeds or spec.seeds)
    return jobs, missing


def estimate(jobs: list[float]) -> dict[str, Any]:
    return {"core_hours": sum(jobs) / 3600,
            "cores": {c: makespan(jobs, c) / 3600 for c in CORES},
            "ray": {n: ray_seconds(jobs, n) / 3600 for n in RAY_CPUS}}


def hours(h: float) -> str:
    if h * 60 < 1:
        return "<1 min"
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.1f} h" if h < 100 else f"{h:,.0f} h"


def table(figures: list[Figure], scale: str, per_iteration: dict[str, float],
          source: dict[str, str] | None = None) -> str:
    """Markdown: per figure, seconds per iteration (range over its runs, and whether they
    come from trained runs or cold iterations), core-hours and expected wall-clock on
    2 / 16 / 64 cores and on Ray clusters."""
    source = source or {}
    head = (["figure", "runs x seeds", "s / iteration", "from", "core-hours"]
            + [f"{c} cores" for c in CORES] + [f"Ray, {n} CPUs" for n in RAY_CPUS])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for figure in figures:
        jobs, missing = job_seconds(figure, scale, per_iteration)
        spec = figure.scale(scale)
        if missing:
            lines.append(f"| {figure.name} | {len(spec.runs)} x {spec.seeds} | not measured: "
                         f"{', '.join(missing)} |" + " |" * (len(head) - 3))
            continue
        keys = [cost_key(r) for r in spec.runs]
        per = sorted(per_iteration[k] for k in keys)
        origin = sorted({source.get(k, "cold") for k in keys})
        e = estimate(jobs)
        cells = [figure.name, f"{len(spec.runs)} x {spec.seeds}",
                 f"{per[0]:.3g}" if per[0] == per[-1] else f"{per[0]:.3g}-{per[-1]:.3g}",
                 " + ".join(origin), f"{e['core_hours']:.3g}"]
        cells += [hours(e["cores"][c]) for c in CORES] + [hours(e["ray"][n]) for n in RAY_CPUS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
