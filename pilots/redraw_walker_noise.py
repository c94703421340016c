"""Redraw the walker_noise study's pictures from its committed CSV (no run directories):
`python -m pilots.redraw_walker_noise` from the repository root writes
docs/studies/walker_noise/walker_noise{,_rollouts,_wall_time}.png."""

from __future__ import annotations

from pathlib import Path

from pilots.walker_noise import FIGURE
from reproductions import plots
from reproductions.results import Results

FOLDER = Path(__file__).resolve().parents[1] / "docs" / "studies" / "walker_noise"


def main() -> None:
    results = Results.from_csv(FIGURE, "local", FOLDER / "walker_noise.csv")
    for path in plots.curves(results, FOLDER / "walker_noise.png"):
        print(path)


if __name__ == "__main__":
    main()
