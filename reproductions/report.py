"""The markdown report: per figure, the paper's claim, the numbers that test it, a verdict.

Every verdict comes from `Figure.checks` (computed from the measured curves); nothing in a
section is written by hand except the claim, quoted from the spec. `DIR/report.md` is
rebuilt from the per-figure sections in `DIR/report/` in the paper's order, so figures
reproduced one at a time still end up in one report.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from reproductions import calibration
from reproductions.results import Results
from reproductions.verdicts import LEVEL, fmt, holm, overall
from reproductions.spec import Check
from workbench.app.errors import write_text

__all__ = ["section", "write", "overall"]


def _runs_table(results: Results) -> list[str]:
    lines = ["| run | algorithm | task | settings | iterations | s / iteration | final "
             "post-adaptation return | share of the adaptation gap closed |",
             "|---|---|---|---|---|---|---|---|"]
    scored = {run.legend: run.metric for run in results.runs.values() if run.metric}
    for name, run in results.runs.items():
        settings = ", ".join(f"{k}={v}" for k, v in run.sets.items() if k != "iterations")
        its = len(results.iterations[name][results.seeds[0]])
        spi = results.seconds_per_iteration(name)
        lines.append(f"| {run.legend} | {run.algo} | {run.task} | {settings} | {its} | "
                     f"{np.mean(spi):.3g} | {fmt(results.final(name))} | "
                     f"{_gap_share(results, name)} |")
    if scored:
        lines += ["", "Scored by another metric than the deterministic post-adaptation "
                  "return: " + "; ".join(f"{legend}: `{m}`" for legend, m in scored.items()) + "."]
    return lines


def multiplicity(checks: list[Check]) -> str:
    """One line on chance: how many of the figure's comparisons (of means or spreads) would
    show a difference at 2 SE if none existed, and which survive Holm's correction for
    their number."""
    tested = [c for c in checks if c.p is not None]
    if not tested:
        return (f"Multiplicity: none of the {len(checks)} checks is a comparison "
                f"with a p-value, so no correction applies.")
    line = (f"Multiplicity: {len(tested)} of the {len(checks)} checks are comparisons at 2 SE "
            f"(two-sided level {LEVEL:.3f} each); with no true differences about "
            f"{len(tested) * LEVEL:.2f} of them would show one by chance.")
    called = [c for c in tested if c.p < LEVEL]
    kept = dict(zip(map(id, tested), holm([c.p for c in tested])))
    lost = [c.text for c in called if not kept[id(c)]]
    line += (f" Holm-adjusted (family-wise level {LEVEL:.3f}): {len(called) - len(lost)} of "
             f"the {len(called)} differences at 2 SE remain")
    return line + (f"; these do not: {'; '.join(lost)}." if lost else ".")


def _panel_finals(results: Results) -> list[str]:
    """Where panels plot different metrics (Fig. A6: the MSE after 1, 2 and 3 steps): every
    run's final on each panel's metric it is drawn with, a column per panel."""
    panels = [p for p in results.figure.panels
              if any(p.name in r.panels for r in results.runs.values())]
    if len({p.metric for p in panels}) < 2:
        return []
    sign = [-1.0 if p.negate else 1.0 for p in panels]
    lines = ["| run | " + " | ".join(p.title for p in panels) + " |",
             "|---" * (len(panels) + 1) + "|"]
    for name, run in results.runs.items():
        cells = [fmt(s * results.final(name, run.metric or p.metric)) if p.name in run.panels
                 else "" for p, s in zip(panels, sign)]
        lines.append(f"| {run.legend} | " + " | ".join(cells) + " |")
    return ["Final of every run on each panel's metric (as plotted):", "", *lines, ""]


def _gap_share(results: Results, name: str) -> str:
    """`(final - blind) / (oracle - blind)` per seed, against the run's cached calibration
    (docs/calibration), with the bounds; "no calibration" without one."""
    bounds = calibration.run_bounds(results.runs[name])
    if bounds is None:
        return "no calibration"
    blind, oracle = bounds["blind"]["value"], bounds["oracle"]["mean"]
    if oracle - blind <= 1e-9:
        return f"no gap: task-blind {blind:.4g} >= oracle {oracle:.4g}"
    shares = np.array([calibration.gap_share(f, bounds) for f in results.final(name)])
    return f"{fmt(shares)} (task-blind {blind:.4g}, oracle {oracle:.4g})"


def section(results: Results, checks: list[Check], files: list[Path], out: Path,
            panels: list[str] | None = None) -> str:
    fig = results.figure
    n = len(results.seeds)
    scope = f", panels {', '.join(panels)}" if panels else ""
    lines = [f"## {fig.name}: {fig.title}", "",
             f"Scale **{results.scale}**{scope}, {n} seed{'s' if n > 1 else ''} (expected "
             f"wall time at this scale on 2 cores: {fig.scales[results.scale].wall_time}).",
             "",
             f"**Paper's claim.** {fig.claim}", "",
             f"**Verdict: {overall(checks)}.**", "",
             "| check | measured | verdict |", "|---|---|---|"]
    lines += [f"| {c.text} | {c.numbers} | {c.verdict} |" for c in checks]
    lines += ["", "Final = mean of the last 3 test evaluations of each seed; a comparison "
              "holds when the difference of means exceeds 2 standard errors.", "",
              multiplicity(checks), ""]
    pngs = [p for p in files if p.suffix == ".png"]
    for p in pngs:
        lines.append(f"![{p.stem}]({os.path.relpath(p, out)})")
    lines += ["", *_runs_table(results), "", *_panel_finals(results)]
    if fig.notes:
        lines += [f"Notes: {fig.notes}", ""]
    return "\n".join(lines)


def write(out: Path, name: str, text: str, order: list[str]) -> Path:
    """Store the figure's section and rebuild `out/report.md` from all stored sections."""
    sections = out / "report"
    sections.mkdir(parents=True, exist_ok=True)
    write_text(sections / f"{name}.md", text)
    present = [n for n in order if (sections / f"{n}.md").is_file()]
    body = "\n".join((sections / f"{n}.md").read_text() for n in present)
    path = out / "report.md"
    return write_text(path, "# ES-MAML reproduction report\n\n"
                      "Generated by `workbench reproduce`; every verdict is computed from the "
                      "numbers beside it.\n\n" + body)
