"""Fig. 4: stability of ES vs PG on Biased-Sensor CartPole, Swimmer and Walker2d; linear (L)
vs one (H) and two (HH) hidden layers (§4.3)."""

from __future__ import annotations

from dataclasses import replace

from reproductions.ledger import Cause, Claim, Record
from reproductions.results import Results
from reproductions.spec import Check, Figure, Panel, Scale
from reproductions.specs.common import (LOCAL_MUJOCO_ES, LOCAL_MUJOCO_PG, PAPER_MUJOCO_ES,
                                        PAPER_MUJOCO_PG, SMOKE_ES, SMOKE_MUJOCO, SMOKE_PG,
                                        TIME_AT_SCALE, at_equal_rollouts, es, pg)
from reproductions.verdicts import at_least, greater, max_drawdown, wider_spread
from workbench.metrics import TEST_POST_STOCHASTIC

ARCHS = ("L", "H", "HH")
MUJOCO = {"swimmer": "swimmer-fb", "walker": "walker2d-fb"}
#: "Holds 500": every seed's final post-adaptation return within 5% of the maximum.
HOLD = 475.0


def _iterations(table: dict[str, int] | None, arch: str) -> dict:
    return {} if table is None else {"iterations": table[arch]}


#: CartPole observations: the environment's own (full, the default) and NoRML's training view.
OBSERVATIONS = {"full": "", "norml": "-norml"}


def _runs(cp_es: dict, cp_pg: dict, mj_es: dict | None, mj_pg: dict | None,
          cp_iterations: dict[str, int] | None = None) -> tuple:
    """`cp_iterations` overrides the CartPole ES iterations per architecture. CartPole runs
    once per observation; PG-MAML is scored by the stochastic policy it executes (its mean
    network's returns are reported beside them)."""
    runs = []
    for obs, tag in OBSERVATIONS.items():
        panel, view = f"cartpole{tag}", {"task__observation": obs}
        runs += [es(f"cartpole{tag}-{a}", "cartpole-biased", panel, f"ES-MAML {a}", policy=a,
                    K=20, **{**cp_es, **_iterations(cp_iterations, a), **view}) for a in ARCHS]
        runs.append(replace(pg(f"cartpole{tag}-pg-L", "maml-trpo", "cartpole-biased", panel,
                               "PG-MAML (TRPO) L, stochastic", policy="L", K=20,
                               **{**cp_pg, **view}), metric=TEST_POST_STOCHASTIC))
    if mj_es is not None:
        for panel, task in MUJOCO.items():
            runs += [es(f"{panel}-{a}", task, panel, f"ES-MAML {a}", policy=a, **mj_es)
                     for a in ARCHS]
            runs.append(pg(f"{panel}-pg-L", "maml-trpo", task, panel, "PG-MAML (TRPO) L",
                           policy="L", **mj_pg))
    return tuple(runs)


def stability(r: Results, run: str) -> str:
    """The spread and worst cases behind a stability claim, in words: the final return's
    spread over seeds and its worst seed, and the worst fall of any seed's learning curve
    below its best so far (max drawdown over training)."""
    final = r.final(run)
    _, curves = r.curve(run)
    spread = f"{final.std(ddof=1):.3g}" if len(final) > 1 else "n/a"
    return (f"{r.label(run)}: spread {spread}, worst seed {final.min():.4g}, worst drawdown "
            f"{max(max_drawdown(c) for c in curves):.4g}")


#: The environments whose ES-vs-PG spread is compared: (panel label, ES L run, PG L run).
#: CartPole with the environment's own observation (the paper's environment returns the full
#: state, docs/deviations.md); NoRML's view is drawn beside it.
STABILITY = (("CartPole", "cartpole-L", "cartpole-pg-L"), ("Swimmer", "swimmer-L",
                                                            "swimmer-pg-L"),
             ("Walker2d", "walker-L", "walker-pg-L"))


def holds_500(r: Results) -> list[Check]:
    out = []
    for a in ("L", "H"):
        if r.has(f"cartpole-{a}"):
            c = at_least(f"CartPole: ES-MAML ({a}) holds 500 (final >= 475 on every seed)",
                         r.final(f"cartpole-{a}"), HOLD, f"ES {a}")
            c.numbers += "; " + stability(r, f"cartpole-{a}")
            out.append(c)
    return out


def more_stable(r: Results) -> list[Check]:
    pairs = [(name, r.final(es_run), r.final(pg_run)) for name, es_run, pg_run in STABILITY
             if r.has(es_run) and r.has(pg_run)]
    if not pairs:
        return []
    c = wider_spread("PG-MAML's final return spreads wider over seeds than ES-MAML's (L; "
                     "log variance ratio over " + ", ".join(p[0] for p in pairs) + ")",
                     [(name, b, a) for name, a, b in pairs], "PG L", "ES L")
    c.numbers += "; " + "; ".join(f"{name}: {stability(r, e)}; {stability(r, p)}"
                                  for name, e, p in STABILITY if r.has(e) and r.has(p))
    return [c]


