"""Building blocks the figure specs share: run constructors and per-scale budgets."""

from __future__ import annotations

from typing import Any

import numpy as np

from reproductions.results import Results
from reproductions.spec import Run
from reproductions.verdicts import fmt

#: How a paper scale's wall time was estimated: `workbench reproduce FIG --scale paper
#: --time-at-scale --out docs/reproductions` (reproductions/timing.py).
TIME_AT_SCALE = "(time at scale: measured s / iteration)"
#: The same, for figures whose seconds per iteration come from their finished local runs.
TIME_FROM_LOCAL_RUNS = "(time at scale, from the local runs)"

#: ES-MAML at smoke scale: a handful of perturbations, two iterations, tiny evaluations.
SMOKE_ES: dict[str, Any] = {"iterations": 2, "eval_every": 1, "eval_adaptations": 4,
                            "num_perturbations": 4, "num_current_evals": 2}
#: PG-MAML at smoke scale.
SMOKE_PG: dict[str, Any] = {"iterations": 2, "eval_every": 1, "eval_adaptations": 4,
                            "meta_batch": 2}
#: MuJoCo smoke runs also cut the horizon (the figure, not the physics, is under test).
SMOKE_MUJOCO: dict[str, Any] = {"horizon": 20, "task.nthread": 1}
#: The paper's ES-MAML settings for the MuJoCo tasks (A.7.2: n = 150 perturbations plus 150
#: evaluations of the current point, K = 20, horizon 200).
PAPER_MUJOCO_ES: dict[str, Any] = {"num_perturbations": 150, "num_current_evals": 150,
                                   "eval_every": 10, "eval_adaptations": 50}
#: ES-MAML on MuJoCo at `local` scale: 40 perturbations and 10 evaluations of the current
#: point instead of A.7.2's 150 + 150 (linear policies learn these tasks with a few dozen
#: directions, as ARS showed), one MuJoCo thread per run. Measured CPU-seconds per
#: iteration with these settings (a pilot at commit 0af1bc6, docs/studies/2026-12-07-reproduction-record.md): K = 5:
#: HalfCheetah 2.1, Swimmer 3.1, Walker2d 0.55 (while it falls early), Ant 12.8; K = 20:
#: Swimmer 9.4 (L), 10.6 (HH).
LOCAL_MUJOCO_ES: dict[str, Any] = {"num_perturbations": 40, "num_current_evals": 10,
                                   "eval_every": 10, "eval_adaptations": 20,
                                   "task.nthread": 1}
PAPER_MUJOCO_PG: dict[str, Any] = {"meta_batch": 40, "eval_every": 10, "eval_adaptations": 50}
#: MAML-TRPO on MuJoCo at `local` scale: 20 tasks per meta-batch instead of 40. Measured
#: CPU-seconds per iteration: HalfCheetah K = 5 1.5, Swimmer K = 20 7.7.
LOCAL_MUJOCO_PG: dict[str, Any] = {"meta_batch": 20, "eval_every": 10, "eval_adaptations": 20,
                                   "task.nthread": 1}


def es(name: str, task: str, panels: tuple[str, ...] | str, label: str = "",
       **sets: Any) -> Run:
    """An ES-MAML run; `sets` are config keys (use `task__x` for `task.x`)."""
    return Run(name, "es-maml", task, _keys(sets), label,
               (panels,) if isinstance(panels, str) else tuple(panels))


def pg(name: str, algo: str, task: str, panels: tuple[str, ...] | str, label: str = "",
       **sets: Any) -> Run:
    return Run(name, algo, task, _keys(sets), label,
               (panels,) if isinstance(panels, str) else tuple(panels))


def _keys(sets: dict[str, Any]) -> dict[str, Any]:
    return {k.replace("__", "."): v for k, v in sets.items()}


def equal_rollouts(r: Results, es_run: str, pg_run: str) -> tuple[float, np.ndarray,
                                                                     np.ndarray, str]:
    """Both runs read at the smaller of their rollout budgets (an ES iteration costs more
    rollouts than a PG one), and the end-of-budget finals as a second line."""
    budget = min(r.end_rollouts(es_run), r.end_rollouts(pg_run))
    end = (f"; at the end of each budget: ES {fmt(r.final(es_run))} at "
           f"{r.end_rollouts(es_run):,.0f} rollouts, PG {fmt(r.final(pg_run))} at "
           f"{r.end_rollouts(pg_run):,.0f}")
    return budget, r.at_rollouts(es_run, budget), r.at_rollouts(pg_run, budget), end


def at_equal_rollouts(rule, text: str, r: Results, es_run: str, pg_run: str,
                      es_first: bool = True):
    """`rule(text, a, b, name_a, name_b)` (a verdict rule) on an ES and a PG run read at the
    smaller of their rollout budgets; ES is `a` unless `es_first` is False. The numbers
    say the budget and each run's end-of-budget final."""
    budget, es_at, pg_at, end = equal_rollouts(r, es_run, pg_run)
    args = (es_at, pg_at, "ES", "PG") if es_first else (pg_at, es_at, "PG", "ES")
    check = rule(text, *args)
    check.numbers = f"at {budget:,.0f} rollouts: {check.numbers}{end}"
    return check
