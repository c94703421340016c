"""The measured curves of a reproduced figure, loaded: from run directories or from the
committed per-seed CSVs.

`Results` reads every run's metrics through the run directory's one reader
(`RunDir.read_metrics`, which drops a torn last line), or the rows of committed figure
CSVs (`Results.from_csv`), and answers questions per run as arrays over seeds: the final
return (mean of the last few test evaluations), the first one, seconds per iteration, the
value at a wall-clock time. `adaptations` reads every test adaptation a run saved (for
clipped means and fractions of adaptations); CSVs do not hold them. The statistics and the
verdict rules that turn such arrays into a `Check` are `reproductions.verdicts`'.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reproductions.spec import Figure, Run
from reproductions.verdicts import LAST, clipped_mean
from workbench.app.rundir import RunDir
from workbench.metrics import TEST_POST as POST
from workbench.metrics import TEST_PRE as PRE
from workbench.metrics import ROLLOUTS, WALL_TIME, is_evaluation


class NotInRecord(ValueError):
    """What a check needs is not in the committed CSVs (every test adaptation: clipped
    means, shares, paths), only in run directories."""


@dataclass
class Results:
    figure: Figure
    scale: str
    runs: dict[str, Run]
    dirs: dict[tuple[str, int], Path]  # (run name, seed) -> run directory
    evals: dict[str, dict[int, list[dict[str, Any]]]]  # run -> seed -> test-evaluation rows
    iterations: dict[str, dict[int, list[dict[str, Any]]]]  # run -> seed -> every row

    @classmethod
    def load(cls, figure: Figure, scale: str, runs: list[Run], seeds: list[int],
             dirs: dict[tuple[str, int], Path]) -> "Results":
        evals: dict[str, dict[int, list]] = {}
        every: dict[str, dict[int, list]] = {}
        for run in runs:
            for seed in seeds:
                rows = RunDir(dirs[(run.name, seed)]).read_metrics()
                every.setdefault(run.name, {})[seed] = rows
                evals.setdefault(run.name, {})[seed] = [r for r in rows if is_evaluation(r)]
        return cls(figure, scale, {r.name: r for r in runs}, dirs, evals, every)

    @classmethod
    def from_csv(cls, figure: Figure, scale: str, *paths: Path,
                 runs: list[str] | None = None) -> "Results":
        """The test evaluations of committed figure CSVs (`runner.write_csv`'s columns), for
        deciding checks again without the run directories; a (run, seed) in a later CSV
        replaces the same (run, seed) in an earlier one (a panel re-run), and new seeds of a
        run join its earlier ones (`--seeds FIRST-LAST`). Only evaluation rows exist, so
        per-adaptation statistics (`adaptations`) are not available. `runs` keeps only
        those runs; the kept runs must share one set of seeds."""
        evals: dict[str, dict[int, list]] = {}
        for path in paths:
            found: dict[str, dict[int, list]] = {}
            with Path(path).open(newline="") as f:
                for row in csv.DictReader(f):
                    if row["scale"] != scale:
                        continue
                    values = {k: (float(v) if k not in ("iteration", "seed") else int(v))
                              for k, v in row.items()
                              if k not in ("figure", "scale", "run", "label", "algo", "task")
                              and v not in ("", None)}
                    found.setdefault(row["run"], {}).setdefault(int(row["seed"]),
                                                                []).append(values)
            for run, by_seed in found.items():
                evals.setdefault(run, {}).update(by_seed)
        kept = {r.name: r for r in figure.scale(scale).runs
                if r.name in evals and (runs is None or r.name in runs)}
        if not kept:
            raise ValueError(f"{', '.join(map(str, paths))} has no {scale}-scale runs of "
                             f"{figure.name}{' called ' + ', '.join(runs) if runs else ''}")
        seed_sets = {n: sorted(evals[n]) for n in kept}
        if len({tuple(v) for v in seed_sets.values()}) > 1:
            counts = "; ".join(f"{n}: {len(v)}" for n, v in seed_sets.items())
            raise ValueError(f"the runs have different seeds ({counts}); keep runs that "
                             f"share them (runs=...)")
        return cls(figure, scale, kept, {}, {n: evals[n] for n in kept},
                   {n: evals[n] for n in kept})

    @property
    def seeds(self) -> list[int]:
        return sorted(next(iter(self.evals.values())))

    def has(self, run: str) -> bool:
        return run in self.runs

    # -- per-seed statistics ---------------------------------------------------------
    def metric(self, run: str, key: str | None = None) -> str:
        """`key`, else the metric the run is scored by (`Run.metric`, else POST)."""
        return key or self.runs[run].metric or POST

    def final(self, run: str, key: str | None = None, last: int = LAST) -> np.ndarray:
        """Mean of the last `last` test evaluations, one value per seed (of the run's
        metric unless `key` names another)."""
        key = self.metric(run, key)
        return np.array([np.mean([r[key] for r in self.evals[run][s][-last:]])
                         for s in self.seeds])

    def first(self, run: str, key: str = POST) -> np.ndarray:
        """The first test evaluation (after iteration 0), one value per seed."""
        return np.array([self.evals[run][s][0][key] for s in self.seeds])

    def auc(self, run: str, key: str = POST) -> np.ndarray:
        """Mean over every test evaluation (area under the learning curve), per seed:
        what "trains faster" compares."""
        return np.array([np.mean([r[key] for r in self.evals[run][s]]) for s in self.seeds])

    def best(self, run: str, key: str = POST) -> np.ndarray:
        return np.array([max(r[key] for r in self.evals[run][s]) for s in self.seeds])

    def seconds_per_iteration(self, run: str) -> np.ndarray:
        return np.array([self.iterations[run][s][-1][WALL_TIME] /
                         (self.iterations[run][s][-1]["iteration"] + 1) for s in self.seeds])

    def at_rollouts(self, run: str, rollouts: float, key: str | None = None,
                    last: int = LAST) -> np.ndarray:
        """The final at a training budget: per seed, the mean of the last `last` test
        evaluations taken at or before `rollouts` training rollouts (of the run's metric
        unless `key` names another). ES and PG iterations cost different rollouts, so this
        is how they are compared at equal cost."""
        key = self.metric(run, key)
        out = []
        for s in self.seeds:
            rows = [r for r in self.evals[run][s] if r[ROLLOUTS] <= rollouts]
            out.append(np.mean([r[key] for r in (rows or self.evals[run][s][:1])[-last:]]))
        return np.array(out)

    def end_rollouts(self, run: str) -> float:
        """The smallest rollout count at a seed's last test evaluation."""
        return float(min(self.evals[run][s][-1][ROLLOUTS] for s in self.seeds))

    def at_time(self, run: str, seconds: float, key: str = POST) -> np.ndarray:
        """The latest test evaluation at or before `seconds` of training, per seed."""
        out = []
        for s in self.seeds:
            rows = [r for r in self.evals[run][s] if r[WALL_TIME] <= seconds]
            out.append((rows or self.evals[run][s][:1])[-1][key])
        return np.array(out)

    def end_time(self, run: str) -> float:
        """The shortest total training time over seeds."""
        return float(min(self.iterations[run][s][-1][WALL_TIME] for s in self.seeds))

    def label(self, run: str) -> str:
        return self.runs[run].legend

    def curve(self, run: str, key: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(iterations [E], values [seeds, E]) of every test evaluation (of the run's
        metric unless `key` names another); seeds with fewer evaluations are cut to the
        shortest."""
        key = self.metric(run, key)
        n = min(len(self.evals[run][s]) for s in self.seeds)
        its = np.array([r["iteration"] for r in self.evals[run][self.seeds[0]][:n]], float)
        return its, np.array([[r[key] for r in self.evals[run][s][:n]] for s in self.seeds])

    # -- every test adaptation (run directories' evaluations/*.npz) --------------------
    def adaptations(self, run: str, seed: int, last: int | None = LAST,
                    first: bool = False) -> dict[str, np.ndarray]:
        """Every test adaptation of the last `last` evaluations of one seed (or of the
        first evaluation), concatenated: `tasks`, `pre`, `post` [n] and, for 2-D tasks,
        `positions` [T + 1, n, 2]."""
        if not self.dirs:
            raise NotInRecord(f"{run}: every test adaptation (evaluations/*.npz) is in the "
                              f"run directories, not in the committed CSVs")
        files = sorted((self.dirs[(run, seed)] / "evaluations").glob("iter_*.npz"))
        if not files:
            raise ValueError(f"{self.dirs[(run, seed)]} has no evaluations/*.npz (a run "
                             f"trained before test adaptations were saved): re-train it")
        files = files[:1] if first else files[-last:]
        parts = [dict(np.load(f)) for f in files]
        out = {k: np.concatenate([p[k] for p in parts]) for k in ("tasks", "pre", "post")}
        if all("positions" in p for p in parts):
            out["positions"] = np.concatenate([p["positions"] for p in parts], axis=1)
        return out

    def clipped_rows(self, run: str, floor: float) -> list[list[dict[str, Any]]]:
        """Per seed, the test-evaluation rows with `POST` replaced by the evaluation's
        clipped mean (its saved adaptations floored at `floor`): for plotting."""
        if not self.dirs:
            raise NotInRecord(f"{run}: clipped means need the run directories' saved test "
                              f"adaptations, not in the committed CSVs")
        out = []
        for s in self.seeds:
            folder = self.dirs[(run, s)] / "evaluations"
            rows = []
            for row in self.evals[run][s]:
                saved = np.load(folder / f"iter_{int(row['iteration']):06d}.npz")
                rows.append({**row, POST: clipped_mean(saved["post"], floor)})
            out.append(rows)
        return out

    def per_seed(self, run: str, statistic, **kw) -> np.ndarray:
        """`statistic(adaptations dict)` for each seed (see `adaptations` for `kw`)."""
        return np.array([float(statistic(self.adaptations(run, s, **kw))) for s in self.seeds])

    def clipped(self, run: str, floor: float, **kw) -> np.ndarray:
        """Per seed: the mean post-adaptation return with each adaptation floored at
        `floor` (a catastrophe counts as the stay-put value: `clipped_mean`)."""
        return self.per_seed(run, lambda a: clipped_mean(a["post"], floor), **kw)


# -- a committed CSV without the figure's spec ------------------------------------------
def published_finals(path: Path, run: str, key: str = POST, last: int = LAST) -> np.ndarray:
    """Per-seed finals (mean of the last `last` test evaluations) of one run in a
    committed figure CSV (`runner.write_csv`'s columns): how a study compares with a
    figure's published runs without training them again."""
    with Path(path).open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["run"] == run]
    if not rows:
        raise ValueError(f"{path} has no run {run!r}")
    seeds: dict[int, list[tuple[int, float]]] = {}
    for r in rows:
        seeds.setdefault(int(r["seed"]), []).append((int(r["iteration"]), float(r[key])))
    return np.array([np.mean([v for _, v in sorted(seeds[s])[-last:]]) for s in sorted(seeds)])


__all__ = ["Results", "NotInRecord", "published_finals", "PRE", "POST", "LAST"]
