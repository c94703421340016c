"""Run a figure spec: train its runs (skipping finished ones), then write CSV, PNGs, report.

Layout of `--out DIR`:
  DIR/runs/<figure>/<scale>/<run>/seed<k>/   ordinary run directories (TensorBoard, etc.)
  DIR/<figure>.csv   every test evaluation of every run
  DIR/<figure>.png   the paper's layout, x-axis as in the paper (plus _rollouts, _wall_time)
  DIR/report.md      one section per reproduced figure (sections kept in DIR/report/)

A run whose `metrics.jsonl` already reaches its configured iterations is reused as it is;
an interrupted one is resumed from its checkpoint, so an interrupted reproduction picks up
where it stopped. A run directory whose config disagrees with the spec is an error (the
numbers would not be the spec's), not silently reused.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from tqdm import tqdm

from reproductions import plots, report
from reproductions.results import Results
from reproductions.spec import INCONCLUSIVE, POST, PRE, Check, Figure, Run
from workbench import config as cfg
from workbench import run as runmod
from workbench.algorithm import algorithm_class
from workbench.checkpoint import list_checkpoints

GROUP = "workbench.figures"


def figures() -> dict[str, str]:
    """Figure name -> `module:OBJECT`, from the `workbench.figures` entry points."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


def order() -> list[str]:
    """Figure names in the paper's order (fig1..fig5, then the appendix)."""
    return sorted(figures(), key=lambda n: (not n.startswith("fig"), n))


def load_figure(name: str) -> Figure:
    known = figures()
    if name not in known:
        raise ValueError(f"unknown figure {name!r}; valid: {', '.join(order())}, all")
    ep = next(ep for ep in entry_points(group=GROUP) if ep.name == name)
    return ep.load()


@dataclass
class Job:
    run: Run
    seed: int
    path: Path
    config: dict[str, Any]
    resume: bool


def run_backend(run: Run, backend: str) -> str:
    """The backend a run uses: the requested one where its algorithm supports it (Ray
    distributes ES-MAML's rollouts only; PG-MAML runs stay local)."""
    return backend if backend in algorithm_class(run.algo).backends else "local"


def expected_config(run: Run, seed: int, backend: str) -> dict[str, Any]:
    config = cfg.build(algorithm_class(run.algo).defaults(), None,
                       [*run.set_list(), f"backend={run_backend(run, backend)}"], seed=seed)
    config["algo"], config["task"]["name"] = run.algo, run.task
    return config


def finished(path: Path, iterations: int) -> bool:
    rows = runmod.RunDir(path).read_metrics()
    return bool(rows) and rows[-1]["iteration"] + 1 >= iterations


def plan(run: Run, seed: int, path: Path, backend: str) -> Job | None:
    """The job that brings one run to its spec, or None when it is already finished."""
    want = expected_config(run, seed, backend)
    directory = runmod.RunDir(path)
    if directory.config.exists():
        have = cfg.load(directory.config)
        for key in sorted(set(want) | set(have)):
            if key not in runmod.RESUMABLE_KEYS and want.get(key) != have.get(key):
                raise ValueError(f"{path} holds a run whose {key!r} is {have.get(key)!r}, but "
                                 f"the spec asks for {want.get(key)!r}; use another --out (or "
                                 f"delete that run directory)")
        if finished(path, int(want["iterations"])):
            return None
        if list_checkpoints(directory.checkpoints):
            cfg.dump({**have, "iterations": want["iterations"], "backend": want["backend"]},
                     directory.config)
            return Job(run, seed, path, cfg.load(directory.config), True)
        shutil.rmtree(path)  # created but never checkpointed: nothing worth keeping
    algorithm_class(run.algo)(want)  # a bad spec fails before anything is created
    path.mkdir(parents=True, exist_ok=True)
    cfg.dump(want, directory.config)
    return Job(run, seed, path, want, False)


def _run_inline(job: Job, progress: bool) -> bool:
    summary = runmod.train(runmod.RunDir(job.path), job.config, resume=job.resume,
                           progress=progress)
    return not summary["stopped"]


