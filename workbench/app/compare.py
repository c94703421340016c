"""Head-to-head comparisons: several algorithms, the same task, seeds and rollout budget.

`workbench compare --task T --algos es-maml,promp --seeds 3 --budget-rollouts R --out DIR`
is a front end over the experiment runner (`workbench.app.experiment`): it turns its options
into one job per (algorithm, seed), trained in `DIR/<algo>/seed<k>` until the run's
cumulative training rollouts reach R, and leaves checking, resuming, refusing a directory
of another config, Ctrl-C and progress to the runner. When every run is finished it writes
`DIR/compare.csv` (every test evaluation of every run), one PNG per x-axis
(`compare_iterations.png`, `compare_rollouts.png`, `compare_wall_time.png`: mean +- std of
the post-adaptation test return over seeds, from `workbench.app.curves`) and `DIR/compare.md`,
a table of final post-adaptation returns. An interrupted compare writes none of these.

`--set key=value` applies to every selected algorithm that has the key, `--set
algo:key=value` to that algorithm only; a key no selected algorithm has is an error naming
the closest one. The budget is `--budget-rollouts` and the seeds are `--seeds`, so
`iterations`, `budget_rollouts` and `seed` cannot be set.
"""

from __future__ import annotations

import csv
import difflib
import io
from pathlib import Path
from typing import Any

import numpy as np

from workbench import metrics as m
from workbench.app import experiment
from workbench.app.curves import curves
from workbench.app.errors import write_text
from workbench.app.jobs import Job, flatten, resolved_config
from workbench.app.plotting import layout_figure, panel_title, plt, save_figure
from workbench.app.rundir import RunDir, check_out_dir

#: The iteration limit of a compare run: never reached, the rollout budget stops it first.
MAX_ITERATIONS = 1_000_000
#: Keys compare sets itself, and what to use instead.
RESERVED = {
    "iterations": "compare trains every run to its rollout budget: use --budget-rollouts",
    "budget_rollouts": "use --budget-rollouts",
    "seed": "compare trains seeds 0..N-1: use --seeds N",
    "algo": "use --algos",
    "task.name": "use --task",
}
FIELDS = ["algo", "seed", m.ITERATION, m.ROLLOUTS, m.WALL_TIME, m.TEST_PRE, m.TEST_POST]


def _keys(config: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(dotted keys, section names) of a resolved config."""
    return (set(flatten(config)),
            {k for k, v in config.items() if isinstance(v, dict)})


def _knows(key: str, keys: set[str], sections: set[str]) -> bool:
    # a key inside a section (task.*, adapt_options.*) is checked by the config layer
    return key in keys or key.split(".")[0] in sections


def _closest(key: str, keys: set[str]) -> str:
    valid = sorted(keys - set(RESERVED))
    best = difflib.get_close_matches(key, valid, n=1, cutoff=0.0)
    return f"did you mean {best[0]!r}?" if best else "it has no keys"


def route_sets(task: str, algos: list[str], sets: list[str]) -> dict[str, list[str]]:
    """Each algorithm's `key=value` strings from `--set [ALGO:]KEY=VALUE`, every key
    checked against the selected algorithms' configs."""
    known = {algo: _keys(resolved_config(algo, task)) for algo in algos}
    routed: dict[str, list[str]] = {algo: [] for algo in algos}
    for item in sets:
        if "=" not in item:
            raise ValueError(f"--set takes [ALGO:]KEY=VALUE; got {item!r}")
        key, value = item.split("=", 1)
        owner, _, key = key.strip().rpartition(":")
        key = key.strip()
        if key in RESERVED:
            raise ValueError(f"--set {item}: compare sets {key!r} itself; {RESERVED[key]}")
        if owner:
            if owner not in known:
                raise ValueError(f"--set {item}: {owner!r} is not one of --algos "
                                 f"({', '.join(algos)})")
            keys, sections = known[owner]
            if not _knows(key, keys, sections):
                raise ValueError(f"--set {item}: {owner} has no config key {key!r}; "
                                 f"{_closest(key, keys)}")
            routed[owner].append(f"{key}={value}")
            continue
        takers = [a for a in algos if _knows(key, *known[a])]
        if not takers:
            every = set().union(*(keys for keys, _ in known.values()))
            raise ValueError(f"--set {item}: no algorithm in --algos ({', '.join(algos)}) has "
                             f"the config key {key!r}; {_closest(key, every)}")
        for algo in takers:
            routed[algo].append(f"{key}={value}")
    return routed


def jobs_for(task: str, algos: list[str], seeds: int, budget: int, out: str | Path,
             sets: list[str] | None = None) -> list[Job]:
    """One job per (algorithm, seed): `out/<algo>/seed<k>`, trained to `budget` rollouts."""
    if seeds < 1 or budget < 1:
        raise ValueError(f"--seeds and --budget-rollouts must be positive; got {seeds}, {budget}")
    if not algos:
        raise ValueError("--algos names no algorithm")
    if len(set(algos)) != len(algos):
        raise ValueError(f"--algos names an algorithm twice: {','.join(algos)}")
    routed = route_sets(task, algos, list(sets or []))
    out = Path(out)
    jobs = []
    for algo in algos:
        for seed in range(seeds):
            try:
                config = resolved_config(
                    algo, task, [*routed[algo], f"budget_rollouts={budget}",
                                 f"iterations={MAX_ITERATIONS}"], seed)
            except ValueError as err:
                raise ValueError(f"{algo}: {err}") from None
            jobs.append(Job(f"{algo} seed {seed}", out / algo / f"seed{seed}",
                                       config))
    return jobs


def evaluations(jobs: list[Job]) -> list[dict[str, Any]]:
    """One row per test evaluation of every job's run, in job and iteration order."""
    rows = []
    for job in jobs:
        for r in RunDir(job.path).read_metrics():
            if m.is_evaluation(r):
                rows.append({"algo": job.config["algo"], "seed": job.config["seed"],
                             **{k: r[k] for k in FIELDS[2:]}})
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, text.getvalue())


