"""Figures in the paper's layout: one panel per paper panel, mean +- std over seeds.

`curves` draws every panel of a figure three times: against the paper's x-axis (saved as
`<figure>.png`), against total training rollouts and against wall-clock seconds (the
rollouts picture is left out when the first already draws every panel by rollouts). Mean and
std over seeds come from `workbench.app.curves.curves`, the one implementation `compare`
uses too. Panels are lettered (a), (b), ... in the order drawn; a panel that sets ES-MAML
against a PG-MAML baseline is drawn against training rollouts even in the paper-axis
picture, since their iterations cost very different numbers of rollouts. Std bands are
clipped to the range the plotted value can take (`Panel.y_range`, else the task family's
`return_range`). Legends name K and the number of seeds.
`trajectories` draws 2-D paths (adapted policies, exploration rollouts) for the
exploration figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reproductions import calibration
from reproductions.results import Results
from reproductions.spec import Panel, Run
from workbench.app import runconfig as cfg
from workbench.app.curves import curves as curves_over_seeds
from workbench.metrics import AXES, AXIS_LABELS
from workbench.app.plotting import (ADAPTED, EXPLORATION, clip_band, count_ticks, draw_arena,
                                    draw_goals, integer_ticks, layout_figure, panel_letters,
                                    panel_title, plt, save_figure, suptitle, trajectory_legend)
from workbench.tasks import family_class

ES_ALGOS = ("es-maml",)


def mean_std(results: Results, run: str, axis: str, metric: str, negate: bool,
             floor: float | None = None):
    """x, mean and std over seeds of a run's metric (`workbench.app.curves`, as compare);
    with `floor`, of each evaluation's clipped mean (`Results.clipped_rows`)."""
    rows = (results.clipped_rows(run, floor) if floor is not None and results.dirs
            else [results.evals[run][s] for s in results.seeds])
    x, mean, std = curves_over_seeds(rows, axis, metric)
    return x, (-mean if negate else mean), std


