"""The layout properties every figure of the project must have, measured on the matplotlib
Figure (texts inside the canvas, distinct panel labels, integer iteration ticks, labelled
arenas with a legend): `check_layout` raises AssertionError naming the picture and the fault.
Used by tests/test_figures.py and by the session's smoke reproduction (tests/conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from reproductions.plots import BOUND_LABELS
from workbench.app import plotting

LABEL = re.compile(r"^\(([a-z]\d*)\)")


def is_curve_figure(fig) -> bool:
    return any(ax.get_legend() is not None and "seed" in ax.get_legend().get_title().get_text()
               for ax in fig.axes)


def visible_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.get_visible() and ax.axison]


def _inside(axis, loc: float) -> bool:
    lo, hi = sorted(axis.get_view_interval())
    return lo <= loc <= hi


def check_layout(fig, path: Path) -> None:
    """The properties every figure of the project must have."""
    where = path.name
    assert plotting.text_outside(fig) == [], f"{where}: text outside the canvas"
    renderer = plotting.renderer_of(fig)
    axes = visible_axes(fig)
    titles = [ax.title for ax in axes if ax.title.get_text()]
    assert not plotting.overlapping([t.get_window_extent(renderer) for t in titles]), \
        f"{where}: panel titles overlap"
    if fig._suptitle is not None:
        top = fig._suptitle.get_window_extent(renderer)
        assert not plotting.overlapping([top, *[t.get_window_extent(renderer) for t in titles]]), \
            f"{where}: the figure title overlaps a panel title"
    for ax in axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t.label1 for t in axis.get_major_ticks()
                      if t.label1.get_visible() and t.label1.get_text()
                      and _inside(axis, t.get_loc())]
            assert not plotting.overlapping([t.get_window_extent(renderer) for t in labels]), \
                f"{where}: tick labels collide on an axis of '{ax.get_title()}'"
        if ax.get_xlabel() == "iterations":
            lo, hi = sorted(ax.get_xlim())
            ticks = [t for t in ax.xaxis.get_major_ticks() if lo <= t.get_loc() <= hi]
            assert ticks and all(float(t.get_loc()).is_integer() for t in ticks), \
                f"{where}: non-integer iteration ticks"
    if is_curve_figure(fig):
        labels = [LABEL.match(t.get_text()) for t in titles]
        assert all(labels), f"{where}: a panel without a (letter) label"
        letters = [m.group(1) for m in labels]
        assert len(set(letters)) == len(letters), f"{where}: repeated panel labels {letters}"
        for ax in axes:
            legend = ax.get_legend()
            assert legend is not None, f"{where}: a panel without a legend"
            assert re.search(r"\d+ seeds?", legend.get_title().get_text())
            # every curve names its K; the calibration bounds (`plots.draw_bounds`) are K-free
            assert all("K=" in t.get_text() for t in legend.texts
                       if not t.get_text().startswith(BOUND_LABELS)), \
                f"{where}: a legend entry does not name K"
    else:  # a 2-D trajectory picture
        assert fig.legends, f"{where}: no legend"
        for ax in axes:
            assert ax.get_xlabel() and ax.get_ylabel(), f"{where}: unlabelled axes"
            (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
            for line in ax.get_lines():
                xy = np.asarray(line.get_xydata())
                assert ((xy[:, 0] >= x0) & (xy[:, 0] <= x1)
                        & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)).all(), \
                    f"{where}: a path leaves the view"
