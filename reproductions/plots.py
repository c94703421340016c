"""Figures in the paper's layout: one panel per paper panel, mean +- std over seeds.

`curves` draws every panel of a figure three times: against the paper's x-axis (saved as
`<figure>.png`), against total training rollouts and against wall-clock seconds. Mean and
std over seeds come from `workbench.experiment.curves`, the one implementation `compare`
uses too.
`trajectories` draws 2-D paths (adapted policies, exploration rollouts) for the
exploration figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reproductions.results import Results
from workbench.experiment import curves as curves_over_seeds
from workbench.metrics import AXES, AXIS_LABELS
from workbench.plotting import plt, save_figure

def mean_std(results: Results, run: str, axis: str, metric: str, negate: bool):
    """x, mean and std over seeds of a run's metric (`experiment.curves`, as compare)."""
    x, mean, std = curves_over_seeds([results.evals[run][s] for s in results.seeds], axis, metric)
    return x, (-mean if negate else mean), std


def _grid(n: int):
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    return fig, [axes[i // cols][i % cols] for i in range(rows * cols)]


def curves(results: Results, path: Path) -> list[Path]:
    """`path` (paper x-axis), `path`_rollouts.png and `path`_wall_time.png."""
    fig_spec = results.figure
    panels = [p for p in fig_spec.panels
              if any(p.name in r.panels for r in results.runs.values())]
    written = []
    for axis in (fig_spec.x_label, *[a for a in AXES if a != fig_spec.x_label]):
        fig, axes = _grid(len(panels))
        for ax, panel in zip(axes, panels):
            for name, run in results.runs.items():
                if panel.name not in run.panels:
                    continue
                x, mean, std = mean_std(results, name, axis, panel.metric, panel.negate)
                (line,) = ax.plot(x, mean, lw=1.5, label=run.legend)
                ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2)
            ax.set_title(panel.title, fontsize=10)
            ax.set_xlabel(AXIS_LABELS[axis], fontsize=9)
            ax.set_ylabel(panel.ylabel, fontsize=9)
            if panel.log_y:
                ax.set_yscale("log")
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        for ax in axes[len(panels):]:
            ax.axis("off")
        n = len(results.seeds)
        fig.suptitle(f"{fig_spec.name}: {fig_spec.title} ({results.scale} scale, mean +- std "
                     f"over {n} seed{'s' if n > 1 else ''})", fontsize=11)
        fig.tight_layout()
        out = path if axis == fig_spec.x_label else path.with_name(f"{path.stem}_{axis}.png")
        written.append(save_figure(fig, out))
        plt.close(fig)
    return written


def trajectories(panels: list[tuple[str, object, list[tuple[np.ndarray, str]], list]],
                 path: Path, title: str) -> Path:
    """One subplot per entry `(title, family, [(path [T+1, 2], color)], goals)`; goals are
    the family's `(x, y, kind)` markers."""
    fig, axes = _grid(len(panels))
    for ax, (name, family, paths, goals) in zip(axes, panels):
        for x, y, kind in goals:
            ax.add_patch(plt.Circle((x, y), 0.15 if kind == "goal" else 0.12,
                                    color="tab:green" if kind == "goal" else "tab:red",
                                    alpha=0.5))
        for xy, color in paths:
            ax.plot(xy[:, 0], xy[:, 1], color=color, lw=1.0 if color != "tab:blue" else 1.8,
                    alpha=0.7 if color != "tab:blue" else 1.0)
        ax.plot(0, 0, "k+", ms=7)
        lim = min(family.bound, 3.5) + 0.2
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[len(panels):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    written = save_figure(fig, path)
    plt.close(fig)
    return written
