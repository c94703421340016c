"""Fig. 2: ES-MAML with hill climbing explores Six Circles (K = 20) (§4.1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reproductions import paths, plots
from reproductions.results import Results
from reproductions.verdicts import greater
from reproductions.ledger import Claim, Record
from reproductions.spec import Check, Figure, Margin, Panel, Scale
from reproductions.specs.common import SMOKE_ES, TIME_FROM_LOCAL_RUNS, es

#: The two task variants: the class default (6 goals, 2 correct: docs/tasks.md) and the
#: authors' released configuration (4 goals, 1 correct).
VARIANTS = {"hc-K20": {}, "hc4-K20": {"task.num_goals": 4, "task.num_correct": 1}}
LABELS = {"hc-K20": "6 goals, 2 correct", "hc4-K20": "4 goals, 1 correct"}
PANELS = {"hc-K20": "goals6", "hc4-K20": "goals4"}
#: Staying put: -4 per correct goal per step for 100 steps (`stay_put`, checked against
#: the simulator in tests/test_statistics.py); the floor of the clipped curves.
STAY_PUT = {"hc-K20": -800.0, "hc4-K20": -400.0}
#: "Comes to a correct goal": within 0.5 of it at some step.
NEAR = 0.5
#: A wrong goal's penalty zone: within 2 (d^2 < 4) of it.
WRONG_ZONE = 2.0


def _runs(sets: dict) -> tuple:
    return tuple(es(run, "six-circles", PANELS[run], f"ES-MAML HC K=20, {LABELS[run]}",
                    adaptation="hc", K=20, policy="H", **{**variant, **sets})
                 for run, variant in VARIANTS.items())


def _params(run: str) -> dict:
    return {k.split(".", 1)[1]: v for k, v in VARIANTS[run].items()}


def stay_put(run: str) -> float:
    """Staying at the start: -4 per correct goal per step. It is also the best task-blind
    return: every goal starts sqrt(8) away, beyond its radius-2 zone, and inside a goal's
    zone the expected per-step reward over tasks (-min(d^2, 4) if the goal is correct,
    10000 (d^2 - 4) if wrong, for a goal correct in num_correct / num_goals of the tasks) is
    below the outside value, so no task-blind path beats the start."""
    return paths.stay_put_return("six-circles", **_params(run))


def shares(r: Results, run: str) -> tuple[np.ndarray, str]:
    """Per seed: the share of the final evaluations' adaptations whose path comes within
    NEAR of a correct goal; and the wrong-zone entries (all seeds) in words."""
    out, wrong, n = [], 0, 0
    for seed in r.seeds:
        a = r.adaptations(run, seed)
        family = paths.family_of(r.dirs[(run, seed)])
        out.append(float((paths.min_distances(a["positions"], a["tasks"], family, "goal")
                          < NEAR).mean()))
        wrong += int(paths.entered_wrong_zone(a, family, WRONG_ZONE).sum())
        n += len(a["tasks"])
    return np.array(out), f"{wrong / n:.1%} of {n} final adaptations enter a wrong zone"


#: Margin of practical equivalence for the share checks, declared before the
#: runs that judge it: 5 percentage points, 5% of the share's range [0, 1] (as fig1's margin
#: is 5% of its task-blind-to-oracle gap); six-circles has no closed-form oracle share.
SHARE_MARGIN = Margin(0.05, "5% of the share's range [0, 1]")


def _present(r: Results) -> list[str]:
    return [run for run in VARIANTS if r.has(run)]


def explores_targets(r: Results) -> list[Check]:
    """HC improves over iteration 0, and its clipped mean beats the best task-blind gamble."""
    out = []
    for run in _present(r):
        floor = stay_put(run)
        clipped = r.clipped(run, floor)
        out.append(greater(f"{LABELS[run]}: HC improves over iteration 0 (clipped means)",
                           clipped, r.clipped(run, floor, first=True), "final",
                           "iteration 0"))
        # Clipping makes a blind gamble on a goal cost no more than staying put, so the
        # clipped mean is compared with the best blind gamble's clipped mean.
        blind, where = paths.best_blind_clipped("six-circles", floor, **_params(run))
        c = greater(f"{LABELS[run]}: the clipped mean (adaptations floored at staying put, "
                    f"{floor:g}) beats the best task-blind path's by more than 2 SE",
                    clipped, np.full(len(clipped), blind), "clipped mean", "task-blind")
        c.numbers += f" (the blind path to {where})"
        out.append(c)
    return out


def not_single_goal(r: Results) -> list[Check]:
    out = []
    for run in _present(r):
        share, wrong = shares(r, run)
        chance = VARIANTS[run].get("task.num_correct", 2) / VARIANTS[run].get(
            "task.num_goals", 6)
        c = greater(f"{LABELS[run]}: adaptations come within {NEAR} of a correct goal more "
                    f"often than a task-blind path to one goal does ({chance:.2f})",
                    share, np.full(len(share), chance), "share", "task-blind", SHARE_MARGIN)
        c.numbers += f"; {wrong} (a blind path to one goal: {1 - chance:.0%})"
        out.append(c)
    return out


RECORDS = (
    Record("local", ("fig2.csv",), "local", "0-4", "0af1bc6",
           "the figure's local run: both variants, 5 seeds",
           command="workbench reproduce fig2 --scale local --jobs 2"),
    Record("goals6-seeds-5-14", ("settle/fig2-goals6-seeds5-14.csv",), "local", "5-14",
           "c8038ef", "10 fresh seeds of the 6-goal variant",
           command="workbench reproduce fig2 --scale local --seeds 5-14 --panel goals6 "
                   "--jobs 2"),
)
NEEDS_ADAPTATIONS = ("every check reads the test adaptations of the last 3 evaluations "
                     "(clipped means, shares near a goal)")

CLAIMS = (
    Claim("not-single-goal", "4.1",
          "Furthermore, ES-MAML is not limited to \u201csingle goal\u201d exploration.",
          "ES-MAML explores beyond a single goal", not_single_goal, "local",
          departs="the share of adaptations that come within 0.5 of a correct goal, against "
                  "a task-blind path to one goal, with a margin of 0.05 declared first; "
                  "reaching one correct goal counts", history=("goals6-seeds-5-14",)),
    Claim("circular", "4.1",
          "Solving this task requires the agent to explore in circular trajectories, similar "
          "to the trajectory used by PG-MAML on the four corners task.",
          "circular exploration, as PG-MAML's on Four Corners",
          unchecked="the shape of a path is drawn (the trajectory pictures), not measured"),
    Claim("explores-targets", "4.1",
          "Observe that ES-MAML with the HC operator is able to develop a strategy to explore "
          "the target locations.",
          "HC learns to explore the targets", explores_targets, "local",
          departs="clipped means (each adaptation floored at staying put): improving on "
                  "iteration 0, and beating the best task-blind gamble",
          history=("goals6-seeds-5-14",)),
    Claim("conclusion-hc", "5",
          "In particular, ES-MAML can be paired with nonsmooth adaptation operators such as "
          "hill climbing, which we found empirically to yield better exploratory behavior and "
          "better performance on sparse-reward environments.",
          "HC: better exploration on sparse rewards",
          unchecked="the conclusion's summary; judged by Figure 1's both-improve and hc-fixes "
                    "and this figure's explores-targets"),
)


def pictures(r: Results, out: Path) -> list[Path]:
    panels = []
    for run in VARIANTS:
        if not r.has(run):
            continue
        family, pos, tasks = paths.adapted_paths(r.dirs[(run, r.seeds[0])])
        panels += [(f"{LABELS[run]}, task {int(t)}", family, [(pos[:, i].numpy(), "tab:blue")],
                    paths.goals(family, int(t))) for i, t in enumerate(tasks[:4])]
    return [plots.trajectories(panels, out / "fig2_trajectories.png",
                               "Fig. 2: adapted HC policies on Six Circles, K = 20, seed "
                               f"{r.seeds[0]}")]


FIGURE = Figure(
    name="fig2",
    title="Six Circles exploration with HC",
    claim="ES-MAML with the HC operator finds the correct circles on Six Circles (K = 20).",
    panels=tuple(Panel(PANELS[run], f"{LABELS[run]}, HC K=20",
                       ylabel="clipped post-adaptation test return", floor=STAY_PUT[run])
                 for run in VARIANTS),
    scales={
        "smoke": Scale(_runs(SMOKE_ES), seeds=1, wall_time="~10 s"),
        # 500 iterations (the paper states no budget; 300 left the curve unsettled), 5 seeds
        # as returns are heavy-tailed; ~15 s per 25 iterations per run (paper-scale timing).
        "local": Scale(_runs({"iterations": 500, "eval_every": 25}), seeds=5,
                       wall_time="29 min with --jobs 2 (measured)"),
        # The paper states no budget: the local budget, 3 seeds.
        "paper": Scale(_runs({"iterations": 500, "eval_every": 25}), seeds=3,
                       wall_time=f"~17 min with --jobs 2 {TIME_FROM_LOCAL_RUNS}"),
    },
    pictures=pictures,
    claims=CLAIMS,
    records=RECORDS,
    paper="Figure 2",
    notes=("Policy H. Two task variants: the class default (6 goals, 2 correct) and the "
           "authors' released configuration (4 goals, 1 correct). Every check uses all test "
           "adaptations of the last 3 evaluations; returns are clipped at staying put, the "
           "best task-blind value."),
)
