"""Fig. 1: Four Corners. (a) ES-MAML vs PG-MAML exploration at K = 20; (b) MC vs DPP-ES vs
HC at K = 20, 10, 5, and on the wrong-goal-penalty variant (§4.1)."""

from __future__ import annotations

from pathlib import Path

from reproductions import paths, plots
from reproductions.results import Results
from reproductions.verdicts import at_least, greater
from reproductions.spec import Check, Figure, Margin, Panel, Scale
from reproductions.specs.common import (SMOKE_ES, SMOKE_PG, TIME_FROM_LOCAL_RUNS, es,
                                        pg)

OPERATORS = ("mc", "dpp", "hc")
#: DPP-ES only differs from iid sampling in low dimension (docs/es-maml.md, "DPP directions"):
#: with policy H (D = 162) its kernel is nearly the identity, so DPP runs, and the MC runs
#: they are compared with, use the linear policy L (D = 6), as the paper's A.1 runs do.
ARCH = {"mc": "H", "dpp": "L", "hc": "H"}
#: The best task-blind policy scores about -310 (docs/design.md §9): adapting means beating it.
TASK_BLIND = -310.0
#: Margin of practical equivalence for the operator comparisons (issue 26), declared before
#: the runs that judge it: 5% of the gap between the task-blind ceiling (-310.1) and the
#: per-task oracle (-40.7) of the linear policy (docs/calibration/four-corners_L.json).
#: A difference smaller than that changes no reading of the figure.
MARGIN = Margin(13.5, "5% of the task-blind-to-oracle gap, 269.5, of policy L")


def _runs(ks: tuple[int, ...], es_sets: dict, pg_sets: dict) -> tuple:
    runs = []
    for k in ks:
        for op in OPERATORS:
            panels = (f"K{k}", "a") if (k == 20 and op == "mc") else (f"K{k}",)
            runs.append(es(f"{op}-K{k}", "four-corners", panels,
                           f"{op.upper()} K={k} ({ARCH[op]})", adaptation=op, K=k,
                           policy=ARCH[op], **es_sets))
        runs.append(es(f"mcL-K{k}", "four-corners", f"K{k}", f"MC K={k} (L)", adaptation="mc",
                       K=k, policy="L", **es_sets))
    for op in OPERATORS:
        runs.append(es(f"{op}-penalty", "four-corners-penalty", "penalty",
                       f"{op.upper()} K=20, penalty ({ARCH[op]})", adaptation=op, K=20,
                       policy=ARCH[op], **es_sets))
    runs.append(pg("promp-K20", "promp", "four-corners", "a", "PG-MAML (ProMP) K=20",
                   K=20, policy="H", **pg_sets))
    return tuple(runs)


#: Staying at the start scores -4 per step for 100 steps (`paths.stay_put_return`): the floor
#: of the penalty runs' clipped means. A wrong corner's zone costs 10^2-10^4 per step, so one
#: of 600 adaptations entering it can move a plain mean by more than all the others.
STAY_PUT = -400.0
#: An adaptation "freezes" when its path never gets 0.5 from the start (a goal's radius-2
#: zone begins 0.83 from it): it avoided the penalty by not exploring.
FREEZE_RADIUS = 0.5


def behaviour(r: Results, run: str) -> str:
    """Fractions of the final evaluations' adaptations (all seeds) that enter a wrong
    corner's zone (within 2) or freeze at the start."""
    wrong, frozen, n = 0, 0, 0
    for seed in r.seeds:
        a = r.adaptations(run, seed)
        family = paths.family_of(r.dirs[(run, seed)])
        wrong += int(paths.entered_wrong_zone(a, family).sum())
        frozen += int(paths.froze(a["positions"], FREEZE_RADIUS).sum())
        n += len(a["tasks"])
    return (f"{r.label(run)}: {wrong / n:.1%} of {n} final adaptations enter a wrong zone, "
            f"{frozen / n:.1%} freeze")


