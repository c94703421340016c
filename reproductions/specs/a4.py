"""Fig. A4: exploration on Navigation-2D, PG-MAML vs ES-MAML, K = 20 (A.4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reproductions import paths, plots
from reproductions.results import Results, greater, path_straightness
from reproductions.spec import Check, Figure, Panel, Scale
from reproductions.specs.common import SMOKE_ES, SMOKE_PG, es, pg
from workbench.metrics import TEST_PRE

RUNS = {"es": "ES-MAML (MC)", "pg": "PG-MAML (TRPO)"}


def _runs(es_sets: dict, pg_sets: dict) -> tuple:
    return (es("es", "nav2d", "curve", RUNS["es"], adaptation="mc", K=20, policy="H",
               **es_sets),
            pg("pg", "maml-trpo", "nav2d", "curve", RUNS["pg"], K=20, policy="H", **pg_sets))


#: Test tasks (the final evaluation's first distinct ones) whose exploration paths are drawn.
TASKS = 8


def straightness(r: Results, run: str) -> np.ndarray:
    """Per seed: mean over test tasks and the K exploration paths of net displacement over
    path length (1: a directed path; near 0: many tiny moves that go nowhere)."""
    out = []
    for seed in r.seeds:
        tasks = list(dict.fromkeys(int(t) for t in r.adaptations(run, seed, last=1)["tasks"]))
        explore = paths.exploration_paths(r.dirs[(run, seed)], tasks[:TASKS])
        out.append(np.mean([path_straightness(p.numpy()).mean() for p in explore]))
    return np.array(out)


def checks(r: Results) -> list[Check]:
    out = [greater(f"{RUNS[run]} adapts: final post-adaptation > pre-adaptation return",
                   r.final(run), r.final(run, key=TEST_PRE), "post", "pre")
           for run in RUNS]
    out.append(greater("ES-MAML's K exploration paths are more directed than PG-MAML's "
                       "(net displacement / path length, mean over K paths and 8 test tasks)",
                       straightness(r, "es"), straightness(r, "pg"), "ES", "PG"))
    return out


def pictures(r: Results, out: Path) -> list[Path]:
    panels = [panel for run in RUNS
              for panel in paths.exploration_panels(r.dirs[(run, 0)], RUNS[run], 3)]
    return [plots.trajectories(panels, out / "a4_exploration.png",
                               "Fig. A4: exploration rollouts and adapted policy on "
                               "Navigation-2D, K = 20, seed 0")]


FIGURE = Figure(
    name="a4",
    title="Navigation-2D exploration, PG vs ES",
    claim=("On Navigation-2D, PG-MAML explores with many tiny movements while each ES-MAML "
           "perturbation moves the agent in a different direction."),
    panels=(Panel("curve", "Navigation-2D, K=20"),),
    scales={
        "smoke": Scale(_runs(SMOKE_ES, SMOKE_PG), seeds=1, wall_time="~15 s"),
        # 5 seeds; the paper-scale budget (the curves had settled); ~17 min with --jobs 2.
        "local": Scale(_runs({"iterations": 300, "eval_every": 25},
                             {"iterations": 100, "eval_every": 10}), seeds=5,
                       wall_time="15 min with --jobs 2 (measured)"),
        "paper": Scale(_runs({"iterations": 300, "eval_every": 25},
                             {"iterations": 100, "eval_every": 10}), seeds=3,
                       wall_time="~10 min with --jobs 2 (measured, loaded machine)"),
    },
    checks=checks,
    pictures=pictures,
    notes=("The straightness check (net displacement over path length of each exploration "
           "path) is this project's quantitative reading of the paper's qualitative picture: "
           "many tiny jittery moves score near 0, a directed path near 1."),
)
