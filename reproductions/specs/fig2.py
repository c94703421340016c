"""Fig. 2: ES-MAML with hill climbing explores Six Circles (K = 20) (§4.1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reproductions import paths, plots
from reproductions.results import Results, at_least, greater
from reproductions.spec import Check, Figure, Panel, Scale
from reproductions.specs.common import SMOKE_ES, es

#: "Finds the correct circles": the adapted paths reach at least half of the correct goals.
MIN_FRACTION = 0.5


def _runs(sets: dict) -> tuple:
    return (es("hc-K20", "six-circles", "curve", "ES-MAML HC K=20", adaptation="hc", K=20,
               policy="H", **sets),)


def fraction_reached(r: Results) -> np.ndarray:
    """Per seed: the fraction of correct goals the adapted policies reach (test tasks)."""
    out = []
    for seed in r.seeds:
        family, pos, tasks = paths.adapted_paths(r.dirs[("hc-K20", seed)])
        hits = [paths.reached(pos[:, i].numpy(), family, int(t)) for i, t in enumerate(tasks)]
        out.append(sum(h for h, _ in hits) / max(sum(n for _, n in hits), 1))
    return np.array(out)


def checks(r: Results) -> list[Check]:
    return [greater("HC improves the post-adaptation return over iteration 0",
                    r.final("hc-K20"), r.first("hc-K20"), "final", "iteration 0"),
            at_least(f"the adapted policy reaches the correct circles (fraction of correct "
                     f"goals within 0.1 on the test tasks >= {MIN_FRACTION})",
                     fraction_reached(r), MIN_FRACTION, "fraction reached")]


def pictures(r: Results, out: Path) -> list[Path]:
    family, pos, tasks = paths.adapted_paths(r.dirs[("hc-K20", 0)])
    panels = [(f"task {int(t)}", family, [(pos[:, i].numpy(), "tab:blue")],
               paths.goals(family, int(t))) for i, t in enumerate(tasks[:8])]
    return [plots.trajectories(panels, out / "fig2_trajectories.png",
                               "Fig. 2: adapted HC policies on Six Circles, K = 20, seed 0")]


FIGURE = Figure(
    name="fig2",
    title="Six Circles exploration with HC",
    claim="ES-MAML with the HC operator finds the correct circles on Six Circles (K = 20).",
    panels=(Panel("curve", "Six Circles, HC, K=20"),),
    scales={
        "smoke": Scale(_runs(SMOKE_ES), seeds=1, wall_time="~10 s"),
        "paper": Scale(_runs({"iterations": 300, "eval_every": 25}), seeds=3,
                       wall_time="~6 min with --jobs 2 (measured, loaded machine)"),
    },
    checks=checks,
    pictures=pictures,
    notes="Policy H; 300 iterations (the paper does not state its budget for Fig. 2).",
)
