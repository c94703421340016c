"""The claim ledger: what the paper says about each figure, and what decides it.

A figure spec lists `claims`: every sentence in which the paper claims something about the
figure, quoted verbatim with its section, each mapped to exactly one check (a function of
the figure's `Results` returning the sub-checks whose `overall` is the claim's one verdict)
or marked as not checked, with the reason. A check that departs from its sentence (a
margin, fewer robots, a local budget) says how (`departs`). A claim that does not hold, or
is inconclusive, names its cause (`Cause`: ours-fixed, budget, paper, seeds or unknown)
with a link to the evidence.

The spec also lists its `records`: the committed per-seed CSVs (under docs/reproductions/)
that decide its claims, each with the runs, seeds, the commit of the training code and the
reason it decides, declared before the deciding run. A claim names the one record that
decides it; other records with data on the same claim appear beneath it as history,
never as a second verdict. `reproductions.rebuild` computes every verdict from the records
alone, with no run directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

#: A cause of a check that does not hold or is inconclusive.
CAUSES = {
    "ours-fixed": "a defect of ours, found and fixed (the verdict is from runs after the fix)",
    "budget": "the local budget: a larger run moves the effect toward the claim",
    "paper": "the paper: the claim does not hold as stated where our runs can test it",
    "seeds": "seed noise: the difference is inside the spread the seeds allow",
    "unknown": "not shown yet; what was tried is in the evidence",
}
#: The verdict of a claim no committed record can decide.
NOT_RUN = "not run at this scale"
#: The verdict of a sentence the ledger does not check.
NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class Cause:
    label: str  # one of CAUSES
    text: str  # what the evidence shows, in a sentence
    evidence: str = ""  # a link (relative to docs/reproductions/) to the note or run

    def __post_init__(self) -> None:
        if self.label not in CAUSES:
            raise ValueError(f"cause label {self.label!r}; valid: {', '.join(CAUSES)}")


@dataclass(frozen=True)
class Record:
    """Committed per-seed CSVs that decide claims (declared before the deciding run)."""

    name: str  # unique within the figure
    csvs: tuple[str, ...]  # paths relative to docs/reproductions/; a later one's runs win
    scale: str
    seeds: str  # e.g. "0-4"
    commit: str  # the commit of the training code the runs were trained on
    reason: str  # why this data decides (or, for history, what it is)
    runs: tuple[str, ...] | None = None  # only these runs of the CSVs
    command: str = ""  # the command that trained it


@dataclass(frozen=True)
class Claim:
    """One sentence of the paper about a figure and its one check."""

    key: str  # unique within the figure
    section: str  # e.g. "4.1", "A.3"
    quote: str  # verbatim, line breaks joined; " [\u2026] " where a caption or page cuts it
    short: str  # the claim in a few words, for the results table
    check: Callable | None = None  # Results -> list[Check]; None: not checked
    record: str = ""  # the Record that decides it
    departs: str = ""  # how the check departs from the sentence, if it does
    unchecked: str = ""  # why the sentence is not checked (check is None)
    cause: Cause | None = None  # why it does not hold or is inconclusive
    history: tuple[str, ...] = ()  # other Records with data on this claim (no verdict)

    def __post_init__(self) -> None:
        if self.check is None and not self.unchecked:
            raise ValueError(f"claim {self.key!r}: an unchecked sentence needs its reason")
        if self.check is not None and not self.record:
            raise ValueError(f"claim {self.key!r}: a checked claim names its deciding record")


def checks_of(claims: tuple[Claim, ...]) -> Callable:
    """A figure's `checks` function: every claim's checks, in the ledger's order."""
    def checks(results) -> list:
        return [c for claim in claims if claim.check is not None
                for c in claim.check(results)]
    return checks


def validate(figure) -> None:
    """Keys unique, records named and present, history records present."""
    keys = [c.key for c in figure.claims]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(f"{figure.name}: claim keys repeat: {', '.join(dupes)}")
    names = {r.name for r in figure.records}
    for claim in figure.claims:
        for name in filter(None, (claim.record, *claim.history)):
            if name not in names:
                raise ValueError(f"{figure.name}: claim {claim.key!r} names record {name!r}; "
                                 f"records: {', '.join(sorted(names)) or 'none'}")


__all__ = ["CAUSES", "NOT_RUN", "NOT_CHECKED", "Cause", "Record", "Claim", "checks_of",
           "validate"]
