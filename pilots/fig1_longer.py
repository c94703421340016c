"""Study (not a paper figure): is fig1's DPP-vs-MC tie at K = 10 and 5 the budget?

On 20 paired seeds (25-44) at fig1's local 300 iterations, DPP and MC (policy L) are
equivalent within the declared margin (13.5) at K = 10 and 5, and 79 of the 80 runs end
below the task-blind ceiling of policy L (-310.1): neither operator adapts. This study
changes one factor, the number of iterations (900, 3x), on the same seeds, runs and
settings.

The rule, written 2026-12-08 before the run (docs/studies/2026-12-08-causes-plan.md):
1. If either operator's final rises above the task-blind ceiling on average and DPP beats
   MC by 2 SE (paired, fig1's margin), the label of fig1's dpp-helps becomes **budget**.
2. If both still end below the ceiling, or stay equivalent within the margin, at 3x the
   budget, the label becomes **paper** (the claim does not hold where our runs can test it,
   as far as 3x the budget goes).
3. Anything else stays **unknown**, with the numbers.

Run from the repository root: `workbench reproduce pilots.fig1_longer:FIGURE --scale local
--seeds 25-44 --jobs 2 --out runs/studies` (about 2 h of the 2 cores, estimated as 3x the
paired run's 43 min).
"""

from __future__ import annotations

from reproductions.results import Results
from reproductions.spec import Check, Figure, Scale
from reproductions.specs import fig1
from reproductions.specs.common import SMOKE_ES, SMOKE_PG
from reproductions.verdicts import at_least

RUNS = ("dpp-K10", "mcL-K10", "dpp-K5", "mcL-K5")


def _runs(es_sets: dict) -> tuple:
    return tuple(r for r in fig1._runs((10, 5), es_sets, SMOKE_PG) if r.name in RUNS)


def checks(r: Results) -> list[Check]:
    out = fig1.dpp_beats_mc(r)
    for name in RUNS:
        if r.has(name):
            out.append(at_least(f"{r.label(name)} ends above the task-blind ceiling (mean)",
                                r.final(name), fig1.TASK_BLIND, r.label(name),
                                every_seed=False))
    return out


FIGURE = Figure(
    name="fig1_longer",
    title="Study: fig1's DPP and MC (policy L) at K = 10 and 5, 3x the iterations",
    claim="At 900 iterations, DPP beats MC at K = 10 and 5 (the rule in pilots/fig1_longer.py).",
    panels=tuple(p for p in fig1.FIGURE.panels if p.name in ("K10", "K5")),
    scales={"smoke": Scale(_runs(SMOKE_ES), seeds=1, wall_time="~10 s"),
            "local": Scale(_runs({"iterations": 900, "eval_every": 15}), seeds=20,
                           wall_time="~2 h with --jobs 2 (estimated)"),
            "paper": Scale(_runs({"iterations": 900, "eval_every": 15}), seeds=20,
                           wall_time="the local budget: a study of the local scale")},
    checks=checks,
    notes="A study of fig1's local scale, not a figure of the paper.",
)
