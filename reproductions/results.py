"""The measured curves of a reproduced figure, and the statistics its checks are built from.

`Results` reads every run's `metrics.jsonl` (test evaluations only) and answers questions
per run as arrays over seeds: the final return (mean of the last few test evaluations),
the first one, seconds per iteration, the value at a wall-clock time. The verdict helpers
turn two such arrays into a `Check` with a rule stated in its text, so every verdict in a
report is computed from the numbers it prints.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reproductions.spec import FAILS, HOLDS, INCONCLUSIVE, Check, Figure, Run
from workbench.metrics import TEST_POST as POST
from workbench.metrics import TEST_PRE as PRE
from workbench.metrics import WALL_TIME, is_evaluation

#: Test evaluations averaged into a run's "final" value (smooths one noisy evaluation).
LAST = 3
#: A difference counts when it exceeds this many standard errors of the difference.
Z = 2.0


@dataclass
class Results:
    figure: Figure
    scale: str
    runs: dict[str, Run]
    dirs: dict[tuple[str, int], Path]  # (run name, seed) -> run directory
    evals: dict[str, dict[int, list[dict[str, Any]]]]  # run -> seed -> test-evaluation rows
    iterations: dict[str, dict[int, list[dict[str, Any]]]]  # run -> seed -> every row

    @classmethod
    def load(cls, figure: Figure, scale: str, runs: list[Run], seeds: int,
             dirs: dict[tuple[str, int], Path]) -> "Results":
        evals: dict[str, dict[int, list]] = {}
        every: dict[str, dict[int, list]] = {}
        for run in runs:
            for seed in range(seeds):
                path = dirs[(run.name, seed)] / "metrics.jsonl"
                rows = [json.loads(line) for line in path.read_text().splitlines() if line]
                every.setdefault(run.name, {})[seed] = rows
                evals.setdefault(run.name, {})[seed] = [r for r in rows if is_evaluation(r)]
        return cls(figure, scale, {r.name: r for r in runs}, dirs, evals, every)

    @property
    def seeds(self) -> list[int]:
        return sorted(next(iter(self.evals.values())))

    def has(self, run: str) -> bool:
        return run in self.runs

    # -- per-seed statistics ---------------------------------------------------------
    def final(self, run: str, key: str = POST, last: int = LAST) -> np.ndarray:
        """Mean of the last `last` test evaluations, one value per seed."""
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
        return np.array([self.iterations[run][s][-1][WALL_TIME] / len(self.iterations[run][s])
                         for s in self.seeds])

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


# -- verdict rules ---------------------------------------------------------------------
def fmt(values: np.ndarray) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.4g} (1 seed)"
    return f"{values.mean():.4g} +- {values.std(ddof=1):.3g} ({len(values)} seeds)"


def _diff(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean difference a - b and its standard error (nan with fewer than 2 seeds each)."""
    d = float(np.mean(a) - np.mean(b))
    if len(a) < 2 or len(b) < 2:
        return d, math.nan
    return d, math.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))


def greater(text: str, a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> Check:
    """Claim `a > b`: holds if the mean difference exceeds Z standard errors, does not
    hold if it is below -Z standard errors, inconclusive otherwise (or with one seed)."""
    d, se = _diff(a, b)
    numbers = f"{name_a} {fmt(a)} vs {name_b} {fmt(b)}; difference {d:.4g}"
    if math.isnan(se):
        return Check(text, INCONCLUSIVE, numbers + " (one seed: no spread to judge by)")
    numbers += f", {Z:g} SE = {Z * se:.3g}"
    if d > Z * se:
        return Check(text, HOLDS, numbers)
    if d < -Z * se:
        return Check(text, FAILS, numbers)
    return Check(text, INCONCLUSIVE, numbers)


def not_worse(text: str, a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> Check:
    """Claim `a >= b` ("similar or better"): does not hold only if `a` is below `b` by more
    than Z standard errors; holds otherwise (inconclusive with one seed)."""
    d, se = _diff(a, b)
    numbers = f"{name_a} {fmt(a)} vs {name_b} {fmt(b)}; difference {d:.4g}"
    if math.isnan(se):
        return Check(text, INCONCLUSIVE, numbers + " (one seed: no spread to judge by)")
    numbers += f", {Z:g} SE = {Z * se:.3g}"
    return Check(text, FAILS if d < -Z * se else HOLDS, numbers)


def at_least(text: str, values: np.ndarray, threshold: float, name: str,
             every_seed: bool = True) -> Check:
    """Claim `values >= threshold`: on every seed (or on the mean); a mean below the
    threshold does not hold; some seeds above, some below: inconclusive."""
    values = np.asarray(values, dtype=float)
    numbers = f"{name} {fmt(values)}; threshold {threshold:.4g}"
    ok = bool((values >= threshold).all()) if every_seed else bool(values.mean() >= threshold)
    if ok:
        return Check(text, HOLDS, numbers)
    if values.mean() < threshold:
        return Check(text, FAILS, numbers)
    return Check(text, INCONCLUSIVE, numbers)


def at_most(text: str, values: np.ndarray, threshold: float, name: str) -> Check:
    c = at_least(text, -np.asarray(values, dtype=float), -threshold, name)
    c.numbers = f"{name} {fmt(values)}; threshold {threshold:.4g}"
    return c


def overall(checks: list[Check]) -> str:
    """The figure's verdict: does not hold if any check fails, holds if all hold."""
    verdicts = [c.verdict for c in checks]
    if FAILS in verdicts:
        return FAILS
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    return INCONCLUSIVE


__all__ = ["Results", "greater", "not_worse", "at_least", "at_most", "overall", "fmt",
           "PRE", "POST", "LAST", "Z"]
