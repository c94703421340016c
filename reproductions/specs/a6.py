"""Fig. A6: sine regression, MSE of the adapted model vs iterations (A.6)."""

from __future__ import annotations

from reproductions.results import Results, reached
from reproductions.spec import Check, Figure, Panel, Scale

from reproductions.specs.common import TIME_FROM_LOCAL_RUNS, es

#: "About 0.5": within 20% of MAML's reported 0.5 after one step at K = 5.
TARGET = 0.6
#: Exact-gradient adaptation (alpha = 0.01 as MAML), antithetic pairs on common tasks
#: (5 per iteration), post-adaptation training value on 50 points. sigma, beta, the number of
#: perturbations and the task batch were chosen by a sweep at equal compute (K = 5, 90 s of
#: one core per setting): docs/sine-sweep.md. Under z-scoring the step grows as beta / sigma,
#: so sigma and beta move together (beta / sigma = 0.1 was best). num_current_evals = 1: the
#: antithetic estimator does not use the current point's value (only logged, and it enters
#: the z-score), and at 150 it cost more than half of each iteration.
SINE = {"adaptation": "exact-gradient", "alpha": 0.01, "estimator": "antithetic",
        "common_tasks": True, "task_batch": 5, "task.num_points": 50,
        "sigma": 0.1, "beta": 0.01, "num_perturbations": 50, "num_current_evals": 1}


PAPER = {"iterations": 50000, "eval_every": 1000, "checkpoint_every": 1000}


def _runs(ks: tuple[int, ...], sets: dict) -> tuple:
    return tuple(es(f"K{k}", "sine", "mse", f"K={k}, one step", K=k, **{**SINE, **sets})
                 for k in ks)


def checks(r: Results) -> list[Check]:
    its, curves = r.curve("K5")
    return [reached("K=5: MSE after one adaptation step is about 0.5 (<= 0.6)", its, -curves,
                    TARGET, "test MSE")]


FIGURE = Figure(
    name="a6",
    title="Sine regression",
    claim="ES-MAML reaches a test MSE of about 0.5 after one adaptation step at K = 5.",
    panels=(Panel("mse", "Sine regression", ylabel="test MSE after adaptation", negate=True,
                  log_y=True, y_range=(0.0, None)),),
    scales={
        "smoke": Scale(_runs((5,), {"iterations": 3, "eval_every": 1, "eval_adaptations": 4,
                                    "num_perturbations": 4, "num_current_evals": 2}),
                       seeds=1, wall_time="~5 s"),
        # 50,000 iterations at 0.015-0.017 s each (docs/sine-sweep.md): ~13-14 min a run,
        # two rounds with --jobs 2 and 3 seeds. The paper-scale pilot (commit 80ad4f9) gave
        # 2.25, 1.91, 1.86 over seeds: a spread that 3 seeds already judge against 0.6, and
        # no heavy tail, so `local` is the same budget.
        "local": Scale(_runs((5,), PAPER), seeds=3,
                       wall_time="35 min with --jobs 2 (measured)"),
        "paper": Scale(_runs((5,), PAPER), seeds=3,
                       wall_time=f"~37 min with --jobs 2 {TIME_FROM_LOCAL_RUNS}"),
    },
    checks=checks,
    notes=("One gradient step (the paper also shows more steps). The paper states neither its "
           "iteration budget nor sigma; 50,000 cheap iterations (50 perturbations, 5 tasks) "
           "is what this machine affords here, sigma and beta come from docs/sine-sweep.md."),
)
