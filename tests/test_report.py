"""The results in docs/reproductions are what the committed CSVs give: `workbench report`
rebuilds every verdict, figure page, curve picture and the results table from them alone,
and the committed files must equal the rebuild. Also: every quote of the ledger is the
paper's own text, and no claim carries two verdicts anywhere in the user docs."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest

from reproductions import plots, rebuild
from reproductions.ledger import NOT_CHECKED, NOT_RUN
from reproductions.runner import load_figure, order
from reproductions.spec import VERDICTS
from workbench.app.cli import main

from tests.layout import check_layout

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / rebuild.DOCS
PAPER = ROOT.parent / "shared" / "paper" / "es-maml-iclr2020.txt"
FIGURES = [load_figure(n) for n in order()]


def test_the_committed_results_are_what_the_csvs_give(monkeypatch):
    faults, save = [], plots.save_figure

    def checked(fig, path):  # every rebuilt picture passes the layout checks too (after
        saved = save(fig, path)  # saving: measuring extents may lay the figure out again)
        try:
            check_layout(fig, Path(path))
        except AssertionError as err:
            faults.append(str(err))
        return saved

    monkeypatch.setattr(plots, "save_figure", checked)
    files = rebuild.rebuild(FIGURES, DOCS, DOCS)
    assert rebuild.differences(files, [DOCS / rebuild.PICTURES]) == [], \
        "docs/reproductions differs from its CSVs: run `workbench report`"
    assert faults == []


def test_a_changed_csv_row_changes_the_results(tmp_path, capsys):
    copy = Path(shutil.copytree(DOCS, tmp_path / "docs"))
    assert main(["report", "--docs", str(copy), "--check"]) == 0
    path = copy / "fig1.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    last = max(i for i, r in enumerate(rows) if r["run"] == "mc-K20" and r["seed"] == "0")
    rows[last]["test/post_adaptation_return"] = "-100.0"  # one evaluation of one seed
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    capsys.readouterr()
    assert main(["report", "--docs", str(copy), "--check"]) == 1
    out = capsys.readouterr().out
    assert f"{copy / 'fig1.md'}: differs" in out and f"{copy / 'README.md'}: differs" in out
    assert "fig1-local.png: differs" in out


def _table(text: str, header: str) -> list[list[str]]:
    """The rows of the markdown table that starts with `header`, as cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_no_claim_carries_two_verdicts():
    readme = (DOCS / "README.md").read_text()
    table = _table(readme, "| figure | claim |")
    verdicts = (*VERDICTS, NOT_RUN, NOT_CHECKED)
    seen = {}
    for figure in FIGURES:
        page = (DOCS / f"{figure.name}.md").read_text()
        if not figure.claims:
            assert "The paper states no result for this figure" in page
            continue
        claims = _table(page, "| claim | section |")
        keys = [row[0] for row in claims]
        assert len(keys) == len(set(keys)) == len(figure.claims), figure.name
        for row in claims:
            assert row[-1] in verdicts, row
            seen[(figure.paper, row[0])] = row[-1]
    rows = [(re.match(r"\[(.+?)\]", r[0]).group(1), r[1], r[3]) for r in table]
    assert len(rows) == len(seen)
    for (paper, key), verdict in seen.items():
        short = next(c.short for f in FIGURES if f.paper == paper for c in f.claims
                     if c.key == key)
        assert [(p, s) for p, s, _ in rows].count((paper, short)) == 1, (paper, key)
        assert (paper, short, verdict) in rows, (paper, key, verdict)
    # the other user docs state no verdict of their own
    for doc in sorted((ROOT / "docs").glob("*.md")):
        found = [v for v in ("does not hold", "inconclusive at this scale",
                             "equivalent within the margin") if v in doc.read_text()]
        assert not found, f"{doc.name} states a verdict ({found}); verdicts live in " \
                          f"docs/reproductions"


def _plain(text: str) -> str:
    """Line breaks joined (a hyphen at a line end dropped), whitespace collapsed."""
    text = re.sub(r"-\n\s*", "-", text)
    return " ".join(text.split())


@pytest.mark.skipif(not PAPER.is_file(), reason="the paper's text is not beside the "
                                                "checkout (../shared/paper)")
def test_every_quote_is_the_papers_own_text():
    paper = _plain(PAPER.read_text())
    loose = paper.replace("- ", "-").replace("-", "")
    missing = []
    for figure in FIGURES:
        for claim in figure.claims:
            at = 0  # the parts of a sentence a caption or page break cuts, in order
            for part in _plain(claim.quote).split(" [\u2026] "):
                found = paper.find(part, at)
                if found < 0:
                    found = loose.find(part.replace("-", ""))
                if found < 0:
                    missing.append(f"{figure.name}.{claim.key}: {part[:60]}")
                    break
                at = found


def test_every_ledger_is_complete():
    for figure in FIGURES:
        assert figure.paper, figure.name
        for claim in figure.claims:
            assert claim.quote and claim.section and claim.short, (figure.name, claim.key)
            if claim.check is not None:
                figure.record(claim.record)  # the deciding record exists
