"""Run a figure spec: train its runs (skipping finished ones), then write CSV, PNGs, report.

Layout of `--out DIR`:
  DIR/runs/<figure>/<scale>/<run>/seed<k>/   ordinary run directories (TensorBoard, etc.)
  DIR/<figure>.csv   every test evaluation of every run
  DIR/<figure>.png   the paper's layout, x-axis as in the paper (plus _rollouts, _wall_time)
  DIR/report.md      one section per reproduced figure (sections kept in DIR/report/)

Checking, training, resuming and Ctrl-C are the experiment runner's
(`workbench.app.experiment`, shared with `workbench compare`): every run's config is resolved
and checked before the first run starts; a finished run is reused as it is, an interrupted
one resumed from its checkpoint; a run directory whose config disagrees with the spec is
refused (the numbers would not be the spec's); Ctrl-C stops the whole reproduction, and
nothing is reported from unfinished runs. This module holds what is figure-specific: which
runs, the checks, the CSV, the plots and the report, and the order the runs train in
(`longest_first`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reproductions import plots, report, timing
from reproductions.results import Results
from reproductions.spec import INCONCLUSIVE, Check, Figure, Run
from workbench.app import experiment
from workbench.app.display import start_progress
from workbench.app.errors import write_text
from workbench.app.jobs import DONE, Job, budget, plan, resolved_config
from workbench import metrics as m
from workbench.registry import Registry

#: Figure specs: one file each in reproductions/specs plus one entry-point line in setup.cfg.
FIGURES = Registry("figure", "workbench.figures")


def figures() -> dict[str, str]:
    """Figure name -> `module:OBJECT`."""
    return FIGURES.names()


def order() -> list[str]:
    """Figure names in the paper's order (fig1..fig5, then the appendix)."""
    return sorted(figures(), key=lambda n: (not n.startswith("fig"), n))


def load_figure(name: str) -> Figure:
    """A registered paper figure by name, or a study's spec by `module:ATTRIBUTE` (a
    `Figure` outside the registry, e.g. `pilots.walker_noise:FIGURE` from the repository
    root: studies are not paper figures)."""
    if ":" in name:
        from workbench.registry import import_attr
        spec = import_attr(name, "study spec")
        if not isinstance(spec, Figure):
            raise ValueError(f"{name} is not a figure spec (reproductions.spec.Figure)")
        return spec
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; valid: {', '.join(order())}, all, or a "
                         f"study as module:ATTRIBUTE")
    return FIGURES.load(name)


def jobs_for(figure: Figure, runs: list[Run], seeds: list[int],
             dirs: dict[tuple[str, int], Path], backend: str) -> list[Job]:
    """The runner's jobs: one per (run, seed), its config resolved from the spec."""
    jobs = []
    for run in runs:
        for seed in seeds:
            try:
                config = resolved_config(run.algo, run.task, run.set_list(), seed,
                                                    backend)
            except ValueError as err:
                raise ValueError(f"{figure.name} run {run.name}: {err}") from None
            jobs.append(Job(f"{figure.name} {run.name} seed {seed}",
                                       dirs[(run.name, seed)], config))
    return jobs


def select(figure: Figure, scale: str, panels: list[str] | None,
           names: list[str] | None = None) -> list[Run]:
    """The scale's runs, restricted to those on any of `panels` and then to the runs
    called `names` (each filter only when given)."""
    runs = list(figure.scale(scale).runs)
    if panels:
        known = {p.name for p in figure.panels}
        unknown = sorted(set(panels) - known)
        if unknown:
            raise ValueError(f"figure {figure.name} has no panel {', '.join(unknown)}; valid: "
                             f"{', '.join(p.name for p in figure.panels)}")
        runs = [r for r in runs if set(r.panels) & set(panels)]
    if names:
        known = {r.name for r in runs}
        unknown = sorted(set(names) - known)
        if unknown:
            raise ValueError(f"figure {figure.name} ({scale}) has no run "
                             f"{', '.join(unknown)}{' on the chosen panels' if panels else ''}; "
                             f"valid: {', '.join(r.name for r in runs)}")
        runs = [r for r in runs if r.name in names]
    return runs


def parse_seeds(text: str | int | None, default: int) -> list[int]:
    """`--seeds`: N (seeds 0 to N-1), FIRST-LAST (those seeds, both included: new seeds
    beside runs already published), or None (the scale's count)."""
    if text is None:
        return list(range(default))
    value = str(text).strip()
    try:
        if "-" in value:
            first, last = (int(v) for v in value.split("-", 1))
            if 0 <= first <= last:
                return list(range(first, last + 1))
        elif int(value) >= 1:
            return list(range(int(value)))
    except ValueError:
        pass
    raise ValueError(f"--seeds must be a count N >= 1 (seeds 0 to N-1) or a range FIRST-LAST "
                     f"with 0 <= FIRST <= LAST, e.g. 5-14; got {value!r}")


def smoke_verdict(check: Check) -> Check:
    """At smoke scale (a couple of iterations) no claim is really tested: every verdict is
    inconclusive, with what the numbers alone would have said."""
    if check.verdict == INCONCLUSIVE:
        return check
    return Check(check.text, INCONCLUSIVE, f"{check.numbers} (the numbers alone say: "
                                           f"{check.verdict})")


