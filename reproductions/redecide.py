"""Decide a figure's checks again from its committed CSV, without its run directories.

`python -m reproductions.redecide FIGURE CSV [CSV ...] [--scale local]` prints the check table, the
figure's verdict and the multiplicity line, as the report would with the current verdict
rules (`Results.from_csv`). Checks that read every test adaptation (clipped means, path
straightness) need the run directories and fail here with their own error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reproductions import runner
from reproductions.report import multiplicity
from reproductions.results import Results
from reproductions.verdicts import overall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("figure", choices=runner.order())
    ap.add_argument("csv", type=Path, nargs="+",
                    help="the figure's CSVs; a run in a later one replaces an earlier one's")
    ap.add_argument("--scale", default="local", choices=("smoke", "local", "paper"))
    args = ap.parse_args(argv)
    figure = runner.load_figure(args.figure)
    try:
        checks = figure.checks(Results.from_csv(figure, args.scale, *args.csv))
    except KeyError as err:
        ap.exit(2, f"redecide: error: {args.figure}'s checks need {err}, which the CSV "
                   f"does not hold (a column it lacks, or the run directories' saved test "
                   f"adaptations)\n")
    except (ValueError, OSError) as err:
        ap.exit(2, f"redecide: error: {err}\n")
    print("| check | measured | verdict |\n|---|---|---|")
    for c in checks:
        print(f"| {c.text} | {c.numbers} | {c.verdict} |")
    print(f"\nVerdict: {overall(checks)}.\n\n{multiplicity(checks)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
