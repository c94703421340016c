"""The statistics and verdict rules of the figure checks: each turns per-seed arrays (from
`reproductions.results.Results`) into a `Check` whose numbers say why, so every verdict in a
report is computed from the numbers it prints. Each rule is tested on constructed data in
tests/test_statistics.py.
"""

from __future__ import annotations

import math

import numpy as np

from reproductions.spec import EQUIVALENT, FAILS, HOLDS, INCONCLUSIVE, Check, Margin

#: Test evaluations averaged into a run's "final" value (smooths one noisy evaluation).
LAST = 3
#: A difference counts when it exceeds this many standard errors of the difference.
Z = 2.0


# -- statistics of single adaptations and curves -------------------------------------------
def clipped_mean(values: np.ndarray, floor: float) -> float:
    """Mean of `values` floored at `floor`. On tasks where one catastrophic adaptation
    (a wrong-goal zone: -10^2 to -10^4 per step) outweighs hundreds of ordinary ones, this
    asks how well the typical adaptation does, counting a catastrophe as no better than
    staying put."""
    return float(np.maximum(np.asarray(values, dtype=float), floor).mean())


def path_straightness(paths: np.ndarray) -> np.ndarray:
    """Net displacement over path length of each path `[T + 1, n, 2]` -> `[n]`: 1 for a
    straight, directed path; near 0 for jitter that goes nowhere. A path that never moves
    counts as 0."""
    paths = np.asarray(paths, dtype=float)
    steps = np.linalg.norm(np.diff(paths, axis=0), axis=-1).sum(0)
    net = np.linalg.norm(paths[-1] - paths[0], axis=-1)
    return np.where(steps > 0, net / np.where(steps > 0, steps, 1.0), 0.0)


def max_drawdown(values: np.ndarray) -> float:
    """The largest fall of a learning curve below its best value so far (0 when it never
    falls): how badly a run lost what it had learned."""
    values = np.asarray(values, dtype=float)
    return float((np.maximum.accumulate(values) - values).max())


def slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y on x."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(np.polyfit(x, y, 1)[0])


# -- verdict rules ---------------------------------------------------------------------
def seeds_needed(d: float, se: float, seeds: int) -> str:
    """For an inconclusive difference: about how many seeds per run would put a difference
    of this size at Z standard errors (the SE shrinks as 1 / sqrt(seeds))."""
    if d == 0 or math.isnan(se):
        return "no difference measured: more seeds will not settle it at this budget"
    need = math.ceil(seeds * (Z * se / abs(d)) ** 2)
    return f"a difference this size needs ~{need} seeds per run to settle"
def fmt(values: np.ndarray) -> str:
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.4g} (1 seed)"
    return f"{values.mean():.4g} +- {values.std(ddof=1):.3g} ({len(values)} seeds)"


def _diff(a: np.ndarray, b: np.ndarray, paired: bool = False) -> tuple[float, float]:
    """Mean difference a - b and its standard error (nan with fewer than 2 seeds each).
    `paired`: a[i] and b[i] share seed i (its initial policy and its task and noise
    streams), so the SE is that of the per-seed differences, which a shared seed effect
    does not inflate."""
    d = float(np.mean(a) - np.mean(b))
    if len(a) < 2 or len(b) < 2:
        return d, math.nan
    if paired:
        if len(a) != len(b):
            raise ValueError(f"a paired comparison needs one value per seed on both sides; "
                             f"got {len(a)} and {len(b)}")
        return d, float(np.std(np.asarray(a) - np.asarray(b), ddof=1) / math.sqrt(len(a)))
    return d, math.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))


def p_value(d: float, se: float) -> float | None:
    """Two-sided p-value of d / SE under the normal approximation (None without an SE);
    the 2-SE rule calls a difference at p < 0.0455."""
    if math.isnan(se) or se == 0:
        return None
    return math.erfc(abs(d) / se / math.sqrt(2))


#: The 2-SE rule's two-sided level: P(|N(0, 1)| > Z).
LEVEL = math.erfc(Z / math.sqrt(2))


