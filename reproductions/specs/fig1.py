"""Fig. 1: Four Corners. (a) ES-MAML vs PG-MAML exploration at K = 20; (b) MC vs DPP-ES vs
HC at K = 20, 10, 5, and on the wrong-goal-penalty variant (§4.1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reproductions import paths, plots
from reproductions.ledger import Cause, Claim, Record
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
#: Margin of practical equivalence for the operator comparisons, declared before
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


# -- one check per claim of the ledger --------------------------------------------------
def adapts_at_20(r: Results) -> list[Check]:
    if not r.has("mc-K20"):
        return []
    return [at_least("ES-MAML (MC, K=20) adapts without exploration tricks: final "
                     "post-adaptation return beats the best task-blind policy (-310)",
                     r.final("mc-K20"), TASK_BLIND, "MC K=20"),
            greater("ES-MAML (MC, K=20) improves on its initial post-adaptation return",
                    r.final("mc-K20"), r.first("mc-K20"), "final", "iteration 0")]


def k_drop(r: Results) -> list[Check]:
    """MC at K = 10 and 5 ends below MC at K = 20 (policy H, the operator's own runs)."""
    return [greater(f"MC at K=20 ends above MC at K={k} (policy H)", r.final("mc-K20"),
                    r.final(f"mc-K{k}"), "K=20", f"K={k}")
            for k in (10, 5) if r.has("mc-K20") and r.has(f"mc-K{k}")]


def hc_beats_mc(r: Results) -> list[Check]:
    return [greater(f"K={k}: HC beats MC (policy H)", r.final(f"hc-K{k}"),
                    r.final(f"mc-K{k}"), "HC", "MC")
            for k in (10, 5) if r.has(f"hc-K{k}") and r.has(f"mc-K{k}")]


def dpp_beats_mc(r: Results) -> list[Check]:
    # Paired by seed (declared before the seeds that decide it): the two runs of a seed
    # share its initial policy and task streams, and on seeds 5-24 their finals correlated
    # at 0.96 (some seeds freeze at -400 under both).
    return [greater(f"K={k}: DPP beats MC (policy L)", r.final(f"dpp-K{k}"),
                    r.final(f"mcL-K{k}"), "DPP", "MC", MARGIN, paired=True)
            for k in (10, 5) if r.has(f"dpp-K{k}") and r.has(f"mcL-K{k}")]


def _clipped(r: Results) -> dict[str, np.ndarray]:
    """The penalty runs' clipped means (each adaptation floored at STAY_PUT)."""
    return {op: r.clipped(f"{op}-penalty", STAY_PUT) for op in OPERATORS
            if r.has(f"{op}-penalty")}


def penalty_drops(r: Results) -> list[Check]:
    """MC and DPP drop: each operator's unpenalised run (same policy, K = 20) against its
    penalised run's clipped mean."""
    clipped, out = _clipped(r), []
    for op in ("mc", "dpp"):
        if op in clipped and r.has(f"{op}-K20"):
            drop = greater(f"penalty: {op.upper()} drops (its unpenalised run's final return "
                           f"> the penalised run's clipped mean, {ARCH[op]}, K=20)",
                           r.final(f"{op}-K20"), clipped[op], "unpenalised", "penalised",
                           MARGIN if op == "dpp" else None)
            drop.numbers += "; " + behaviour(r, f"{op}-penalty")
            out.append(drop)
    return out


def hc_fixes_penalty(r: Results) -> list[Check]:
    clipped = _clipped(r)
    if "hc" not in clipped:
        return []
    hc = greater("penalty: HC keeps improving (clipped mean: final > iteration 0)",
                 clipped["hc"], r.clipped("hc-penalty", STAY_PUT, first=True), "final",
                 "iteration 0")
    hc.numbers += "; " + behaviour(r, "hc-penalty")
    return [hc, *[greater(f"penalty: HC beats {op.upper()} (clipped means)", clipped["hc"],
                          clipped[op], "HC", op.upper()) for op in ("mc", "dpp") if op in clipped]]


RECORDS = (
    Record("local", ("fig1.csv",), "local", "0-4", "0af1bc6 (the MC K=20 runs: d1a0d57)",
           "the figure's local run: every run of every panel, 5 seeds",
           command="workbench reproduce fig1 --scale local --jobs 2"),
    Record("dpp-seeds-5-24", ("settle/fig1-K10-K5-seeds5-24.csv",), "local", "5-24",
           "c8038ef", "20 fresh seeds of the DPP and MC (L) runs at K = 10 and 5, first "
           "judged unpaired (inconclusive: the seed effect, shared by both operators, "
           "dominated); shown under the paired rule declared after them",
           command="workbench reproduce fig1 --scale local --seeds 5-24 --run dpp-K10 "
                   "--run mcL-K10 --run dpp-K5 --run mcL-K5 --jobs 2"),
    Record("dpp-paired-25-44", ("settle/fig1-K10-K5-paired-seeds25-44.csv",), "local",
           "25-44", "b659469",
           "the paired-by-seed rule was declared (b659469) before these 20 seeds ran",
           command="workbench reproduce fig1 --scale local --seeds 25-44 --run dpp-K10 "
                   "--run mcL-K10 --run dpp-K5 --run mcL-K5 --jobs 2"),
    Record("penalty-seeds-5-14", ("settle/fig1-penalty-seeds5-14.csv",), "local", "5-14",
           "105a1b9", "10 fresh seeds of DPP with and without the penalty",
           command="workbench reproduce fig1 --scale local --seeds 5-14 --run dpp-K20 "
                   "--run dpp-penalty --jobs 2"),
)

BELOW_CEILING = Cause(
    "unknown", "79 of the 80 paired runs end below the task-blind ceiling of policy L "
    "(-310.1): at K = 10 and 5 neither operator adapts at this budget, so they tie in "
    "failing; budget and paper are not separated yet", "../studies/2026-12-07-settling.md")
CLIPPED_ONLY = ("the check reads every test adaptation (clipped means), which the committed "
                "CSVs do not hold")

CLAIMS = (
    Claim("dpp-helps", "3.3.1",
          "In the experimental section we show that DPP-ES can help in improving adaptation "
          "in MAML.",
          "DPP-ES beats MC at low K", dpp_beats_mc, "dpp-paired-25-44",
          departs="read at K = 10 and 5 with the linear policy L (DPP degenerates to iid "
                  "sampling at policy H's dimension), paired by seed, with an equivalence "
                  "margin of 13.5 (5% of L's task-blind-to-oracle gap) declared first",
          cause=BELOW_CEILING, history=("local", "dpp-seeds-5-24")),
    Claim("hc-beneficial", "3.3.2",
          "This does not hold for the stochastic gradient operator, and appears to be "
          "beneficial on some difficult problems (see Section 4.1).",
          "HC helps on difficult problems",
          unchecked="a pointer to Section 4.1, judged there by claims both-improve and "
                    "hc-fixes; HC's monotonicity itself is a unit test "
                    "(tests/test_adaptation.py)"),
    Claim("k20-adapts", "4.1",
          "When K = 20, the same number of rollouts for adaptation as used in (Rothfuss "
          "et al., 2019), the basic version of Algorithm 3 is able to correctly explore and "
          "adapt to the task by finding the target corner.",
          "MC adapts at K = 20", adapts_at_20, "local",
          departs="finding the target corner is read as beating the best task-blind policy "
                  "(-310, docs/calibration) on every seed, and improving on iteration 0"),
    Claim("unlike-pg", "4.1",
          "Moreover, it does not require any modifications to encourage exploration, unlike "
          "PG-MAML.",
          "no exploration tricks, unlike PG-MAML",
          unchecked="a statement about the methods, not a measured result: ES-MAML runs its "
                    "plain MC operator here; panel (a) draws both methods' exploration"),
    Claim("k-drop", "4.1", "We further used K = 10, 5, which caused the performance to drop.",
          "MC drops at K = 10 and 5", k_drop, "local",
          departs="MC with policy H at K = 20 against K = 10 and K = 5, finals"),
    Claim("both-improve", "4.1",
          "From Figure 1, we observed that both operators DPP-ES and HC were able to improve "
          "exploration [\u2026] performance.",
          "HC (and DPP-ES) beat MC at low K", hc_beats_mc, "local",
          departs="the HC half (policy H, K = 10 and 5); the DPP-ES half is claim dpp-helps"),
    Claim("penalty-drop", "4.1",
          "We also created a modified task by heavily penalizing incorrect goals, which "
          "caused performance to dramatically drop for MC and DPP-ES.",
          "MC and DPP-ES drop under the penalty", penalty_drops, "local",
          departs="each operator's penalised run (clipped mean) against its own unpenalised "
                  "run; 'dramatically' is not sized", history=("penalty-seeds-5-14",)),
    Claim("penalty-cause", "4.1",
          "This is due to the variance from the MC-gradient, which may result in a adapted "
          "policy that accidentally produces large negative rewards or become stuck in "
          "local-optima (i.e. refuse to explore due to negative rewards).",
          "the drop comes from MC-gradient variance",
          unchecked="an explanation; the drop check reports the shares of adaptations that "
                    "enter a wrong zone or freeze, without a verdict"),
    Claim("hc-fixes", "4.1",
          "This is also fixed by the HC adaptation, which enforces non-decreasing rewards "
          "during adaptation, allowing the ES-MAML to progress.",
          "HC keeps improving under the penalty", hc_fixes_penalty, "local",
          departs="clipped means: HC's final against its iteration 0, and against MC and "
                  "DPP-ES on the penalty task"),
)


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
            Panel("K20", "adaptation operators, K=20 (paper 1b)"),
            Panel("K10", "adaptation operators, K=10 (paper 1b)"),
            Panel("K5", "adaptation operators, K=5 (paper 1b)"),
            Panel("penalty", "wrong-goal penalty, K=20 (paper 1b)",
                  ylabel="clipped post-adaptation test return", floor=STAY_PUT)),
    scales={
        "smoke": Scale(_runs((20, 5), SMOKE_ES, SMOKE_PG), seeds=1, wall_time="~30 s"),
        # 300 iterations: at 150 the curves still rise (an MC pilot went -312 at 150 to
        # -261 at 300); 5 seeds against heavy-tailed penalty returns; every check is judged
        # on the last 3 evaluations' 600 test adaptations per seed. Estimated from the paper
        # scale's measured 22 min (150 iterations, 3 seeds): ~75 min with --jobs 2;
        # measured 68 min (docs/studies/2026-12-07-reproduction-record.md).
        "local": Scale(_runs((20, 10, 5), {"iterations": 300, "eval_every": 15},
                             {"iterations": 100, "eval_every": 10}),
                       seeds=5, wall_time="68 min with --jobs 2 (measured)"),
        # The paper states no budget: its settings at the local budget, 3 seeds.
        "paper": Scale(_runs((20, 10, 5), {"iterations": 300, "eval_every": 15},
                             {"iterations": 100, "eval_every": 10}),
                       seeds=3, wall_time=f"~37 min with --jobs 2 {TIME_FROM_LOCAL_RUNS}"),
    },
    pictures=pictures,
    claims=CLAIMS,
    records=RECORDS,
    paper="Figure 1",
    notes=("Policy H (one hidden layer of 32), except DPP-ES and the MC runs it is compared "
           "with, which use the linear policy L (DPP degenerates to iid at D = 162); "
           "300 iterations, where the paper's "
           "Fig. 1 is not explicit about its budget (at 150 the curves still rose)."),
)
