"""Fig. A6: sine regression, MSE of the adapted model vs iterations, for K in {5, 10, 20}
and 1, 2 and 3 gradient steps at test time (A.6), with exact MAML as the oracle."""

from __future__ import annotations

from reproductions.ledger import Cause, Claim, Record
from reproductions.results import Results
from reproductions.verdicts import reached
from reproductions.spec import POST, Check, Figure, Panel, Scale

from reproductions.specs.common import es, pg
from workbench.metrics import post_after_steps

#: "About 0.5": within 20% of MAML's reported 0.5 after one step at K = 5.
TARGET = 0.6
#: Finn et al.'s MSE after one step at K = 5, as the ES-MAML paper quotes it (A.6).
MAML_REPORTED = 0.5
KS = (5, 10, 20)
STEPS = (1, 2, 3)
PANELS = tuple(f"step{n}" for n in STEPS)
#: Exact-gradient adaptation (alpha = 0.01 as MAML, one step in training; the evaluation
#: also reports 2 and 3 steps), antithetic pairs on common tasks (5 per iteration),
#: post-adaptation value on 50 points, MAML's initialisation (the sine family's default,
#: docs/studies/2026-12-07-sine-sweep.md "The start"). sigma, beta, the number of perturbations and the outer
#: optimiser come from the issue-25 sweep, judged at 10,000 iterations' function
#: evaluations by a rule written before its runs (docs/studies/2026-12-07-sine-sweep.md): SGD, sigma 0.1,
#: beta 0.003 (beta / sigma 0.03), 50 perturbations; mean final MSE 1.33 over two seeds.
SINE = {"adaptation": "exact-gradient", "alpha": 0.01, "estimator": "antithetic",
        "common_tasks": True, "task_batch": 5, "task.num_points": 50,
        "sigma": 0.1, "beta": 0.003, "num_perturbations": 50, "num_current_evals": 1}
#: ES-MAML's budget at local scale: twice the sweep's (20,000 iterations at n = 50), fixed
#: before the sweep ran; eval every 500 iterations (40 evaluations).
ES_LOCAL = {"iterations": 20000, "eval_every": 500, "checkpoint_every": 1000}
ES_PAPER = {"iterations": 50000, "eval_every": 1000, "checkpoint_every": 1000}
#: The exact-MAML oracle (baselines.maml_exact): Finn et al.'s settings and their sine
#: command's 70,000 iterations (3.9 ms each at K = 5 on one core).
ORACLE = {"iterations": 70000, "eval_every": 1000, "checkpoint_every": 1000}


def _runs(ks: tuple[int, ...], es_sets: dict, oracle: dict | None) -> tuple:
    runs = [es(f"K{k}", "sine", PANELS, f"ES-MAML, K={k}", K=k, **{**SINE, **es_sets})
            for k in ks]
    if oracle is not None:
        runs += [pg(f"maml-K{k}", "maml", "sine", PANELS, f"exact MAML, K={k}", K=k, **oracle)
                 for k in ks]
    return tuple(runs)


def finn_reports(r: Results) -> list[Check]:
    if not r.has("maml-K5"):
        return []
    its, curves = r.curve("maml-K5")
    return [reached("Oracle, K=5: exact MAML's MSE after one step is about 0.5 (<= 0.6)",
                    its, -curves, TARGET, "test MSE")]


def approaches(r: Results) -> list[Check]:
    if not r.has("K5"):
        return []
    its, curves = r.curve("K5")
    return [reached("K=5: ES-MAML's MSE after one adaptation step is about 0.5 (<= 0.6)", its,
                    -curves, TARGET, "test MSE")]


#: The sine investigation: the start, the oracle, the sweep.
EVIDENCE = "../studies/2026-12-07-sine-sweep.md"

RECORDS = (
    Record("local", ("a6.csv",), "local", "0-2", "6d18a02",
           "the local run: ES-MAML and exact MAML at K = 5, 10, 20, 3 seeds",
           command="workbench reproduce a6 --scale local --jobs 2"),
)