def holm(pvalues: list[float], level: float = LEVEL) -> list[bool]:
    """Holm's step-down procedure: which of the hypotheses (in the given order) are rejected
    at family-wise error `level`."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    rejected = [False] * len(pvalues)
    for rank, i in enumerate(order):
        if pvalues[i] > level / (len(pvalues) - rank):
            break
        rejected[i] = True
    return rejected


def seeds_for_equivalence(d: float, se: float, seeds: int, margin: float) -> str:
    """For an inconclusive comparison with a margin: about how many seeds per run would put
    the whole interval d +- Z SE inside +-margin, if the difference stayed at `d`."""
    if abs(d) >= margin:
        return "the measured difference is already at or beyond the margin"
    need = math.ceil(seeds * (Z * se / (margin - abs(d))) ** 2)
    return f"~{need} seeds per run would show equivalence if the difference stays at {d:.3g}"


def greater(text: str, a: np.ndarray, b: np.ndarray, name_a: str, name_b: str,
            margin: Margin | None = None, paired: bool = False) -> Check:
    """Claim `a > b`: holds if the mean difference exceeds Z standard errors, does not
    hold if it is below -Z standard errors, inconclusive otherwise (or with one seed).

    With a `margin` (declared before the runs) a fourth answer is possible: EQUIVALENT when
    the whole interval d +- Z SE lies inside +-margin, i.e. both one-sided tests at Z SE
    (TOST) reject a difference as large as the margin. A significant difference smaller
    than the margin still holds (or does not); its size is in the numbers.

    `paired` (declared in the spec, for two runs that share their seeds): the SE is that of
    the per-seed differences (`_diff`), so what every run of a seed has in common (its
    initial policy, its tasks) cancels."""
    d, se = _diff(a, b, paired)
    numbers = (f"{name_a} {fmt(a)} vs {name_b} {fmt(b)}; difference {d:.4g}"
               + (" (paired by seed)" if paired else ""))
    if math.isnan(se):
        return Check(text, INCONCLUSIVE, numbers + " (one seed: no spread to judge by)")
    numbers += f", {Z:g} SE = {Z * se:.3g}"
    if margin is not None:
        numbers += f"; margin {margin.value:.4g} ({margin.reason})"
    p = p_value(d, se)
    if d > Z * se:
        return Check(text, HOLDS, numbers, p)
    if d < -Z * se:
        return Check(text, FAILS, numbers, p)
    n = min(len(a), len(b))
    if margin is not None and abs(d) + Z * se < margin.value:
        return Check(text, EQUIVALENT, f"{numbers}; interval [{d - Z * se:.3g}, "
                                       f"{d + Z * se:.3g}] inside +-{margin.value:.4g}", p)
    tail = seeds_needed(d, se, n)
    if margin is not None:
        tail += f"; {seeds_for_equivalence(d, se, n, margin.value)}"
    return Check(text, INCONCLUSIVE, f"{numbers}; {tail}", p)


def reached(text: str, its: np.ndarray, curves: np.ndarray, target: float, name: str,
            log: bool = True) -> Check:
    """Claim: a falling curve (an MSE, per seed `[seeds, E]` over iterations `its`) gets to
    `target`. Holds when every seed's final value (mean of the last LAST evaluations) is
    at or below it. Otherwise, if the curves are still falling over their last half
    (slope of log10 value per 1,000 iterations, mean over seeds, below zero by more than
    Z SE) the target is *not reached at this budget* (inconclusive, with the iterations a
    straight-line extrapolation would need); if they are flat or rising, it does not
    hold."""
    its, curves = np.asarray(its, dtype=float), np.asarray(curves, dtype=float)
    final = curves[:, -LAST:].mean(1)
    numbers = f"{name} {fmt(final)}; target {target:.4g}"
    if (final <= target).all():
        return Check(text, HOLDS, numbers)
    half = its >= its[-1] / 2
    ys = np.log10(curves[:, half]) if log else curves[:, half]
    slopes = np.array([slope(its[half] / 1000, y) for y in ys])
    se = slopes.std(ddof=1) / math.sqrt(len(slopes)) if len(slopes) > 1 else math.nan
    unit = "log10 units" if log else "units"
    numbers += (f"; slope over the last half {slopes.mean():.3g} {unit} per 1,000 "
                f"iterations" + ("" if math.isnan(se) else f" (SE {se:.2g})"))
    if final.mean() > target and slopes.mean() < 0 and (math.isnan(se) or
                                                        slopes.mean() < -Z * se):
        gap = (math.log10(final.mean()) - math.log10(target)) if log else final.mean() - target
        more = gap / -slopes.mean() * 1000
        return Check(text, INCONCLUSIVE, f"{numbers}: not reached at this budget; on this "
                                         f"slope ~{more:,.0f} more iterations")
    if final.mean() > target:
        return Check(text, FAILS, numbers + ": not falling any more")
    return Check(text, INCONCLUSIVE, numbers)


def wider_spread(text: str, pairs: list[tuple[str, np.ndarray, np.ndarray]], name_a: str,
                 name_b: str) -> Check:
    """Claim: `a`'s values spread wider over seeds than `b`'s, across several panels (one
    `(panel, a_values, b_values)` per pair of runs).

    The test is on the spread itself: per panel the log ratio of the sample variances,
    corrected for its small-sample bias (E log s^2 = log sigma^2 + digamma((n - 1) / 2) -
    log((n - 1) / 2) for normal values), summed over panels. For normal values each log
    s^2 has variance trigamma((n - 1) / 2), so the sum has a known SE and the 2-SE rule
    applies to it as to a difference of means: holds above +2 SE, does not hold below -2 SE,
    inconclusive between. The numbers give the geometric-mean std ratio a / b and each
    panel's stds. Heavy tails make sample variances noisier than normal theory says; the
    constructed-data tests measure the false-positive rate on normal values."""
    from scipy.special import digamma, polygamma

    def bias(n: int) -> float:
        return float(digamma((n - 1) / 2) - math.log((n - 1) / 2))

    if not pairs or any(min(len(a), len(b)) < 2 for _, a, b in pairs):
        return Check(text, INCONCLUSIVE, "fewer than 2 seeds in a run: no spread to judge by")
    total, var, shown = 0.0, 0.0, []
    for panel, a, b in pairs:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        total += (math.log(np.var(a, ddof=1)) - bias(len(a))) - \
                 (math.log(np.var(b, ddof=1)) - bias(len(b)))
        var += float(polygamma(1, (len(a) - 1) / 2) + polygamma(1, (len(b) - 1) / 2))
        shown.append(f"{panel} {np.std(a, ddof=1):.3g} / {np.std(b, ddof=1):.3g}")
    se = math.sqrt(var)
    ratio = math.exp(total / len(pairs) / 2)
    numbers = (f"std {name_a} / {name_b}: geometric mean {ratio:.3g} over {len(pairs)} "
               f"panel{'s' if len(pairs) > 1 else ''} ({'; '.join(shown)}); summed log variance ratio {total:.3g}, "
               f"{Z:g} SE = {Z * se:.3g}")
    verdict = HOLDS if total > Z * se else FAILS if total < -Z * se else INCONCLUSIVE
    return Check(text, verdict, numbers, p_value(total, se))


def not_worse(text: str, a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> Check:
    """Claim `a >= b` ("similar or better"): does not hold only if `a` is below `b` by more
    than Z standard errors; holds otherwise (inconclusive with one seed)."""
    d, se = _diff(a, b)
    numbers = f"{name_a} {fmt(a)} vs {name_b} {fmt(b)}; difference {d:.4g}"
    if math.isnan(se):
        return Check(text, INCONCLUSIVE, numbers + " (one seed: no spread to judge by)")
    numbers += f", {Z:g} SE = {Z * se:.3g}"
    return Check(text, FAILS if d < -Z * se else HOLDS, numbers, p_value(d, se))


def at_least(text: str, values: np.ndarray, threshold: float, name: str,
             every_seed: bool = True) -> Check:
    """Claim `values >= threshold`: on every seed (or on the mean); a mean below the
    threshold does not hold; some seeds above, some below: inconclusive."""
    values = np.asarray(values, dtype=float)
    numbers = f"{name} {fmt(values)}; threshold {threshold:.4g}"
    ok = bool((values >= threshold).all()) if every_seed else bool(values.mean() >= threshold)
    if ok:
        return Check(text, HOLDS, numbers)
    if values.mean() < threshold:
        return Check(text, FAILS, numbers)
    return Check(text, INCONCLUSIVE, numbers)


def at_most(text: str, values: np.ndarray, threshold: float, name: str) -> Check:
    c = at_least(text, -np.asarray(values, dtype=float), -threshold, name)
    c.numbers = f"{name} {fmt(values)}; threshold {threshold:.4g}"
    return c


def overall(checks: list[Check]) -> str:
    """The figure's verdict: does not hold if any check fails or finds a claimed difference
    absent (EQUIVALENT: no difference beyond the margin), holds if all hold."""
    verdicts = [c.verdict for c in checks]
    if FAILS in verdicts or EQUIVALENT in verdicts:
        return FAILS
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    return INCONCLUSIVE


__all__ = ["greater", "not_worse", "wider_spread", "at_least", "at_most",
           "reached", "overall", "fmt", "clipped_mean", "path_straightness", "max_drawdown",
           "slope", "seeds_needed", "seeds_for_equivalence", "p_value", "holm", "LEVEL",
           "LAST", "Z", "EQUIVALENT"]