def es_better_training(r: Results) -> list[Check]:
    out = []
    for panel, task in MUJOCO.items():
        e, p = f"{panel}-L", f"{panel}-pg-L"
        if r.has(e) and r.has(p):
            out.append(at_equal_rollouts(greater, f"{task}: ES-MAML (L) ends above PG-MAML "
                                                  f"(L) at equal rollouts", r, e, p))
    return out


def l_outperforms(r: Results) -> list[Check]:
    out = []
    for panel, task in MUJOCO.items():
        for b in ("H", "HH"):
            if r.has(f"{panel}-L") and r.has(f"{panel}-{b}"):
                c = greater(f"{task}: L ends above {b} (final)", r.final(f"{panel}-L"),
                            r.final(f"{panel}-{b}"), "L", b)
                c.numbers += "; " + "; ".join(stability(r, f"{panel}-{x}") for x in ("L", b))
                out.append(c)
    return out


#: Where the causes' evidence is: the dated record of the runs and investigations.
EVIDENCE = "../studies/2026-12-07-causes.md"
#: The Walker2d investigation and the walker_noise study.
WALKER_EVIDENCE = "../studies/2026-12-07-walker2d.md"
WALKER = ("two of five ES L seeds never learn to stay up on Walker2d (L 153 +- 93 against H "
          "286 +- 48 and PG 312 +- 75); the walker_noise study showed that at equal rollouts "
          "fewer, less noisy ES steps do worse, so the local population is not shown to be "
          "the cause; fig4's paper scale (~47 h of 2 cores) is not run")

RECORDS = (
    Record("local", ("fig4.csv", "fig4_cartpole.csv"), "local", "0-4",
           "c7a5124 (Swimmer, Walker2d); f4002be (CartPole, both observations)",
           "the local runs: Swimmer and Walker2d from fig4.csv, CartPole from its re-run "
           "under both observations (fig4_cartpole.csv replaces fig4.csv's CartPole rows, "
           "trained when NoRML's view was the default)",
           command="workbench reproduce fig4 --scale local --jobs 2 (CartPole: --panel "
                   "cartpole --panel cartpole-norml)"),
)

CLAIMS = (
    Claim("safer", "1",
          "ES allows us to use deterministic policies, which can be safer when doing "
          "adaptation (Section 4.3).",
          "deterministic policies are safer",
          unchecked="a pointer to Section 4.3, judged there by claim more-stable"),
    Claim("more-stable", "4.3",
          "We find that deterministic policies often produce more stable behaviors than the "
          "stochastic ones that are required for PG, where randomized actions in unstable "
          "environments can lead to catastrophic outcomes.",
          "ES is more stable than PG", more_stable, "local",
          cause=Cause("unknown", "a stricter check written this session from the paper's "
                      "sentence; no experiment has tested a cause yet (nothing tried)"),
          departs="stability = the spread of the final return over seeds (a strict test of "
                  "PG wider than ES, pooled over CartPole, Swimmer and Walker2d, policy L); "
                  "PG is scored by its stochastic returns on CartPole and by its mean network "
                  "on Swimmer and Walker2d, the only scores the record holds for them"),
    Claim("parameter-space", "4.3",
          "In contrast, ES-MAML explores in parameter space, which mitigates this issue.",
          "parameter-space exploration mitigates it",
          unchecked="an explanation of claim more-stable, not a separate measurement"),
    Claim("holds-500", "4.3",
          "We see in Figure 4 that ES-MAML is able to stably maintain the maximum reward "
          "(500).",
          "ES-MAML holds 500 on CartPole", holds_500, "local",
          cause=Cause("budget", "four of five seeds of L hold 500 and H holds on all five; L's "
                      "seed 4 was still climbing (424) when its 500 iterations ended; not "
                      "shown by a longer run yet", EVIDENCE),
          departs="maintaining 500 = every seed's final within 5% of it (>= 475), policies L "
                  "and H, the environment's own observation; the spread, worst seed and "
                  "worst drawdown are reported"),
    Claim("es-better-training", "4.3",
          "We also include results in Figure 4 from two other environments, Swimmer and "
          "Walker2d, for which it is known that PG is surprisingly unstable, and ES yields "
          "better training (Mania et al., 2018).",
          "ES trains better than PG on Swimmer, Walker2d", es_better_training, "local",
          cause=Cause("unknown", WALKER, WALKER_EVIDENCE),
          departs="ES L against PG L (MAML-TRPO) at equal rollouts (PG's iteration costs "
                  "fewer), strict; PG's instability is claim more-stable's"),
    Claim("l-outperforms", "4.3",
          "Notice that we again find linear policies (L) outperforming policies with one (H) "
          "or two (HH) hidden layers.",
          "L outperforms H and HH", l_outperforms, "local",
          cause=Cause("unknown", WALKER, WALKER_EVIDENCE),
          departs="strict: L's final above H's and above HH's, Swimmer and Walker2d (K = 20, "
                  "20 + 5 perturbations at the local budget)"),
    Claim("conclusion-linear", "5",
          "ES-MAML performs well with linear or compact deterministic policies, which is an "
          "advantage when adapting if the state dynamics are possibly unstable.",
          "compact deterministic policies help",
          unchecked="the conclusion's summary of claims holds-500, more-stable and "
                    "l-outperforms"),
)


