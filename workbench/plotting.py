"""Figures: trajectories of adapted policies on the 2-D tasks.

Goals come from the task family (`family.plot_goals(task_id)`: (x, y, kind) markers, kind
"goal" or "wrong"), so a new 2-D family gets its goals drawn by defining that method.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from torch import Tensor  # noqa: E402


def trajectory_figure(family, positions: Tensor, tasks: Tensor, title: str):
    """One panel per task: the path (positions [T + 1, n, 2]) and the task's goals."""
    n = positions.shape[1]
    cols = min(n, 5)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3 * rows), squeeze=False)
    bound = family.bound
    for i in range(rows * cols):
        ax = axes[i // cols][i % cols]
        if i >= n:
            ax.axis("off")
            continue
        for x, y, kind in family.plot_goals(int(tasks[i])):
            ax.add_patch(plt.Circle((x, y), 0.15 if kind == "goal" else 0.12,
                                    color="tab:green" if kind == "goal" else "tab:red",
                                    alpha=0.8))
        path = positions[:, i].numpy()
        ax.plot(path[:, 0], path[:, 1], color="tab:blue", lw=1.2)
        ax.plot(path[-1, 0], path[-1, 1], "o", color="tab:blue", ms=4)
        ax.plot(0, 0, "k+", ms=6)
        lim = min(bound, 3.5) + 0.2
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(f"task {int(tasks[i])}", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def save_figure(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
