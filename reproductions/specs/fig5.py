"""Fig. 5 (and A5): low-K ES-MAML vs PG-MAML on Forward-Backward and Goal-Velocity for
HalfCheetah, Swimmer, Walker2d and Ant, two architectures (§4.4)."""

from __future__ import annotations

import numpy as np

from reproductions.results import Results
from reproductions.verdicts import fmt, greater, not_worse, wider_spread
from reproductions.spec import Check, Figure, Panel, Scale
from reproductions.specs.common import (TIME_AT_SCALE, PAPER_MUJOCO_ES, PAPER_MUJOCO_PG,
                                        LOCAL_MUJOCO_ES, LOCAL_MUJOCO_PG, SMOKE_ES,
                                        SMOKE_MUJOCO, SMOKE_PG, es, pg)

ROBOTS = ("halfcheetah", "swimmer", "walker2d", "ant")
GOALS = ("fb", "gv")


def _runs(archs: tuple[str, ...], k: int, es_sets: dict, pg_sets: dict,
          robots: tuple[str, ...] = ROBOTS) -> tuple:
    runs = []
    for robot in robots:
        for goal in GOALS:
            panel, task = f"{robot}-{goal}", f"{robot}-{goal}"
            for a in archs:
                runs.append(es(f"{panel}-es-{a}", task, panel, f"ES-MAML {a}", policy=a, K=k,
                               **es_sets))
                runs.append(pg(f"{panel}-pg-{a}", "maml-trpo", task, panel,
                               f"PG-MAML (TRPO) {a}", policy=a, K=k, **pg_sets))
    return tuple(runs)


def _pairs(r: Results, goal: str) -> list[tuple[str, str]]:
    return [(n, n.replace("-es-", "-pg-")) for n in r.runs
            if "-es-" in n and n.split("-")[1] == goal and r.has(n.replace("-es-", "-pg-"))]


def spread_check(r: Results) -> Check:
    """PG's final returns spread wider over seeds than ES's: one test on the spreads of every
    (task, architecture) pair (`results.wider_spread`, issue 26), not a count of panels."""
    pairs = _pairs(r, "fb") + _pairs(r, "gv")
    return wider_spread("PG-MAML has the wider spread over seeds (std of the final return, "
                        "log variance ratio over every panel)",
                        [(e.rsplit("-es-", 1)[0] + " " + e.rsplit("-", 1)[1], r.final(p),
                          r.final(e)) for e, p in pairs], "PG", "ES")


def _equal_rollouts(r: Results, es_run: str, pg_run: str) -> tuple[float, np.ndarray,
                                                                     np.ndarray, str]:
    """Both runs read at the smaller of their rollout budgets (an ES iteration costs more
    rollouts than a PG one), and the end-of-budget finals as a second line."""
    budget = min(r.end_rollouts(es_run), r.end_rollouts(pg_run))
    end = (f"; at the end of each budget: ES {fmt(r.final(es_run))} at "
           f"{r.end_rollouts(es_run):,.0f} rollouts, PG {fmt(r.final(pg_run))} at "
           f"{r.end_rollouts(pg_run):,.0f}")
    return budget, r.at_rollouts(es_run, budget), r.at_rollouts(pg_run, budget), end


def _name(es_run: str) -> str:
    return f"{es_run.rsplit('-es-', 1)[0]} ({es_run.rsplit('-', 1)[1]})"


def checks(r: Results) -> list[Check]:
    out = []
    for e, p in _pairs(r, "fb"):
        budget, es_at, pg_at, end = _equal_rollouts(r, e, p)
        c = not_worse(f"{_name(e)}: ES similar or better (at equal rollouts)", es_at, pg_at,
                      "ES", "PG")
        c.numbers = f"at {budget:,.0f} rollouts: {c.numbers}{end}"
        out.append(c)
    for e, p in _pairs(r, "gv"):
        budget, es_at, pg_at, end = _equal_rollouts(r, e, p)
        c = greater(f"{_name(e)}: PG better (at equal rollouts)", pg_at, es_at, "PG", "ES")
        c.numbers = f"at {budget:,.0f} rollouts: {c.numbers}{end}"
        out.append(c)
    out.append(spread_check(r))
    return out


FIGURE = Figure(
    name="fig5",
    title="Low K: ES-MAML vs PG-MAML",
    claim=("At low K, ES-MAML is similar or better than PG-MAML on Forward-Backward, PG-MAML "
           "is better on Goal-Velocity, and PG-MAML has the wider spread over seeds."),
    panels=tuple(Panel(f"{r}-{g}", f"{r} {g.upper()}, K=5") for r in ROBOTS for g in GOALS),
    scales={
        "smoke": Scale(_runs(("L",), 2, {**SMOKE_ES, **SMOKE_MUJOCO},
                             {**SMOKE_PG, **SMOKE_MUJOCO}), seeds=1, wall_time="~60 s"),
        # L only, HalfCheetah, Swimmer, Walker2d: ES ~2.1 + 3.1 + ~1.5 and MAML-TRPO
        # ~1.5 + ~2 + ~1 CPU-s an iteration per goal (measured at K = 5, Walker2d growing
        # as it learns to stay up): ~22 CPU-s per seed-iteration, 5 seeds x 300 iterations.
        # Measured over the finished runs (c7a5124): 683 min of job time; Walker2d took
        # ~2.5 (ES) and ~3.1-3.6 (MAML-TRPO) s an iteration, more than estimated.
        # Ant (12.8 CPU-s an ES iteration) would add ~9 h on 2 cores; H doubles everything.
        "local": Scale(_runs(("L",), 5, {**LOCAL_MUJOCO_ES, "iterations": 300},
                             {**LOCAL_MUJOCO_PG, "iterations": 300},
                             ("halfcheetah", "swimmer", "walker2d")),
                       seeds=5, wall_time="~5.7 h with --jobs 2 (measured)"),
        "paper": Scale(_runs(("L", "H"), 5, {**PAPER_MUJOCO_ES, "iterations": 500},
                             {**PAPER_MUJOCO_PG, "iterations": 500}), seeds=3,
                       wall_time=f"~105 h on 2 cores {TIME_AT_SCALE}"),
    },
    checks=checks,
    notes="PG-MAML is MAML-TRPO (the paper's PG-MAML). K = 5 is the low-K setting.",
)