FIGURE = Figure(
    name="fig4",
    title="Stability: Biased-Sensor CartPole, Swimmer, Walker2d",
    claim=("ES-MAML holds the maximum return (500) on Biased-Sensor CartPole, is more stable "
           "than PG-MAML, and linear policies outperform H and HH on Swimmer and Walker2d."),
    panels=(Panel("cartpole", "Biased-Sensor CartPole (full state), K=20"),
            Panel("cartpole-norml", "Biased-Sensor CartPole (NoRML's view), K=20"),
            Panel("swimmer", "Swimmer Forward-Backward, K=20"),
            Panel("walker", "Walker2d Forward-Backward, K=20")),
    scales={
        "smoke": Scale(_runs({**SMOKE_ES, "horizon": 50}, {**SMOKE_PG, "horizon": 50},
                             {**SMOKE_ES, **SMOKE_MUJOCO, "K": 2},
                             {**SMOKE_PG, **SMOKE_MUJOCO, "K": 2}), seeds=1,
                       wall_time="~30 s"),
        # CartPole: the paper scale's budgets (measured 44.5 min for 3 seeds) on 5 seeds.
        # Swimmer and Walker2d, K = 20: 20 + 5 directions (half of LOCAL_MUJOCO_ES: Swimmer
        # costs ~4.7 CPU-s an iteration so), 200 iterations, 5 seeds; with MAML-TRPO's ~7.7
        # (Swimmer) that is ~32 CPU-s per seed-iteration over the panel's 8 runs: ~4.5 h.
        # Measured in the local runs: 1,064 min of job time (CartPole 56, Swimmer 449,
        # Walker2d 559, where MAML-TRPO took 12.5 s an iteration as Walker2d learned to
        # stay up), ~9 h of wall time with --jobs 2 on the 2 cores.
        "local": Scale(_runs({"iterations": 200, "eval_every": 20},
                             {"iterations": 60, "eval_every": 10, "meta_batch": 20},
                             {**LOCAL_MUJOCO_ES, "num_perturbations": 20,
                              "num_current_evals": 5, "iterations": 200, "K": 20},
                             {**LOCAL_MUJOCO_PG, "iterations": 200, "K": 20},
                             {"L": 500, "H": 200, "HH": 60}), seeds=5,
                       wall_time="~9.5 h with --jobs 2 (9 h measured with one CartPole "
                                 "observation; the second adds ~30 min, estimated)"),
        "paper": Scale(_runs({"iterations": 200, "eval_every": 20},
                             {"iterations": 60, "eval_every": 10, "meta_batch": 20},
                             {**PAPER_MUJOCO_ES, "iterations": 500, "K": 20},
                             {**PAPER_MUJOCO_PG, "iterations": 500, "K": 20},
                             {"L": 500, "H": 200, "HH": 60}), seeds=3,
                       wall_time="CartPole panels ~100 min with --jobs 2 (measured ~50 min "
                                 "a CartPole observation, loaded machine); all panels ~48 h "
                                 f"on 2 cores {TIME_AT_SCALE}"),
    },
    claims=CLAIMS,
    records=RECORDS,
    paper="Figure 4",
    notes=("CartPole runs once with the environment's own observation (full state, the "
           "default) and once with NoRML's training view (`task.observation=norml`: no "
           "velocities); PG-MAML is scored by the returns of the stochastic policy it "
           "executes, its mean network's beside them. Run the CartPole panels alone with "
           "`--panel cartpole --panel cartpole-norml`. CartPole ES iterations: "
           "500 for L (the prototype reached 500 by ~200-600), 200 for H, 60 for HH (an HH "
           "iteration cost ~12 s on a loaded 2-core machine when this was set; 1.8 s in the "
           "local runs); PG-MAML (MAML-TRPO) with 20 tasks per meta-batch for 60 iterations, "
           "chosen when a PG iteration on 500-step episodes was expected to cost several "
           "seconds: in the local runs it cost 0.25 s, so PG's CartPole budget (~50,000 "
           "rollouts, ~15 s a run) is far below ES's. Kept as fixed before the runs."),
)
