"""What a figure spec is: the runs behind a paper figure, its panels, and its claim.

A `Figure` names its runs at each scale (`smoke`: the whole figure in about a minute, for
tests; `local`: the budget that settles the figure's claims on a 2-core machine, chosen
from measured per-iteration costs and pilot variances, about 2 hours with `--jobs 2` for
the point-mass and sine figures and about 6 for the MuJoCo ones; `paper`: the paper's
budget, or the largest this machine runs in a stated time), the panels of
the paper's layout, and `checks`: a function of the measured results that tests the
paper's claim and returns computed verdicts. Specs live in `reproductions/specs/`, one
file per figure, registered under the entry-point group `workbench.figures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from workbench.metrics import TEST_POST, TEST_PRE

POST, PRE = TEST_POST, TEST_PRE
SCALES = ("smoke", "local", "paper")


@dataclass(frozen=True)
class Run:
    """One curve: an algorithm on a task with its config; trained once per seed."""

    name: str  # unique within the figure; the run directory is runs/<name>/seed<k>
    algo: str
    task: str
    sets: dict[str, Any] = field(default_factory=dict)  # config keys, dotted for task.*
    label: str = ""  # legend text (default: name)
    panels: tuple[str, ...] = ()  # the panels this curve is drawn in
    #: The metric this run is drawn and scored by, where it is not its panel's (a PG run
    #: scored by the stochastic policy it executes: `TEST_POST_STOCHASTIC`).
    metric: str | None = None

    @property
    def legend(self) -> str:
        return self.label or self.name

    def set_list(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.sets.items()]


@dataclass(frozen=True)
class Panel:
    name: str
    title: str
    ylabel: str = "post-adaptation test return"
    metric: str = POST
    negate: bool = False  # plot -metric (the sine task's return is -MSE)
    log_y: bool = False
    #: The range the plotted value can take (None: unbounded on that side); std bands are
    #: clipped to it. None: the task family's `return_range` when the panel plots a return
    #: (not negated) and all its runs share one family.
    y_range: tuple[float | None, float | None] | None = None
    #: Plot each evaluation's clipped mean instead (every test adaptation's return floored
    #: here, `results.clipped_mean`): for returns where one catastrophe hides the rest.
    floor: float | None = None
    #: Published values drawn as labelled horizontal lines, `(value, label)` in the plotted
    #: units (Fig. A6: MAML's reported MSE).
    references: tuple[tuple[float, str], ...] = ()


@dataclass(frozen=True)
class Scale:
    runs: tuple[Run, ...]
    seeds: int
    wall_time: str  # expected wall time on 2 cores, as measured or estimated (say which)

    def summary(self) -> str:
        """One line for a figure's page: the wall time, runs and seeds."""
        n = len(self.runs)
        return (f"{self.wall_time}; {n} run{'s' if n > 1 else ''} x {self.seeds} "
                f"seed{'s' if self.seeds > 1 else ''}")


@dataclass
class Check:
    """One computed test of (part of) a claim."""

    text: str  # what is tested, in words
    verdict: str  # one of VERDICTS
    numbers: str  # the measured numbers the verdict came from
    #: Two-sided p-value of "no difference" for a comparison of means (normal approximation
    #: of d / SE, the 2-SE rule's own); None for checks that are not such a comparison. The
    #: report's multiplicity line reads it.
    p: float | None = None


HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive at this scale"
#: The fourth verdict: a claimed difference is absent, no larger than a declared `Margin`.
EQUIVALENT = "equivalent within the margin"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, EQUIVALENT)


@dataclass(frozen=True)
class Margin:
    """A margin of practical equivalence for a comparison, declared in the spec before the
    runs it judges: differences smaller than `value` (in the compared units) do not matter,
    for the stated `reason` (e.g. a share of the task-blind-to-oracle gap)."""

    value: float
    reason: str

    def __post_init__(self) -> None:
        if not self.value > 0:
            raise ValueError(f"an equivalence margin must be > 0; got {self.value}")


@dataclass
class Figure:
    name: str
    title: str
    claim: str  # the paper's claim, one sentence
    panels: tuple[Panel, ...]
    scales: dict[str, Scale]
    #: Results -> computed checks; by default every claim's checks, in the ledger's order
    #: (`reproductions.ledger.checks_of`). Studies, which have no ledger, give their own.
    checks: Callable[["Results"], list[Check]] | None = None  # noqa: F821 (results)
    #: Extra pictures (trajectories) drawn from the finished runs: (results, out dir) -> PNGs.
    pictures: Callable[["Results", Path], list[Path]] | None = None  # noqa: F821
    x_label: str = "iterations"  # the paper's x-axis: "iterations" or "rollouts"
    notes: str = ""  # deviations from the paper, said once in the report
    #: The claim ledger (`reproductions.ledger`): every sentence of the paper about this
    #: figure, each with its one check or the reason it is not checked.
    claims: tuple = ()
    #: The committed CSVs that decide the claims (`reproductions.ledger.Record`).
    records: tuple = ()
    #: The paper's figure this spec reproduces, as the paper names it ("Figure 1").
    paper: str = ""

    def __post_init__(self) -> None:
        if self.checks is None:
            from reproductions.ledger import checks_of
            self.checks = checks_of(self.claims)

    def record(self, name: str):
        for r in self.records:
            if r.name == name:
                return r
        raise ValueError(f"figure {self.name} has no record {name!r}")

    def scale(self, name: str) -> Scale:
        if name not in self.scales:
            raise ValueError(f"figure {self.name} has no scale {name!r}; valid: "
                             f"{', '.join(self.scales)}")
        return self.scales[name]
