"""Study (not a paper figure): is fig5's Walker2d FB gap a matter of gradient noise per
update or of the number of updates? One factor changed at a time.

fig5's local runs (commit c7a5124) put ES-MAML L, 40 perturbations + 10 current-point
evaluations an iteration for 300 iterations (105,000 rollouts), below MAML-TRPO L on
walker2d-fb at K = 5 (ES 115 +- 46 against PG 240 +- 39). The walker_noise study moved to
150 + 150 at the same rollouts, which changed the noise per update and the number of
updates together (50 updates instead of 300). This study separates them, everything else
as fig5 (task, policy L, K = 5, every other key), 5 seeds (0-4):

- `es-150-300`: 150 + 150 for 300 iterations: fig5's number of updates, each less noisy
  (about 6x the rollouts, 630,000);
- `es-40-1800`: 40 + 10 for 1,800 iterations: fig5's noise per update, 6x the updates
  (the same 630,000 rollouts).

The rule, written 2026-12-08 before either run started. E40 and PG are fig5's committed
per-seed finals of ES L and MAML-TRPO L on walker2d-fb (docs/reproductions/fig5.csv), U
and T this study's finals of `es-150-300` and `es-40-1800`; "by 2 SE" is
`verdicts.greater` on per-seed finals (unpaired: fig5 ran on another commit).

1. Noise per update: U > E40 by 2 SE says that at equal updates less gradient noise helps;
   otherwise it is not shown to.
2. Number of updates: T > E40 by 2 SE says that more updates at fig5's noise help;
   otherwise they are not shown to.
3. The gap: a run not below PG by 2 SE closes it; the label of fig5's walker2d-fb check
   (and fig4's Walker2d checks) becomes **budget**, naming the factor whose run closes it
   (both, if both do). If neither closes it, the label stays **unknown**, now with both
   factors tested at 6x fig5's rollouts.
4. Which factor matters more at equal rollouts: U against T, both directions, reported.

Run from the repository root (hours: a 150 + 150 iteration costs about 6x fig5's ~2.5 s):
`workbench reproduce pilots.walker_updates:FIGURE --scale local --jobs 2 --out runs/studies`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reproductions.results import Results, published_finals
from reproductions.spec import Check, Figure, Panel, Scale
from reproductions.specs.common import LOCAL_MUJOCO_ES, SMOKE_ES, SMOKE_MUJOCO, es
from reproductions.verdicts import greater, not_worse

FIG5_CSV = Path(__file__).parents[1] / "docs" / "reproductions" / "fig5.csv"
TASK = "walker2d-fb"
#: The two arms: name -> (perturbations, current-point evaluations, iterations).
ARMS = {"es-150-300": (150, 150, 300), "es-40-1800": (40, 10, 1800)}


def _runs(smoke: bool = False) -> tuple:
    runs = []
    for name, (n, m, its) in ARMS.items():
        sets = ({**SMOKE_ES, **SMOKE_MUJOCO} if smoke else
                {**LOCAL_MUJOCO_ES, "num_perturbations": n, "num_current_evals": m,
                 "iterations": its})
        runs.append(es(name, TASK, "walker", f"ES-MAML L, {n} + {m}, {its} iterations",
                       policy="L", K=5, **sets))
    return tuple(runs)


def references() -> dict[str, np.ndarray]:
    """fig5's per-seed finals: ES L (40 + 10, 300 iterations) and MAML-TRPO L."""
    return {arm: published_finals(FIG5_CSV, f"{TASK}-{arm}-L") for arm in ("es", "pg")}


def checks(r: Results) -> list[Check]:
    if not (r.has("es-150-300") and r.has("es-40-1800")):
        return []
    ref = references()
    u, t = r.final("es-150-300"), r.final("es-40-1800")
    return [greater("1. Noise: 150 + 150 beats fig5's 40 + 10 at 300 updates each", u,
                    ref["es"], "U (150 + 150, 300 it)", "E40 (fig5)"),
            greater("2. Updates: 1,800 updates beat fig5's 300 at 40 + 10 each", t, ref["es"],
                    "T (40 + 10, 1,800 it)", "E40 (fig5)"),
            not_worse("3a. 150 + 150 x 300 is not below fig5's MAML-TRPO L", u, ref["pg"],
                      "U", "PG (fig5)"),
            not_worse("3b. 40 + 10 x 1,800 is not below fig5's MAML-TRPO L", t, ref["pg"],
                      "T", "PG (fig5)"),
            greater("4. At equal rollouts, less noise beats more updates", u, t, "U", "T"),
            greater("4. At equal rollouts, more updates beat less noise", t, u, "T", "U")]


FIGURE = Figure(
    name="walker_updates",
    title="Study: noise per update or number of updates, Walker2d FB (fig5)",
    claim=("fig5's Walker2d FB gap follows the ES gradient's noise per update, or the "
           "number of updates, or neither (the rule in pilots/walker_updates.py)."),
    panels=(Panel("walker", "Walker2d Forward-Backward, K=5, L"),),
    scales={
        "smoke": Scale(_runs(smoke=True), seeds=1, wall_time="~20 s"),
        # ~15 s an iteration at 150 + 150 and ~2.5 s at 40 + 10 (fig5's measured Walker2d
        # cost, growing as the walker learns to stay up): ~75 min a run, 10 runs.
        "local": Scale(_runs(), seeds=5, wall_time="~6.5 h with --jobs 2 (estimated from "
                                                    "fig5's measured cost)"),
        "paper": Scale(_runs(), seeds=5, wall_time="the local budget: a study of the local "
                                                   "scale"),
    },
    checks=checks,
    x_label="rollouts",
    notes=("A study of fig5's local scale, not a figure of the paper; its rule was written "
           "before the runs, in pilots/walker_updates.py."),
)