def write_csv(results: Results, path: Path) -> Path:
    fields = ["figure", "scale", "run", "label", "algo", "task", "seed", m.ITERATION,
              m.ROLLOUTS, m.WALL_TIME, m.TEST_PRE, m.TEST_POST, m.TEST_PRE_STOCHASTIC,
              m.TEST_POST_STOCHASTIC]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    for name, run in results.runs.items():
        for seed, rows in results.evals[name].items():
            for r in rows:
                writer.writerow({"figure": results.figure.name, "scale": results.scale,
                                 "run": name, "label": run.legend, "algo": run.algo,
                                 "task": run.task, "seed": seed,
                                 **{k: r.get(k, "") for k in fields[7:]}})
    return write_text(path, text.getvalue())


def longest_first(jobs: list[Job], run_of: dict[Path, Run], out: Path
                  ) -> list[Job]:
    """The order the jobs train in. When every job's seconds per iteration is known under
    `out` (`timing.known`: runs there, even partly trained, whose iterations cost the same,
    or the cache a `--time-at-scale --measure` run left there), the longest remaining work
    first, each job going to the next free worker: the schedule `--time-at-scale` assumes,
    which leaves a short idle tail with `--jobs N`. Otherwise the spec's order. No run's
    numbers depend on the order (each has its own seed and directory), so the order is
    only an optimisation: costs that cannot be read (a damaged cache or metrics file, a
    figure that does not load) leave the spec's order. A rollout-budget run counts its
    `iterations` cap, as the time-at-scale table does."""
    try:
        per = timing.known(out, [load_figure(n) for n in order()])
    except (ValueError, OSError):
        return jobs
    keys = {job.path: timing.cost_key(run_of[job.path]) for job in jobs}
    if not all(key in per for key in keys.values()):
        return jobs

    def work(job: Job) -> float:
        total, _ = budget(job.config)
        left = 0.0 if job.state == DONE else 1 - start_progress(job) / total
        return left * int(job.config["iterations"]) * per[keys[job.path]]

    return sorted(jobs, key=work, reverse=True)  # stable: ties keep the spec's order


@dataclass
class Prepared:
    """A figure's runs, resolved and checked against `--out`, nothing trained or written."""

    figure: Figure
    scale: str
    runs: list[Run]
    seeds: list[int]
    dirs: dict[tuple[str, int], Path]
    jobs: list[Job]
    out: Path
    panels: list[str] | None


def prepare(name: str, scale: str, out: str | Path, seeds: int | str | None = None,
            backend: str = "local", panels: list[str] | None = None,
            runs: list[str] | None = None) -> Prepared:
    """Resolve and check every run of one figure (`workbench.app.jobs.plan`); writes nothing.
    `seeds` as `parse_seeds`; `panels` and `runs` restrict the figure's runs (`select`)."""
    figure = load_figure(name)
    spec = figure.scale(scale)
    chosen = parse_seeds(seeds, spec.seeds)
    out = Path(out)
    selected = select(figure, scale, panels, runs)
    base = out / "runs" / figure.name / scale
    dirs = {(r.name, s): base / r.name / f"seed{s}" for r in selected for s in chosen}
    jobs = plan(jobs_for(figure, selected, chosen, dirs, backend))
    jobs = longest_first(jobs, {dirs[(r.name, s)]: r for r in selected for s in chosen}, out)
    return Prepared(figure, scale, selected, chosen, dirs, jobs, out, panels)


def complete(prepared: Prepared, jobs: int = 1, progress: bool = True) -> dict[str, Any]:
    """Train a prepared figure's runs, then write its CSV, plots and report section; with
    `interrupted` (and nothing written) when a signal stopped the training."""
    p = prepared
    name = p.figure.name
    outcome = experiment.execute(p.jobs, jobs, progress)
    if outcome.interrupted:
        return {"figure": name, "interrupted": True, "reused": outcome.reused,
                "trained": outcome.trained}
    results = Results.load(p.figure, p.scale, p.runs, p.seeds, p.dirs)
    checks = p.figure.checks(results)
    if p.scale == "smoke":
        checks = [smoke_verdict(c) for c in checks]
    written = [write_csv(results, p.out / f"{name}.csv"),
               *plots.curves(results, p.out / f"{name}.png")]
    if p.figure.pictures is not None:
        written += p.figure.pictures(results, p.out)
    section = report.section(results, checks, written, p.out, p.panels)
    report_path = report.write(p.out, name, section, order())
    return {"figure": name, "interrupted": False, "reused": outcome.reused,
            "trained": outcome.trained, "verdict": report.overall(checks),
            "files": [str(f) for f in written], "report": str(report_path)}


def reproduce(name: str, scale: str, out: str | Path, seeds: int | str | None = None,
              backend: str = "local", jobs: int = 1, panels: list[str] | None = None,
              progress: bool = True, runs: list[str] | None = None) -> dict[str, Any]:
    """Reproduce one figure; returns the paths written and the computed verdict."""
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1; got {jobs}")
    return complete(prepare(name, scale, out, seeds, backend, panels, runs), jobs, progress)