CLAIMS = (
    Claim("finn-reports", "A.6",
          "For comparison, (Finn et al., 2017) reports that PG-MAML can obtain a loss of "
          "\u2248 0.5 after one adaptation step with K = 5, though it is not specified how many "
          "iterations the meta-policy was trained for.",
          "MAML reaches MSE ~0.5 at K = 5 (cited)", finn_reports, "local",
          cause=Cause("paper", "exact second-order MAML with Finn et al.'s settings (ranges, "
                      "network, initialisation, alpha, K support and query points) ends flat "
                      "at 0.81 +- 0.09 at K = 5 after one step and reaches ~0.45 only at K = "
                      "10; training at K = 10, alpha 0.001 and overfitting were ruled out; "
                      "the papers do not say over which tasks and steps 0.5 was measured",
                      EVIDENCE),
          departs="the cited number, reproduced by this project's exact second-order MAML "
                  "(the oracle), with the margin of claim approaches"),
    Claim("approaches", "A.6",
          "ES-MAML approaches the same level of performance, though the number of training "
          "iterations required is higher than for the RL tasks, and surprisingly high for "
          "what appears to be a simpler problem.",
          "ES-MAML approaches MSE 0.5 at K = 5", approaches, "local",
          cause=Cause("budget", "ES-MAML falls from 2.08 to 1.27 +- 0.04 and is still falling "
                      "(about 325,000 more iterations on its slope); an earlier failure was "
                      "ours (a He start that one step made 34-81x worse, fixed); not shown "
                      "by a longer run yet", EVIDENCE),
          departs="'approaches' = every seed's final MSE after one step at most 0.6, a "
                  "margin of 0.1 (20% of 0.5) declared with the spec before the runs; a curve "
                  "still falling at the end is 'not reached at this budget'; the iteration "
                  "count is not judged"),
    Claim("gradients-efficient", "A.6",
          "This is likely again a reflection of the fact that for problems such as regression "
          "where the gradients are available, it is more efficient to use gradients.",
          "gradients are more efficient when available",
          unchecked="an explanation; the exact-MAML oracle's curve is drawn beside ES-MAML's"),
)


def _panel(n: int) -> Panel:
    # After one step is the adaptation itself, logged as the test return (the CSV column);
    # after 2 and 3 steps are the run's extras, which only its run directory holds.
    return Panel(f"step{n}", f"after {n} gradient step{'s' if n > 1 else ''}",
                 ylabel="test MSE after adaptation",
                 metric=post_after_steps(n) if n > 1 else POST, negate=True,
                 log_y=True, y_range=(0.0, None),
                 references=((MAML_REPORTED, "MAML reported, K=5, 1 step"),) if n == 1 else ())


FIGURE = Figure(
    name="a6",
    title="Sine regression",
    claim="ES-MAML reaches a test MSE of about 0.5 after one adaptation step at K = 5.",
    panels=tuple(_panel(n) for n in STEPS),
    scales={
        "smoke": Scale(_runs((5,), {"iterations": 3, "eval_every": 1, "eval_adaptations": 4,
                                    "num_perturbations": 4, "num_current_evals": 2}, None),
                       seeds=1, wall_time="~5 s"),
        "local": Scale(_runs(KS, ES_LOCAL, ORACLE), seeds=3,
                       wall_time="~60 min with --jobs 2 (estimated)"),
        "paper": Scale(_runs(KS, ES_PAPER, ORACLE), seeds=3,
                       wall_time="~2 h with --jobs 2 (estimated)"),
    },
    claims=CLAIMS,
    records=RECORDS,
    paper="Figure A6",
    notes=("Trained with one gradient step; the panels show the same models after 1, 2 and 3 "
           "steps at test time. The paper states neither its iteration budget nor sigma: "
           "sigma, beta, n and the optimiser come from docs/studies/2026-12-07-sine-sweep.md. Exact MAML "
           "(baselines.maml_exact, Finn et al.'s settings) is the oracle: its curve shows "
           "what the sine family and network reach with exact meta-gradients."),
)
