"""Figures: trajectories of adapted policies on the 2-D tasks, and the layout helpers every
figure of the project shares.

Goals come from the task family (`family.plot_goals(task_id)`: (x, y, kind) markers, kind
"goal" or "wrong"), so a new 2-D family gets its goals drawn by defining that method.

The helpers keep figures printable: titles are wrapped to the width they have (never
clipped at the canvas edge), iteration axes get integer ticks, std bands are clipped to
the range a task's return can take, and 2-D panels show the whole arena with labelled axes
and a legend.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Iterable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from torch import Tensor  # noqa: E402

from workbench.app.errors import writing  # noqa: E402

#: Colours of the 2-D pictures: the adapted policy, the K exploration rollouts, the goals.
ADAPTED, EXPLORATION, GOAL, WRONG = "tab:blue", "tab:orange", "tab:green", "tab:red"


def layout_figure(width: float, height: float, rows: int = 1, cols: int = 1, **kwargs):
    """`plt.subplots` with constrained layout (titles, labels and legends get room)."""
    return plt.subplots(rows, cols, figsize=(width, height), squeeze=False,
                        layout="constrained", **kwargs)


def renderer_of(fig):
    """An Agg renderer for `fig` (also after `plt.close`, which detaches its canvas)."""
    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    return fig.canvas.get_renderer()


def wrap_text(artist, max_px: float) -> None:
    """Re-wrap a Text artist's words until its rendered width is at most `max_px`."""
    renderer = renderer_of(artist.figure)
    words = " ".join(artist.get_text().split())
    artist.set_text(words)
    chars = len(words)
    while artist.get_window_extent(renderer).width > max_px and chars > 8:
        chars = max(8, int(chars * 0.85))
        artist.set_text(textwrap.fill(words, chars, break_long_words=False))


def suptitle(fig, text: str, fontsize: float = 11) -> None:
    """A figure title wrapped to the canvas width."""
    wrap_text(fig.suptitle(text, fontsize=fontsize), 0.94 * fig.bbox.width)


def panel_title(ax, text: str, fontsize: float = 10, cols: int = 1) -> None:
    """An axes title wrapped to the width of its column of the figure."""
    wrap_text(ax.set_title(text, fontsize=fontsize), 0.9 * ax.figure.bbox.width / cols)


