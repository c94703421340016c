"""Learning curves over seeds: `curves` turns per-seed metric lines into mean +- std on a
common grid; every learning curve (compare's and the reproductions') is computed by it."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from workbench import metrics as m


def curves(per_seed: Sequence[Sequence[Mapping[str, Any]]], axis: str,
           metric: str = m.TEST_POST) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard deviation over seeds of `metric` against `axis` (see
    `workbench.metrics.AXES`), from each seed's metrics lines.

    Lines without the metric are skipped. The grid is every x at which some seed has a
    value, within the range all seeds cover; each seed is linearly interpolated onto it
    (when seeds share their x values, as iterations and rollouts do, nothing is
    interpolated). On the wall-clock axis the grid runs to the slowest seed's end and a seed
    that finished sooner holds its final value (its run is done; seeds of one run can take
    very different times on a shared machine). Returns (x, mean, std)."""
    series = []
    for rows in per_seed:
        pts = sorted((m.axis_value(r, axis), float(r[metric])) for r in rows if metric in r)
        if pts:
            series.append(np.array(pts, dtype=float))
    if not series:
        raise ValueError(f"no seed has a value of {metric!r}")
    lo = max(s[0, 0] for s in series)
    ends = [s[-1, 0] for s in series]
    hi = max(ends) if axis == "wall_time" else min(ends)
    xs = np.concatenate([s[:, 0] for s in series])
    grid = np.unique(xs[(xs >= lo) & (xs <= hi)])
    if grid.size == 0:  # the seeds' ranges do not overlap
        grid = np.array([hi])
    ys = np.stack([np.interp(grid, s[:, 0], s[:, 1]) for s in series])
    return grid, ys.mean(0), ys.std(0)
