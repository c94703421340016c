"""Head-to-head comparisons: several algorithms, the same task, seeds and rollout budget.

`workbench compare --task T --algos es-maml,promp --seeds 3 --budget-rollouts R --out DIR`
trains every (algorithm, seed) pair in `DIR/<algo>/seed<k>` until its cumulative training
rollouts reach R (finished runs are skipped, interrupted ones resumed), then writes
`DIR/compare.csv` (every test evaluation of every run), one PNG per x-axis
(`compare_iterations.png`, `compare_rollouts.png`, `compare_wall_time.png`: mean +- std of
the post-adaptation test return over seeds) and `DIR/compare.md`, a table of final
post-adaptation returns.

`--set key=value` applies to every algorithm that has the key; `--set algo:key=value` to one.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from workbench import run as runmod
from workbench.algorithm import algorithm_class
from workbench.plotting import plt, save_figure

POST = "test/post_adaptation_return"
PRE = "test/pre_adaptation_return"
AXES = {"iterations": "iteration", "rollouts": "rollouts", "wall_time": "wall_time_s"}
MAX_ITERATIONS = 1_000_000


def sets_for(algo: str, sets: list[str]) -> list[str]:
    defaults = algorithm_class(algo).defaults()
    chosen = []
    for item in sets:
        key = item.split("=", 1)[0]
        if ":" in key:
            owner, rest = item.split(":", 1)
            if owner == algo:
                chosen.append(rest)
        elif key.split(".")[0] in defaults:
            chosen.append(item)
    return chosen


def run_all(task: str, algos: list[str], seeds: int, budget: int, out: Path,
            sets: list[str], progress: bool = True) -> list[dict[str, Any]]:
    """Train every (algorithm, seed) to the budget; return one row per test evaluation."""
    rows = []
    for algo in algos:
        algorithm_class(algo)  # unknown names fail before any training starts
    for algo in algos:
        for seed in range(seeds):
            path = out / algo / f"seed{seed}"
            directory = runmod.RunDir(path)
            metrics = directory.read_metrics()
            finished = metrics and metrics[-1]["rollouts"] >= budget
            if not finished:
                if directory.config.exists():
                    directory, config = runmod.resume_config(path, [])
                    resume = bool(runmod.checkpoint.list_checkpoints(directory.checkpoints))
                else:
                    directory, config = runmod.start(
                        algo, task, path, None,
                        [*sets_for(algo, sets), f"budget_rollouts={budget}",
                         f"iterations={MAX_ITERATIONS}"], seed)
                    resume = False
                runmod.train(directory, config, resume=resume, progress=progress)
                metrics = directory.read_metrics()
            for m in metrics:
                if POST in m:
                    rows.append({"algo": algo, "seed": seed, "iteration": m["iteration"],
                                 "rollouts": m["rollouts"], "wall_time_s": m["wall_time_s"],
                                 PRE: m[PRE], POST: m[POST]})
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def curves(rows: list[dict[str, Any]], algo: str, x_key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std over seeds of the post-adaptation return on a common x grid."""
    seeds = sorted({r["seed"] for r in rows if r["algo"] == algo})
    series = []
    for seed in seeds:
        pts = [(r[x_key], r[POST]) for r in rows if r["algo"] == algo and r["seed"] == seed]
        series.append(np.array(sorted(pts), dtype=float))
    lo = max(s[0, 0] for s in series)
    hi = min(s[-1, 0] for s in series)
    grid = np.linspace(lo, hi, 100) if hi > lo else np.array([lo])
    ys = np.stack([np.interp(grid, s[:, 0], s[:, 1]) for s in series])
    return grid, ys.mean(0), ys.std(0)


def plot(rows: list[dict[str, Any]], algos: list[str], task: str, out: Path) -> list[Path]:
    paths = []
    for name, x_key in AXES.items():
        fig, ax = plt.subplots(figsize=(6, 4))
        for algo in algos:
            x, mean, std = curves(rows, algo, x_key)
            ax.plot(x, mean, label=algo)
            ax.fill_between(x, mean - std, mean + std, alpha=0.25)
        ax.set_xlabel({"iterations": "iteration", "rollouts": "total training rollouts",
                       "wall_time": "wall-clock seconds"}[name])
        ax.set_ylabel("post-adaptation test return")
        ax.set_title(f"{task}: mean +- std over seeds")
        ax.legend()
        fig.tight_layout()
        paths.append(save_figure(fig, out / f"compare_{name}.png"))
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
        post = np.array([r[POST] for r in finals.values()])
        pre = np.array([r[PRE] for r in finals.values()])
        wall = np.array([r["wall_time_s"] for r in finals.values()])
        lines.append(f"| {algo} | {len(post)} | {post.mean():.2f} +- {post.std():.2f} | "
                     f"{pre.mean():.2f} | {wall.mean():.1f} |")
    return "\n".join(lines) + "\n"


def compare(task: str, algos: list[str], seeds: int, budget: int, out: str | Path,
            sets: list[str] | None = None, progress: bool = True) -> dict[str, Any]:
    if seeds < 1 or budget < 1:
        raise ValueError(f"--seeds and --budget-rollouts must be positive; got {seeds}, {budget}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = run_all(task, algos, seeds, budget, out, sets or [], progress)
    if not rows:
        raise ValueError("no run produced a test evaluation; lower eval_every")
    write_csv(rows, out / "compare.csv")
    pngs = plot(rows, algos, task, out)
    md = table(rows, algos, task, budget)
    (out / "compare.md").write_text(md)
    return {"csv": str(out / "compare.csv"), "pngs": [str(p) for p in pngs],
            "table": str(out / "compare.md"), "markdown": md}