def checks(r: Results) -> list[Check]:
    """Every check whose runs are present (`--run` / `--panel` may select a few)."""
    out = []
    if r.has("mc-K20"):
        out += [at_least("ES-MAML (MC, K=20) adapts without exploration tricks: final "
                         "post-adaptation return beats the best task-blind policy (-310)",
                         r.final("mc-K20"), TASK_BLIND, "MC K=20"),
                greater("ES-MAML (MC, K=20) improves on its initial post-adaptation return",
                        r.final("mc-K20"), r.first("mc-K20"), "final", "iteration 0")]
    for k in (10, 5):
        if r.has(f"hc-K{k}") and r.has(f"mc-K{k}"):
            out.append(greater(f"K={k}: HC beats MC (policy H)", r.final(f"hc-K{k}"),
                               r.final(f"mc-K{k}"), "HC", "MC"))
        if r.has(f"dpp-K{k}") and r.has(f"mcL-K{k}"):
            # Paired by seed (issue 26, declared before the seeds that decide it): the two
            # runs of a seed share its initial policy and task streams, and on seeds 5-24
            # their finals correlated at 0.96 (some seeds freeze at -400 under both).
            out.append(greater(f"K={k}: DPP beats MC (policy L)", r.final(f"dpp-K{k}"),
                               r.final(f"mcL-K{k}"), "DPP", "MC", MARGIN, paired=True))
    # The penalty runs are judged on clipped means (each adaptation floored at STAY_PUT),
    # against the same operator's unpenalised run (same policy, K = 20).
    clipped = {op: r.clipped(f"{op}-penalty", STAY_PUT) for op in OPERATORS
               if r.has(f"{op}-penalty")}
    if "hc" in clipped:
        hc = greater("penalty: HC keeps improving (clipped mean: final > iteration 0)",
                     clipped["hc"], r.clipped("hc-penalty", STAY_PUT, first=True), "final",
                     "iteration 0")
        hc.numbers += "; " + behaviour(r, "hc-penalty")
        out.append(hc)
    for op in ("mc", "dpp"):
        if op in clipped and r.has(f"{op}-K20"):
            drop = greater(f"penalty: {op.upper()} drops (its unpenalised run's final return "
                           f"> the penalised run's clipped mean, {ARCH[op]}, K=20)",
                           r.final(f"{op}-K20"), clipped[op], "unpenalised", "penalised",
                           MARGIN if op == "dpp" else None)
            drop.numbers += "; " + behaviour(r, f"{op}-penalty")
            out.append(drop)
        if op in clipped and "hc" in clipped:
            out.append(greater(f"penalty: HC beats {op.upper()} (clipped means)",
                               clipped["hc"], clipped[op], "HC", op.upper()))
    return out


def pictures(r: Results, out: Path) -> list[Path]:
    """Panel (a): adapted paths and the K exploration paths of ES-MAML and PG-MAML."""
    panels = []
    for run, who in (("mc-K20", "ES-MAML (MC)"), ("promp-K20", "PG-MAML (ProMP)")):
        if r.has(run):
            panels += paths.exploration_panels(r.dirs[(run, r.seeds[0])], who, 4,
                                               lambda task: f"corner {task % 4}")
    if not panels:
        return []
    return [plots.trajectories(panels, out / "fig1_exploration.png",
                               "Fig. 1a: the K = 20 exploration rollouts and the adapted "
                               "policy, ES-MAML vs PG-MAML, Four Corners, seed "
                               f"{r.seeds[0]}")]


FIGURE = Figure(
    name="fig1",
    title="Four Corners: exploration and adaptation operators",
    claim=("ES-MAML adapts on Four Corners at K = 20 without exploration tricks; with K = 5 "
           "or 10, HC and DPP-ES beat MC; with the wrong-goal penalty, HC keeps improving "
           "while MC and DPP-ES drop."),
    panels=(Panel("a", "ES-MAML vs PG-MAML, K=20 (paper 1a)"),
            Panel("K20", "MC vs DPP vs HC, K=20 (paper 1b)"),
            Panel("K10", "MC vs DPP vs HC, K=10 (paper 1b)"),
            Panel("K5", "MC vs DPP vs HC, K=5 (paper 1b)"),
            Panel("penalty", "wrong-goal penalty, K=20, clipped (paper 1b)",
                  ylabel="clipped post-adaptation test return", floor=STAY_PUT)),
    scales={
        "smoke": Scale(_runs((20, 5), SMOKE_ES, SMOKE_PG), seeds=1, wall_time="~30 s"),
        # 300 iterations: at 150 the curves still rise (an MC pilot went -312 at 150 to
        # -261 at 300); 5 seeds against heavy-tailed penalty returns; every check is judged
        # on the last 3 evaluations' 600 test adaptations per seed. Estimated from the paper
        # scale's measured 22 min (150 iterations, 3 seeds): ~75 min with --jobs 2;
        # measured 68 min (docs/reproductions.md).
        "local": Scale(_runs((20, 10, 5), {"iterations": 300, "eval_every": 15},
                             {"iterations": 100, "eval_every": 10}),
                       seeds=5, wall_time="68 min with --jobs 2 (measured)"),
        # The paper states no budget: its settings at the local budget, 3 seeds.
        "paper": Scale(_runs((20, 10, 5), {"iterations": 300, "eval_every": 15},
                             {"iterations": 100, "eval_every": 10}),
                       seeds=3, wall_time=f"~37 min with --jobs 2 {TIME_FROM_LOCAL_RUNS}"),
    },
    checks=checks,
    pictures=pictures,
    notes=("Policy H (one hidden layer of 32), except DPP-ES and the MC runs it is compared "
           "with, which use the linear policy L (DPP degenerates to iid at D = 162); "
           "300 iterations, where the paper's "
           "Fig. 1 is not explicit about its budget (at 150 the curves still rose)."),
)
