"""Study (not a paper figure): does ES-MAML L hold 500 on CartPole given more iterations?

fig4's local run (full state, the paper's environment) has ES L at 484.7 +- 34.2 over 5
seeds after 500 iterations: four seeds hold 500, seed 4 was at 424 and still climbing.
This study changes one factor, the number of iterations (1,000), on the same seeds and
settings.

The rule, written 2026-12-08 before the run (docs/studies/2026-12-08-causes-plan.md): the
label **budget** of fig4's holds-500 holds if every seed ends at >= 475 (the claim's own
threshold); if a seed settles below 475 the label becomes **unknown**, with its curve.

Run from the repository root: `workbench reproduce pilots.cartpole_longer:FIGURE --scale
local --jobs 2 --out runs/studies` (about an hour: the L runs took ~4 min each at 500).
"""

from __future__ import annotations

from reproductions.results import Results
from reproductions.spec import Check, Figure, Scale
from reproductions.specs import fig4
from reproductions.specs.common import SMOKE_ES, SMOKE_PG


def _runs(its: int, es_sets: dict) -> tuple:
    return tuple(r for r in fig4._runs(es_sets, SMOKE_PG, None, None,
                                       {"L": its, "H": its, "HH": its})
                 if r.name == "cartpole-L")


def checks(r: Results) -> list[Check]:
    return fig4.holds_500(r)


FIGURE = Figure(
    name="cartpole_longer",
    title="Study: ES-MAML L on CartPole (full state), 1,000 iterations",
    claim="Given 1,000 iterations every seed of ES L holds 500 (>= 475).",
    panels=tuple(p for p in fig4.FIGURE.panels if p.name == "cartpole"),
    scales={"smoke": Scale(_runs(2, {**SMOKE_ES, "horizon": 50}), seeds=1,
                           wall_time="~10 s"),
            "local": Scale(_runs(1000, {"eval_every": 20}), seeds=5,
                           wall_time="~1 h with --jobs 2 (estimated)"),
            "paper": Scale(_runs(1000, {"eval_every": 20}), seeds=5,
                           wall_time="the local budget: a study of the local scale")},
    checks=checks,
    notes="A study of fig4's local scale, not a figure of the paper.",
)
