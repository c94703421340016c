"""Every PNG the project writes is checked as a picture: layout properties measured on the
matplotlib Figure (texts inside the canvas, distinct panel labels, integer iteration ticks,
std bands inside the attainable range, labelled arenas with a legend), not file sizes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from reproductions import plots
from reproductions.results import Results
from reproductions.spec import Figure, Panel, Run, Scale
from workbench.app import plotting
from workbench.app.cli import main
from workbench.metrics import ENV_STEPS, ITERATION, ROLLOUTS, TEST_POST, TEST_PRE, WALL_TIME
from workbench.tasks import make_family

from tests.conftest import LAYOUT_FAULTS, SMOKE_GROUP
from tests.layout import check_layout, visible_axes


@pytest.fixture
def captured(monkeypatch):
    """Every figure `reproductions.plots` saves, as (figure, path)."""
    figures: list = []
    save = plots.save_figure

    def record(fig, path):
        figures.append((fig, Path(path)))
        return save(fig, path)

    monkeypatch.setattr(plots, "save_figure", record)
    return figures


# -- synthetic results: fast, and with bands that would leave CartPole's range -----------

def _rows(iterations: int, per_iteration: int, level: float, spread: float, seed: int):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(iterations):
        rows.append({ITERATION: i, ROLLOUTS: per_iteration * (i + 1),
                     ENV_STEPS: 500 * per_iteration * (i + 1), WALL_TIME: 1.0 + i,
                     TEST_PRE: level, TEST_POST: float(level + spread * rng.standard_normal())})
    return rows


def _results(panels: tuple[Panel, ...], runs: list[Run], seeds: int = 3,
             title: str = "a long title that would not fit a single narrow panel, on "
                          "purpose, to test wrapping") -> Results:
    figure = Figure("synthetic", title, "claim", panels,
                    {"smoke": Scale(tuple(runs), seeds, "")}, checks=lambda r: [])
    evals, every = {}, {}
    for j, run in enumerate(runs):
        cost = 3000 if run.algo == "es-maml" else 80
        for s in range(seeds):
            rows = _rows(6, cost, 480.0 if j == 0 else 10.0, 200.0, 10 * j + s)
            every.setdefault(run.name, {})[s] = rows
            evals.setdefault(run.name, {})[s] = rows
    return Results(figure, "smoke", {r.name: r for r in runs}, {}, evals, every)


CARTPOLE = [Run("es", "es-maml", "cartpole-biased", {"K": 20}, "ES-MAML", ("p1", "p2")),
            Run("pg", "promp", "cartpole-biased", {"K": 20}, "PG-MAML", ("p1",)),
            Run("es5", "es-maml", "cartpole-biased", {"K": 5}, "ES-MAML", ("p2", "p3"))]


@pytest.mark.parametrize("panels", [1, 3, 5])
def test_curve_figures_fit_their_canvas_and_label_panels(tmp_path, captured, panels):
    names = [f"p{i + 1}" for i in range(panels)]
    runs = [Run(f"r{i}", "es-maml", "cartpole-biased", {"K": 20}, f"run {i}", (n,))
            for i, n in enumerate(names)]
    results = _results(tuple(Panel(n, f"panel {n} with a fairly long title") for n in names),
                       runs)
    plots.curves(results, tmp_path / "synthetic.png")
    assert [p.name for _, p in captured] == ["synthetic.png", "synthetic_rollouts.png",
                                             "synthetic_wall_time.png"]
    for fig, path in captured:
        check_layout(fig, path)


def test_std_bands_stay_in_cartpoles_range_and_es_vs_pg_is_drawn_by_rollouts(tmp_path,
                                                                             captured):
    panels = (Panel("p1", "ES vs PG"), Panel("p2", "ES at two K"), Panel("p3", "ES K=5"))
    plots.curves(_results(panels, CARTPOLE), tmp_path / "cp.png")
    fig, path = captured[0]
    check_layout(fig, path)
    low, high = make_family("cartpole-biased").return_range
    for ax in visible_axes(fig):
        for band in ax.collections:
            ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
            assert ys.min() >= low - 1e-9 and ys.max() <= high + 1e-9
    es_vs_pg, es_only = visible_axes(fig)[:2]
    assert es_vs_pg.get_xlabel() == "training rollouts"
    assert es_only.get_xlabel() == "iterations"
    assert [t.get_text() for t in es_only.get_legend().texts] == ["ES-MAML, K=20",
                                                                  "ES-MAML, K=5"]


def test_trajectory_figure_of_a_run_shows_the_whole_arena(tmp_path):
    family = make_family("four-corners")
    positions = torch.linspace(0, 1, 101)[:, None, None] * torch.tensor(
        [[4.9, 4.9], [-4.9, 4.9], [-4.9, -4.9]])[None]
    fig = plotting.trajectory_figure(family, positions, torch.tensor([0, 1, 2]),
                                     "four-corners, iteration 123: adapted policies "
                                     "(post-adaptation return -123.4)")
    path = plotting.save_figure(fig, tmp_path / "t.png")
    check_layout(fig, path)
    for ax in visible_axes(fig):
        assert min(ax.get_xlim()) <= -family.bound and max(ax.get_xlim()) >= family.bound
    plotting.plt.close(fig)


def test_exploration_picture_has_labels_legend_and_the_arena(tmp_path, captured):
    family = make_family("four-corners")
    t = np.linspace(0, 1, 50)[:, None]
    paths = [(t * np.array([[4.8, 5.0]]), "tab:red"), (t * np.array([[-5.0, 4.0]]), "tab:blue")]
    panels = [(f"ES-MAML, corner {k}", family, paths, list(family.plot_goals(k)))
              for k in range(2)]
    plots.trajectories(panels, tmp_path / "x.png", "exploration rollouts and the adapted "
                                                   "policy, a title long enough to wrap")
    fig, path = captured[0]
    check_layout(fig, path)
    texts = [t.get_text() for t in fig.legends[0].texts]
    assert "adapted policy" in texts and any("exploration" in t for t in texts)


def _reproduce(out: Path, figure: str) -> None:
    assert main(["reproduce", figure, "--scale", "smoke", "--quiet", "--out", str(out)]) == 0


def test_fig2_smoke_pictures_pass_the_layout_checks(tmp_path, captured):
    _reproduce(tmp_path, "fig2")
    assert {p.name for _, p in captured} >= {"fig2.png", "fig2_trajectories.png"}
    for fig, path in captured:
        check_layout(fig, path)


@pytest.mark.slow
@SMOKE_GROUP
def test_every_figure_at_smoke_scale_passes_the_layout_checks(smoke_reproduction):
    # the session's smoke reproduction ran check_layout on every figure it saved
    faults = json.loads((smoke_reproduction / LAYOUT_FAULTS).read_text())
    assert set(faults) == {p.name for p in smoke_reproduction.glob("*.png")}
    assert {name: fault for name, fault in faults.items() if fault} == {}