def panel_letters(n: int) -> list[str]:
    """'(a)', '(b)', ... for n panels (then '(a1)' style past z)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [f"({letters[i % 26]}{i // 26 or ''})" for i in range(n)]


def integer_ticks(ax) -> None:
    """Only whole numbers on the x axis (iterations)."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def count_ticks(ax) -> None:
    """A large count on the x axis (rollouts, env steps, seconds): at most 5 ticks, and
    powers of ten in the axis' offset label, so that labels like 160000 never collide."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))


def clip_band(mean: np.ndarray, std: np.ndarray,
              value_range: tuple[float | None, float | None] | None
              ) -> tuple[np.ndarray, np.ndarray]:
    """mean -+ std, clipped to the attainable range (None: unbounded on that side)."""
    lo, hi = mean - std, mean + std
    if value_range is not None:
        low, high = value_range
        lo = np.clip(lo, low, high)
        hi = np.clip(hi, low, high)
    return lo, hi


def draw_arena(ax, family) -> None:
    """The whole arena (square of half-width `family.bound`), labelled axes, the start."""
    lim = 1.04 * float(family.bound)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.plot(0, 0, "k+", ms=7)
    ax.set_xlabel("x", fontsize=8, labelpad=1)
    ax.set_ylabel("y", fontsize=8, labelpad=1)
    ax.tick_params(labelsize=7)


def draw_goals(ax, goals: Iterable[tuple[float, float, str]], family) -> None:
    scale = max(float(family.bound), 1.0) / 5.0  # marker radius grows with the arena
    for x, y, kind in goals:
        ax.add_patch(plt.Circle((x, y), (0.2 if kind == "goal" else 0.15) * scale,
                                color=GOAL if kind == "goal" else WRONG, alpha=0.7))


def trajectory_legend(fig, exploration: bool, wrong_goals: bool) -> None:
    """One legend for all panels, below them."""
    handles = [Line2D([], [], color=ADAPTED, lw=1.8, label="adapted policy"),
               Line2D([], [], marker="o", ls="", color=GOAL, alpha=0.7, label="correct goal")]
    if wrong_goals:
        handles.append(Line2D([], [], marker="o", ls="", color=WRONG, alpha=0.7,
                              label="wrong goal"))
    if exploration:
        handles.insert(1, Line2D([], [], color=EXPLORATION, lw=1.0,
                                 label="exploration rollouts (the K adaptation samples)"))
    handles.append(Line2D([], [], marker="+", ls="", color="k", label="start"))
    renderer = renderer_of(fig)
    for ncol in range(len(handles), 0, -1):  # as many columns as the canvas width allows
        legend = fig.legend(handles=handles, loc="outside lower center", ncol=ncol,
                            fontsize=8, frameon=False)
        if ncol == 1 or legend.get_window_extent(renderer).width <= 0.96 * fig.bbox.width:
            return
        legend.remove()


def trajectory_figure(family, positions: Tensor, tasks: Tensor, title: str):
    """One panel per task: the path (positions [T + 1, n, 2]) and the task's goals."""
    n = positions.shape[1]
    cols = min(n, 5)
    rows = -(-n // cols)
    fig, axes = layout_figure(3 * cols, 3 * rows + 0.8, rows, cols)
    wrong = False
    for i in range(rows * cols):
        ax = axes[i // cols][i % cols]
        if i >= n:
            ax.axis("off")
            continue
        goals = list(family.plot_goals(int(tasks[i])))
        wrong = wrong or any(kind != "goal" for _, _, kind in goals)
        draw_goals(ax, goals, family)
        path = positions[:, i].numpy()
        ax.plot(path[:, 0], path[:, 1], color=ADAPTED, lw=1.2)
        ax.plot(path[-1, 0], path[-1, 1], "o", color=ADAPTED, ms=4)
        draw_arena(ax, family)
        panel_title(ax, f"task {int(tasks[i])}", fontsize=9, cols=cols)
    trajectory_legend(fig, exploration=False, wrong_goals=wrong)
    suptitle(fig, title, fontsize=10)
    return fig


def render(fig) -> np.ndarray:
    """`fig` drawn once at its own dpi: an RGBA array `[H, W, 4]` (uint8), the pixels
    `save_figure` would write; for a picture that goes both to a PNG and to TensorBoard."""
    renderer_of(fig)  # an Agg canvas, also for a figure already closed
    fig.canvas.draw()
    return np.array(fig.canvas.buffer_rgba())


def save_image(image: np.ndarray, path: Path) -> Path:
    """Write an RGBA array (`render`) as a PNG; a refused write is a `WriteFailed`."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        matplotlib.image.imsave(path, image)
    return path


def save_figure(fig, path: Path) -> Path:
    """Save `fig` as `path` (its folder made as needed); a refused write is a `WriteFailed`."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    return path


def figure_texts(fig) -> list:
    """The texts a reader sees: figure and panel titles, axis labels, legend entries and
    titles, and the tick labels inside each axis' view."""
    renderer_of(fig)
    fig.draw_without_rendering()
    texts = list(fig.texts) + [t for leg in fig.legends for t in (leg.get_title(), *leg.texts)]
    if fig._suptitle is not None:
        texts.append(fig._suptitle)
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison:
            continue
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        legend = ax.get_legend()
        if legend is not None:
            texts += [legend.get_title(), *legend.texts]
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            texts += [tick.label1 for tick in axis.get_major_ticks()
                      if tick.label1.get_visible() and lo <= tick.get_loc() <= hi]
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def text_outside(fig, tolerance: float = 1.0) -> list[str]:
    """The texts of `fig` (`figure_texts`) that reach outside its canvas."""
    renderer = renderer_of(fig)
    box = fig.bbox
    bad = []
    for text in figure_texts(fig):
        ext = text.get_window_extent(renderer)
        if (ext.x0 < box.x0 - tolerance or ext.x1 > box.x1 + tolerance
                or ext.y0 < box.y0 - tolerance or ext.y1 > box.y1 + tolerance):
            bad.append(text.get_text())
    return bad


def overlapping(extents: Sequence) -> bool:
    """Whether any two bounding boxes overlap."""
    return any(a.overlaps(b) for i, a in enumerate(extents) for b in extents[i + 1:])
