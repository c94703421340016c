"""Fig. A4: exploration on Navigation-2D, PG-MAML vs ES-MAML, K = 20 (A.4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reproductions import paths, plots
from reproductions.results import Results, greater
from reproductions.spec import Check, Figure, Panel, Scale
from reproductions.specs.common import SMOKE_ES, SMOKE_PG, es, pg
from workbench.metrics import TEST_PRE

RUNS = {"es": "ES-MAML (MC)", "pg": "PG-MAML (TRPO)"}


def _runs(es_sets: dict, pg_sets: dict) -> tuple:
    return (es("es", "nav2d", "curve", RUNS["es"], adaptation="mc", K=20, policy="H",
               **es_sets),
            pg("pg", "maml-trpo", "nav2d", "curve", RUNS["pg"], K=20, policy="H", **pg_sets))


def spread(r: Results, run: str) -> np.ndarray:
    """Per seed: mean over test tasks of how far apart the K exploration paths end."""
    out = []
    for seed in r.seeds:
        _, _, tasks = paths.adapted_paths(r.dirs[(run, seed)])
        out.append(np.mean([paths.endpoint_spread(p) for p in paths.exploration_paths(
            r.dirs[(run, seed)], [int(t) for t in tasks])]))
    return np.array(out)


def checks(r: Results) -> list[Check]:
    out = [greater(f"{RUNS[run]} adapts: final post-adaptation > pre-adaptation return",
                   r.final(run), r.final(run, key=TEST_PRE), "post", "pre")
           for run in RUNS]
    out.append(greater("ES-MAML's K exploration samples move in more different directions "
                       "than PG-MAML's (mean pairwise distance of the K paths' endpoints)",
                       spread(r, "es"), spread(r, "pg"), "ES", "PG"))
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
        "paper": Scale(_runs({"iterations": 300, "eval_every": 25},
                             {"iterations": 100, "eval_every": 10}), seeds=3,
                       wall_time="~10 min with --jobs 2 (measured, loaded machine)"),
    },
    checks=checks,
    pictures=pictures,
    notes=("The endpoint-spread check is this project's quantitative reading of the paper's "
           "qualitative picture."),
)