def _per_seed(rows: list[dict[str, Any]], algo: str) -> list[list[dict[str, Any]]]:
    seeds = sorted({r["seed"] for r in rows if r["algo"] == algo})
    return [[r for r in rows if r["algo"] == algo and r["seed"] == s] for s in seeds]


def plot(rows: list[dict[str, Any]], algos: list[str], task: str, out: Path) -> list[Path]:
    paths = []
    for axis in m.AXES:
        fig, axes = layout_figure(6, 4)
        ax = axes[0, 0]
        for algo in algos:
            x, mean, std = curves(_per_seed(rows, algo), axis, m.TEST_POST)
            (line,) = ax.plot(x, mean, label=algo)
            ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.25)
        ax.set_xlabel(m.AXIS_LABELS[axis])
        ax.set_ylabel("post-adaptation test return")
        ax.legend()
        panel_title(ax, f"{task}: mean +- std over seeds", fontsize=12)
        paths.append(save_figure(fig, out / f"compare_{axis}.png"))
        plt.close(fig)
    return paths


def table(rows: list[dict[str, Any]], algos: list[str], task: str, budget: int) -> str:
    lines = [f"# {task}: final post-adaptation test return at {budget:,} training rollouts",
             "", "| algorithm | seeds | final post-adaptation (mean +- std) | final pre-adaptation "
             "| wall-clock s (mean) |", "|---|---|---|---|---|"]
    for algo in algos:
        finals = {}
        for r in rows:
            if r["algo"] == algo:
                finals[r["seed"]] = r  # rows are in iteration order: the last one wins
        post = np.array([r[m.TEST_POST] for r in finals.values()])
        pre = np.array([r[m.TEST_PRE] for r in finals.values()])
        wall = np.array([r[m.WALL_TIME] for r in finals.values()])
        lines.append(f"| {algo} | {len(post)} | {post.mean():.2f} +- {post.std():.2f} | "
                     f"{pre.mean():.2f} | {wall.mean():.1f} |")
    return "\n".join(lines) + "\n"


def compare(task: str, algos: list[str], seeds: int, budget: int, out: str | Path,
            sets: list[str] | None = None, jobs: int = 1,
            progress: bool = True) -> dict[str, Any]:
    """Train (or reuse, or resume) every run, then report; `interrupted` when a signal
    stopped the command (nothing is written then)."""
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1; got {jobs}")
    out = check_out_dir(out)
    runs = jobs_for(task, algos, seeds, budget, out, sets)
    outcome = experiment.run_jobs(runs, jobs, progress)
    result: dict[str, Any] = {"interrupted": outcome.interrupted, "trained": outcome.trained,
                              "reused": outcome.reused}
    if outcome.interrupted:
        return result
    rows = evaluations(runs)
    csv_path = write_csv(rows, out / "compare.csv")
    pngs = plot(rows, algos, task, out)
    md = table(rows, algos, task, budget)
    write_text(out / "compare.md", md)
    return {**result, "csv": str(csv_path), "pngs": [str(p) for p in pngs],
            "table": str(out / "compare.md"), "markdown": md}