def _grid(n: int, width: float = 4.2, height: float = 3.4):
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = layout_figure(max(width * cols, 6.0), height * rows + 0.6, rows, cols)
    return fig, [axes[i // cols][i % cols] for i in range(rows * cols)], cols


def run_k(results: Results, run: Run) -> object | None:
    """The K (adaptation rollouts or queries) a run used: its config file, else its spec."""
    path = results.dirs.get((run.name, results.seeds[0])) if results.dirs else None
    if path is not None and (path / "config.yaml").is_file():
        return cfg.load(path / "config.yaml").get("K", run.sets.get("K"))
    return run.sets.get("K")


def legend_label(results: Results, run: Run) -> str:
    """The run's legend, with K added when the label does not name it."""
    label = run.legend
    k = run_k(results, run)
    if k is not None and "K=" not in label.replace(" ", ""):
        label = f"{label}, K={k}"
    return label


def value_range(panel: Panel, runs: list[Run]) -> tuple[float | None, float | None] | None:
    """What the panel's std bands are clipped to."""
    if panel.y_range is not None:
        return panel.y_range
    if panel.negate or not runs:
        return None
    ranges = set()
    for run in runs:
        try:
            ranges.add(tuple(family_class(run.task).return_range))
        except (KeyError, ValueError):
            return None
    return ranges.pop() if len(ranges) == 1 else None


def es_vs_pg(runs: list[Run]) -> bool:
    return len({run.algo in ES_ALGOS for run in runs}) > 1


def _holds(results: Results, run: str, metric: str) -> bool:
    return any(metric in rows[0] for rows in results.evals[run].values() if rows)


def curves(results: Results, path: Path, title: str | None = None) -> list[Path]:
    """`path` (paper x-axis), `path`_rollouts.png and `path`_wall_time.png; `title`
    replaces the figure's own. A clipped panel (`Panel.floor`) of results without run
    directories (committed CSVs) plots plain means, and its title says so."""
    fig_spec = results.figure
    # a panel whose metric the results do not hold (a CSV has fixed columns) is left out
    panels = [p for p in fig_spec.panels
              if any(p.name in r.panels and _holds(results, r.name, r.metric or p.metric)
                     for r in results.runs.values())]
    if not panels:
        return []
    letters = panel_letters(len(panels))
    n = len(results.seeds)
    seeds = f"{n} seed{'s' if n > 1 else ''}"
    written, drawn = [], set()
    for axis in (fig_spec.x_label, *[a for a in AXES if a != fig_spec.x_label]):
        # ES and PG iterations differ in cost: a panel comparing them is drawn against
        # rollouts on the iterations axis too, so a picture may repeat an earlier one
        x_axes = tuple("rollouts" if axis == "iterations" and es_vs_pg(
            [r for r in results.runs.values() if p.name in r.panels]) else axis
            for p in panels)
        if x_axes in drawn:
            continue
        drawn.add(x_axes)
        fig, axes, cols = _grid(len(panels))
        for ax, panel, letter, x_axis in zip(axes, panels, letters, x_axes):
            runs = [run for run in results.runs.values() if panel.name in run.panels]
            bounds = value_range(panel, runs)
            if not panel.negate and panel.floor is None:
                draw_bounds(ax, runs)
            for value, label in panel.references:
                ax.axhline(value, color="0.3", ls="-.", lw=1, label=label)
            for run in runs:
                x, mean, std = mean_std(results, run.name, x_axis, run.metric or panel.metric,
                                        panel.negate, panel.floor)
                (line,) = ax.plot(x, mean, lw=1.5, marker="o" if len(x) < 6 else None, ms=3,
                                  label=legend_label(results, run))
                low, high = clip_band(mean, std, bounds)
                ax.fill_between(x, low, high, color=line.get_color(), alpha=0.2, lw=0)
            plain = panel.floor is not None and not results.dirs
            clipped = panel.floor is not None and not plain
            panel_title(ax, f"{letter} {panel.title}" + (
                "; clipped means" if clipped else "; plain means (the CSVs hold no "
                                                  "adaptations to clip)" if plain else ""),
                        fontsize=10, cols=cols)
            ax.set_xlabel(AXIS_LABELS[x_axis], fontsize=9)
            ax.set_ylabel("post-adaptation test return" if plain else panel.ylabel,
                          fontsize=9)
            if panel.log_y:
                ax.set_yscale("log")
            if x_axis == "iterations":
                integer_ticks(ax)
            else:
                count_ticks(ax)
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, title=f"mean ± std, {seeds}", title_fontsize=7,
                      framealpha=0.8)
        for ax in axes[len(panels):]:
            ax.axis("off")
        suptitle(fig, title or f"{fig_spec.name}: {fig_spec.title} ({results.scale} scale, "
                               f"mean ± std over {seeds})", fontsize=11)
        out = path if axis == fig_spec.x_label else path.with_name(f"{path.stem}_{axis}.png")
        written.append(save_figure(fig, out))
        plt.close(fig)
    return written


#: Line styles and legend names of the calibration bounds.
BOUND_STYLES = {"blind": ("0.45", "--"), "oracle": ("0.15", ":")}
BOUND_LABELS = ("task-blind ceiling", "per-task oracle")


def draw_bounds(ax, runs: list[Run]) -> None:
    """The cached calibration bounds of the panel's policies (`calibration.run_bounds`) as
    horizontal lines: the task-blind ceiling dashed, the per-task oracle dotted."""
    seen = {}
    for run in runs:
        bounds = calibration.run_bounds(run)
        if bounds is not None:
            seen.setdefault(bounds["policy_name"], bounds)
    for policy, bounds in seen.items():
        for kind, value in (("blind", bounds["blind"]["value"]),
                            ("oracle", bounds["oracle"]["mean"])):
            color, style = BOUND_STYLES[kind]
            name = BOUND_LABELS[0] if kind == "blind" else BOUND_LABELS[1]
            ax.axhline(value, color=color, ls=style, lw=1.0, zorder=1,
                       label=f"{name} ({policy}), {value:.4g}")


def trajectories(panels: list[tuple[str, object, list[tuple[np.ndarray, str]], list]],
                 path: Path, title: str) -> Path:
    """One subplot per entry `(title, family, [(path [T+1, 2], color)], goals)`; goals are
    the family's `(x, y, kind)` markers. A path coloured "tab:blue" is the adapted policy;
    every other path is an exploration rollout (drawn thin, in `EXPLORATION`)."""
    fig, axes, cols = _grid(len(panels), width=3.6, height=3.5)
    explored = wrong = False
    for ax, (name, family, paths, goals) in zip(axes, panels):
        draw_goals(ax, goals, family)
        wrong = wrong or any(kind != "goal" for _, _, kind in goals)
        for xy, color in paths:
            adapted = color == ADAPTED
            explored = explored or not adapted
            ax.plot(xy[:, 0], xy[:, 1], color=ADAPTED if adapted else EXPLORATION,
                    lw=1.8 if adapted else 0.8, alpha=1.0 if adapted else 0.6,
                    zorder=3 if adapted else 2)
        draw_arena(ax, family)
        panel_title(ax, name, fontsize=9, cols=cols)
    for ax in axes[len(panels):]:
        ax.axis("off")
    trajectory_legend(fig, exploration=explored, wrong_goals=wrong)
    suptitle(fig, title, fontsize=10)
    written = save_figure(fig, path)
    plt.close(fig)
    return written