def _run_subprocess(job: Job) -> bool:
    """One run in its own `python -m reproductions.worker` process, on one thread."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    log = job.path / "train.log"
    with log.open("a") as f:
        proc = subprocess.run([sys.executable, "-m", "reproductions.worker", str(job.path),
                               "resume" if job.resume else "new"],
                              stdout=f, stderr=subprocess.STDOUT, env=env)
    if proc.returncode == 3:  # stopped by a signal, checkpointed
        return False
    if proc.returncode != 0:
        tail = log.read_text().strip().splitlines()[-3:]
        raise RuntimeError(f"run {job.path} failed (exit {proc.returncode}): "
                           + " | ".join(tail))
    return finished(job.path, int(job.config["iterations"]))


def train_all(jobs: list[Job], parallel: int, progress: bool) -> bool:
    """Run the jobs, `parallel` at a time; False if interrupted before all finished."""
    bar = tqdm(total=len(jobs), desc="runs", unit="run", disable=not progress or len(jobs) < 2,
               dynamic_ncols=True)
    try:
        if parallel <= 1:
            for job in jobs:
                bar.set_postfix_str(f"{job.run.name} seed {job.seed}")
                if not _run_inline(job, progress):
                    return False
                bar.update()
            return True
        with ThreadPoolExecutor(parallel) as pool:
            ok = True
            for done in pool.map(_run_subprocess, jobs):
                ok &= done
                bar.update()
            return ok
    finally:
        bar.close()


def select(figure: Figure, scale: str, panels: list[str] | None) -> list[Run]:
    runs = list(figure.scale(scale).runs)
    if not panels:
        return runs
    known = {p.name for p in figure.panels}
    unknown = sorted(set(panels) - known)
    if unknown:
        raise ValueError(f"figure {figure.name} has no panel {', '.join(unknown)}; valid: "
                         f"{', '.join(p.name for p in figure.panels)}")
    return [r for r in runs if set(r.panels) & set(panels)]


def smoke_verdict(check: Check) -> Check:
    """At smoke scale (a couple of iterations) no claim is really tested: every verdict is
    inconclusive, with what the numbers alone would have said."""
    if check.verdict == INCONCLUSIVE:
        return check
    return Check(check.text, INCONCLUSIVE, f"{check.numbers} (the numbers alone say: "
                                           f"{check.verdict})")


def write_csv(results: Results, path: Path) -> Path:
    fields = ["figure", "scale", "run", "label", "algo", "task", "seed", "iteration",
              "rollouts", "wall_time_s", PRE, POST]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for name, run in results.runs.items():
            for seed, rows in results.evals[name].items():
                for r in rows:
                    writer.writerow({"figure": results.figure.name, "scale": results.scale,
                                     "run": name, "label": run.legend, "algo": run.algo,
                                     "task": run.task, "seed": seed,
                                     **{k: r[k] for k in fields[7:]}})
    return path


def reproduce(name: str, scale: str, out: str | Path, seeds: int | None = None,
              backend: str = "local", jobs: int = 1, panels: list[str] | None = None,
              progress: bool = True) -> dict[str, Any]:
    """Reproduce one figure; returns the paths written and the computed verdict."""
    figure = load_figure(name)
    spec = figure.scale(scale)
    n_seeds = int(seeds) if seeds is not None else spec.seeds
    if n_seeds < 1:
        raise ValueError(f"--seeds must be >= 1; got {n_seeds}")
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1; got {jobs}")
    out = Path(out)
    runs = select(figure, scale, panels)
    base = out / "runs" / figure.name / scale
    dirs = {(r.name, s): base / r.name / f"seed{s}" for r in runs for s in range(n_seeds)}
    planned = [plan(r, s, dirs[(r.name, s)], backend) for r in runs for s in range(n_seeds)]
    todo = [job for job in planned if job is not None]
    reused = len(dirs) - len(todo)
    if not train_all(todo, jobs, progress):
        return {"figure": name, "interrupted": True, "reused": reused, "trained": 0}
    results = Results.load(figure, scale, runs, n_seeds, dirs)
    checks = figure.checks(results)
    if scale == "smoke":
        checks = [smoke_verdict(c) for c in checks]
    written = [write_csv(results, out / f"{name}.csv"),
               *plots.curves(results, out / f"{name}.png")]
    if figure.pictures is not None:
        written += figure.pictures(results, out)
    section = report.section(results, checks, written, out, panels)
    report_path = report.write(out, name, section, order())
    return {"figure": name, "interrupted": False, "reused": reused, "trained": len(todo),
            "verdict": report.overall(checks), "files": [str(p) for p in written],
            "report": str(report_path)}
