"""Fig. A3: (left) RBO vs MC adaptation with 25% of the queries grossly corrupted, on
Forward-Backward Swimmer; (right) ASEBO vs MC on Goal-Velocity HalfCheetah, low K (A.3.3)."""

from __future__ import annotations

from reproductions.ledger import Claim, Record
from reproductions.results import Results
from reproductions.verdicts import greater, not_worse
from reproductions.spec import Check, Figure, Panel, Scale
from reproductions.specs.common import (TIME_AT_SCALE, PAPER_MUJOCO_ES, LOCAL_MUJOCO_ES,
                                        SMOKE_ES, SMOKE_MUJOCO, es)

CORRUPT = {"adapt_options.corrupt_fraction": 0.25, "adapt_options.corrupt_scale": 1e6}


def _runs(left: dict, right: dict, k_right: int) -> tuple:
    return (es("swimmer-mc", "swimmer-fb", "robust", "MC, 25% corrupted", adaptation="mc",
               policy="L", **CORRUPT, **left),
            es("swimmer-rbo", "swimmer-fb", "robust", "RBO, 25% corrupted", adaptation="rbo",
               policy="L", **CORRUPT, **left),
            es("hcgv-mc", "halfcheetah-gv", "asebo", f"MC K={k_right}", adaptation="mc",
               policy="L", K=k_right, **right),
            es("hcgv-asebo", "halfcheetah-gv", "asebo", f"ASEBO K={k_right}",
               adaptation="asebo", policy="L", K=k_right, **right))


def rbo_not_robust(r: Results) -> list[Check]:
    if not (r.has("swimmer-mc") and r.has("swimmer-rbo")):
        return []
    return [not_worse("RBO is no more robust than MC (MC final >= RBO final)",
                      r.final("swimmer-mc"), r.final("swimmer-rbo"), "MC", "RBO")]


def asebo_iterations(r: Results) -> list[Check]:
    if not (r.has("hcgv-mc") and r.has("hcgv-asebo")):
        return []
    return [greater("ASEBO beats MC per iteration (final, equal iterations)",
                    r.final("hcgv-asebo"), r.final("hcgv-mc"), "ASEBO", "MC")]


def asebo_time(r: Results) -> list[Check]:
    if not (r.has("hcgv-mc") and r.has("hcgv-asebo")):
        return []
    t = min(r.end_time("hcgv-mc"), r.end_time("hcgv-asebo"))
    return [greater("ASEBO costs more wall-clock per iteration",
                    r.seconds_per_iteration("hcgv-asebo"), r.seconds_per_iteration("hcgv-mc"),
                    "ASEBO s/it", "MC s/it"),
            greater(f"MC beats ASEBO at equal wall-clock time ({t:.0f} s)",
                    r.at_time("hcgv-mc", t), r.at_time("hcgv-asebo", t), "MC", "ASEBO")]


RECORDS = (
    Record("local", ("a3.csv",), "local", "0-4", "-", "the local run (not run yet)",
           command="workbench reproduce a3 --scale local --jobs 2"),
)

CLAIMS = (
    Claim("rbo-not-robust", "A.3.3",
          "Interestingly, RBO does not appear to be more robust against noise than the "
          "standard MC estimator, which suggests that the original ES-MAML has some inherent "
          "robustness to noise.",
          "RBO no more robust than MC under corruption", rbo_not_robust, "local",
          departs="'not more robust' = MC's final not below RBO's by 2 SE, 25% of queries "
                  "corrupted; the second clause would need an uncorrupted MC run, which the "
                  "figure does not have"),
    Claim("asebo-iterations", "A.3.3",
          "We found that when measured in iterations, ASEBO-MAML outperforms ES-MAML.",
          "ASEBO beats MC per iteration", asebo_iterations, "local"),
    Claim("asebo-time", "A.3.3",
          "However, ASEBO requires additional linear algebra operations and thus uses "
          "significantly more wall-clock time (not shown in plot) per iteration, so if "
          "measured by real time, then ES-MAML was more effective.",
          "ASEBO loses per wall-clock second", asebo_time, "local",
          departs="this machine's wall clock (one process, one thread), not the paper's "
                  "distributed workers"),
)


FIGURE = Figure(
    name="a3",
    title="RBO and ASEBO adaptation",
    claim=("RBO is no more robust than MC when 25% of the adaptation queries are corrupted; "
           "ASEBO beats MC per iteration but loses per wall-clock second."),
    panels=(Panel("robust", "Swimmer FB, 25% corrupted queries"),
            Panel("asebo", "HalfCheetah GV, low K")),
    scales={
        "smoke": Scale(_runs({**SMOKE_ES, **SMOKE_MUJOCO, "K": 4},
                             {**SMOKE_ES, **SMOKE_MUJOCO}, 2), seeds=1, wall_time="~20 s"),
        "local": Scale(_runs({**LOCAL_MUJOCO_ES, "iterations": 100, "K": 20},
                             {**LOCAL_MUJOCO_ES, "iterations": 100}, 5), seeds=3,
                       wall_time="~3 h with --jobs 2 plus RBO's LP decoding (estimated; not "
                                 "run yet)"),
        "paper": Scale(_runs({**PAPER_MUJOCO_ES, "iterations": 500, "K": 20},
                             {**PAPER_MUJOCO_ES, "iterations": 500}, 5), seeds=3,
                       wall_time=f"~30 h on 2 cores {TIME_AT_SCALE}"),
    },
    claims=CLAIMS,
    records=RECORDS,
    paper="Figure A3",
    notes="Corruption: N(0, 1e6^2) added to 25% of each point's K raw query values.",
)
