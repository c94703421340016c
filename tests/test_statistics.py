"""The figure checks' statistics beyond the 2-SE rule for means, each on constructed data
whose answer is known: clipped means, path straightness, drawdown, "not reached at this
budget", seeds needed, and the per-adaptation records they read."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from reproductions import paths
from reproductions.results import Results
from reproductions.verdicts import (LAST, clipped_mean, greater, max_drawdown,
                                    path_straightness, reached, seeds_needed)
from reproductions.spec import FAILS, HOLDS, INCONCLUSIVE, Run
from workbench.app.cli import main
from workbench.metrics import TEST_POST, TEST_PRE


def test_clipped_mean_floors_catastrophes_at_the_stay_put_value():
    # 599 ordinary adaptations and one that entered a wrong zone (-10^6)
    values = np.r_[np.full(599, -300.0), -1e6]
    assert values.mean() < -1900  # the plain mean is dominated by the one catastrophe
    assert clipped_mean(values, -400.0) == pytest.approx((599 * -300.0 - 400.0) / 600)
    assert clipped_mean(np.array([-10.0, -20.0]), -400.0) == -15.0  # nothing to clip


def test_path_straightness_is_net_displacement_over_path_length():
    t = np.linspace(0, 1, 11)
    straight = np.stack([t, 2 * t], -1)  # [T + 1, 2]
    corner = np.r_[np.stack([t, 0 * t], -1), np.stack([np.ones(10), t[1:]], -1)]
    jitter = np.stack([0.1 * (np.arange(11) % 2) + 0.01 * np.arange(11), np.zeros(11)], -1)
    still = np.zeros((11, 2))
    got = path_straightness(np.stack([straight, corner[:11], jitter, still], 1))
    assert got[0] == pytest.approx(1.0)
    assert got[1] == pytest.approx(1.0)  # the first 11 points of `corner` are straight
    assert got[2] == pytest.approx(0.1 / 1.0)  # back and forth: net 0.1 over 5 * 0.11 + 5 * 0.09
    assert got[3] == 0.0
    full = path_straightness(corner[:, None, :])[0]  # 1 along x, then 1 along y
    assert full == pytest.approx(math.sqrt(2) / 2)


def test_max_drawdown_is_the_largest_fall_below_the_best_so_far():
    assert max_drawdown(np.array([1.0, 3.0, 2.0, 5.0, 1.0, 4.0])) == 4.0
    assert max_drawdown(np.arange(5.0)) == 0.0


def test_seeds_needed_scales_with_the_squared_ratio_of_two_se_to_the_difference():
    assert "~20 seeds" in seeds_needed(1.0, 1.0, 5)  # 5 * (2 * 1 / 1)^2
    assert "~5 seeds" in seeds_needed(2.0, 1.0, 5)  # already exactly at 2 SE
    assert "will not settle" in seeds_needed(0.0, 1.0, 5)
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.5, 2.5])  # d 0.5, SE 0.816
    c = greater("a > b", a, b, "a", "b")
    assert c.verdict == INCONCLUSIVE and "~32 seeds" in c.numbers  # 3 * (1.633/0.5)^2


def test_reached_tells_not_reached_at_this_budget_from_does_not_hold():
    its = np.arange(0, 50001, 1000.0)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, (5, len(its)))
    # below the target on every seed: holds
    assert reached("x", its, np.full((5, len(its)), 0.4) * 10 ** noise, 0.6,
                   "mse").verdict == HOLDS
    # still falling, a decade per 50,000 iterations, at 2.0 after 50,000: not reached
    falling = 20.0 * 10 ** (-its / 50000) * 10 ** noise
    c = reached("x", its, falling, 0.6, "mse")
    assert c.verdict == INCONCLUSIVE and "not reached at this budget" in c.numbers
    # log10(2 / 0.6) / (1 / 50000) = 26,144 more iterations, up to the noise
    more = float(c.numbers.rsplit("~", 1)[1].split()[0].replace(",", ""))
    assert 24000 < more < 28500
    # flat at 2: does not hold
    flat = 2.0 * 10 ** noise
    c = reached("x", its, flat, 0.6, "mse")
    assert c.verdict == FAILS and "not falling" in c.numbers
    # falling within the noise only: does not hold either (the slope must exceed 2 SE)
    assert reached("x", its, flat * 10 ** (-its / 5e7), 0.6, "mse").verdict == FAILS


def _fake_results(tmp_path, files: list[dict]) -> Results:
    run = Run("r", "es-maml", "four-corners")
    d = tmp_path / "r" / "seed0"
    (d / "evaluations").mkdir(parents=True)
    for i, arrays in enumerate(files):
        np.savez(d / "evaluations" / f"iter_{10 * i:06d}.npz", **arrays)
    rows = [{"iteration": 10 * i, TEST_POST: float(f["post"].mean()),
             TEST_PRE: float(f["pre"].mean())} for i, f in enumerate(files)]
    return Results(None, "local", {"r": run}, {("r", 0): d}, {"r": {0: rows}}, {"r": {0: rows}})


def test_adaptations_read_the_last_evaluations_and_the_first(tmp_path):
    files = [{"tasks": np.array([i, i]), "pre": np.zeros(2), "post": np.array([-1e5, -10.0 * i]),
              "positions": np.full((3, 2, 2), float(i))} for i in range(5)]
    r = _fake_results(tmp_path, files)
    last = r.adaptations("r", 0)
    assert list(last["tasks"]) == [2, 2, 3, 3, 4, 4] and LAST == 3
    assert last["positions"].shape == (3, 6, 2)
    assert list(r.adaptations("r", 0, first=True)["tasks"]) == [0, 0]
    # clipped at -400: (-400 - 20 - 400 - 30 - 400 - 40) / 6
    assert r.clipped("r", -400.0)[0] == pytest.approx(-1290 / 6)
    assert r.clipped("r", -400.0, first=True)[0] == pytest.approx(-200.0)


def test_distances_to_correct_and_wrong_goals_and_freezing():
    family = paths.make_family("four-corners")  # task 0: goal (2, 2); wrong: the other three
    t = np.linspace(0, 1, 11)[:, None]
    to_goal = t * np.array([2.0, 2.0])  # reaches the goal
    to_wrong = t * np.array([-1.0, -1.0])  # ends sqrt(2) from corner (-2, -2)
    still = 0.01 * t * np.array([1.0, 0.0])
    pos = np.stack([to_goal, to_wrong, still], 1)
    tasks = np.zeros(3, dtype=int)
    near_goal = paths.min_distances(pos, tasks, family, "goal")
    near_wrong = paths.min_distances(pos, tasks, family, "wrong")
    assert near_goal[0] == pytest.approx(0.0)
    assert near_wrong[1] == pytest.approx(math.sqrt(2))
    assert near_wrong[0] == pytest.approx(math.sqrt(8))  # at the start: (-2, 2) is closest
    assert list(paths.froze(pos, 0.5)) == [False, False, True]


def test_stay_put_return_is_minus_the_clipped_distance_times_the_horizon():
    # every goal is sqrt(8) from the start, beyond the radius-2 clip: -4 per active goal
    assert paths.stay_put_return("four-corners") == -4 * 100
    assert paths.stay_put_return("six-circles") == -8 * 100  # two correct goals
    assert paths.stay_put_return("six-circles", num_goals=4, num_correct=1) == -4 * 100
    from reproductions.specs import fig1, fig2
    assert fig1.STAY_PUT == paths.stay_put_return("four-corners-penalty")
    assert fig2.STAY_PUT == {run: fig2.stay_put(run) for run in fig2.VARIANTS}


@pytest.mark.parametrize("algo,sets", [
    ("es-maml", ["num_perturbations=4", "num_current_evals=2"]),
    ("promp", ["meta_batch=2"])])
def test_every_test_adaptation_is_saved_and_averages_to_the_logged_return(tmp_path, algo,
                                                                          sets):
    out = tmp_path / algo
    args = ["train", "--algo", algo, "--task", "four-corners", "--out", str(out), "--quiet",
            "--set", "iterations=2", "--set", "eval_every=1", "--set", "eval_adaptations=6"]
    assert main(args + [a for s in sets for a in ("--set", s)]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    files = sorted((out / "evaluations").glob("iter_*.npz"))
    assert [f.name for f in files] == ["iter_000000.npz", "iter_000001.npz"]
    for row, f in zip(rows, files):
        z = np.load(f)
        assert int(z["iteration"]) == row["iteration"]
        assert z["tasks"].shape == z["post"].shape == (6,)
        assert z["positions"].shape == (101, 6, 2)
        assert z["post"].mean() == pytest.approx(row[TEST_POST], rel=1e-6)
        assert z["pre"].mean() == pytest.approx(row[TEST_PRE], rel=1e-6)


# -- time at scale (reproductions.timing) -----------------------------------------------
def test_makespan_is_the_longest_first_schedule():
    from reproductions.timing import makespan
    assert makespan([3.0, 3.0, 2.0, 2.0, 2.0], 2) == 7.0  # LPT: {3, 2, 2} and {3, 2}
    assert makespan([10.0, 1.0, 1.0], 64) == 10.0  # never below the longest job
    assert makespan([1.0] * 64, 16) == 4.0  # nor below the total over the cores


def test_ray_time_follows_amdahl_with_the_measured_serial_share_and_efficiency():
    from reproductions.timing import ray_seconds
    assert ray_seconds([100.0], 1, serial=0.0, efficiency=1.0) == 100.0
    assert ray_seconds([60.0, 40.0], 10, serial=0.1, efficiency=0.5) == pytest.approx(
        100.0 * (0.1 + 0.9 / 10) / 0.5)


def test_cost_keys_drop_the_budget_and_share_a_robot_between_goal_variants():
    from reproductions.timing import cost_key
    a = Run("a", "es-maml", "halfcheetah-gv", {"K": 5, "iterations": 500, "eval_every": 10})
    b = Run("b", "es-maml", "halfcheetah-fb", {"K": 5, "iterations": 30})
    c = Run("c", "es-maml", "halfcheetah-fb", {"K": 20})
    d = Run("d", "es-maml", "six-circles", {"K": 20})  # not a locomotion task: kept
    assert cost_key(a) == cost_key(b) != cost_key(c)
    assert '"six-circles"' in cost_key(d)


def test_time_at_scale_table_from_cached_measurements(tmp_path, capsys):
    from reproductions import runner, timing
    figure = runner.load_figure("a4")
    runs = figure.scale("local").runs  # es, pg, es-L, pg-L: 300 and 100 iterations; 5 seeds
    cache = {timing.cost_key(r): {"cpu_seconds": s, "commit": "x", "date": "d"}
             for r, s in zip(runs, (0.6, 3.0, 0.6, 3.0))}
    (tmp_path / "seconds_per_iteration.json").write_text(json.dumps(cache))
    assert main(["reproduce", "a4", "--scale", "local", "--time-at-scale", "--out",
                 str(tmp_path)]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| a4")]
    # 10 x 300 s (pg, pg-L) + 10 x 180 s (es, es-L) = 4,800 core-s; LPT on 2 cores: five
    # 300 s and five 180 s jobs each, 2,400 s = 40 min; 16 cores: ten cores run a 300 s job,
    # six a 180 s job and then four of them another: 360 s = 6 min; 64 cores: the longest
    # job, 5 min; Ray on 16 CPUs: 4,800 (0.004 + 0.996 / 16) / 0.99 = 321 s = 5 min; on 64:
    # 95 s = 2 min; on 256: 38 s
    assert row == ["| a4 | 4 x 5 | 0.6-3 | cold | 1.33 | 40 min | 6 min | 5 min | 5 min "
                   "| 2 min | <1 min |"]
    # a trained run of the es configuration (here at paper scale: the same per-iteration
    # settings as local) replaces its cold measurement
    seed = tmp_path / "runs" / "a4" / "paper" / "es" / "seed0"
    seed.mkdir(parents=True)
    (seed / "metrics.jsonl").write_text("".join(
        json.dumps({"iteration": i, "wall_time_s": 1.2 * (i + 1)}) + "\n" for i in range(4)))
    assert main(["reproduce", "a4", "--scale", "local", "--time-at-scale", "--out",
                 str(tmp_path)]) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| a4")]
    # es 5 x 360 s, es-L 5 x 180 s, pg and pg-L 10 x 300 s: 5,700 core-s = 1.58 core-hours
    assert row[0].startswith("| a4 | 4 x 5 | 0.6-3 | cold + runs | 1.58 |")


@pytest.mark.slow
def test_measure_times_one_iteration_without_the_start_up():
    from reproductions.timing import measure
    cheap = json.dumps(["es-maml", "four-corners",
                        {"num_perturbations": 20, "num_current_evals": 2, "policy": "L"}])
    # N-iteration path: 22 x 21 point-mass rollouts an iteration, far below the ~2 s
    # start-up that a naive timing of one run would include
    assert 0.0 < measure(cheap, target=2.0) < 1.0
    # probe path (an iteration of >= target seconds is timed once, less a start-up probe):
    # 1,010 x 21 rollouts of policy H, about a second an iteration here
    dear = json.dumps(["es-maml", "four-corners", {"num_perturbations": 1000,
                                                   "num_current_evals": 10, "policy": "H"}])
    n_path, probe_path = measure(dear, target=3.0), measure(dear, target=0.0)
    assert 0.2 < n_path < 10.0 and 0.5 * n_path < probe_path < 2.0 * n_path


# -- equivalence (issue 26): a fourth verdict for a comparison with a declared margin -------
def _draws(rng: np.random.Generator, mean: float, seeds: int) -> np.ndarray:
    return rng.normal(mean, 1.0, seeds)


def test_equal_means_are_equivalent_with_enough_seeds_and_inconclusive_with_few():
    from reproductions.verdicts import EQUIVALENT
    from reproductions.spec import Margin
    margin = Margin(1.0, "constructed: one standard deviation of a seed's final")
    rng = np.random.default_rng(0)
    # SE of a difference with n seeds a side and unit spread: sqrt(2 / n). Equivalence
    # needs |d| + 2 SE < 1: at n = 3 the true 2 SE is 1.63, so only a draw whose sample SE
    # comes out far too small shows it (equivalence is then right, by luck: the means are
    # equal); at n = 200 (2 SE = 0.2) it fails only when |d| > 0.8, a 4-SE event.
    few = [greater("a > b", _draws(rng, 0, 3), _draws(rng, 0, 3), "a", "b", margin)
           for _ in range(400)]
    many = [greater("a > b", _draws(rng, 0, 200), _draws(rng, 0, 200), "a", "b", margin)
            for _ in range(200)]
    assert sum(c.verdict == EQUIVALENT for c in few) < 0.1 * len(few)  # measured 3%
    # the rest of the few-seed draws are inconclusive, except the 2-SE rule's false
    # differences: with the SE estimated from 3 seeds a side, d / SE is about Student-t with
    # ~4 degrees of freedom, beyond +-2 with probability 0.116. Expected inconclusive share
    # 1 - 0.116 - 0.03 = 0.85; 3 binomial SEs at 400 draws (0.018 each) below it: 0.80
    assert sum(c.verdict == INCONCLUSIVE for c in few) > 0.80 * len(few)
    # at n = 200 the only other answer is the 2-SE rule's false difference (|d| > 2 SE, a
    # difference inside the margin that still "holds" or "does not hold"): 4.55% of draws,
    # so 95.4% equivalent expected; 3 binomial SEs (1.5% each at 200 draws) below: 91%
    assert sum(c.verdict == EQUIVALENT for c in many) >= 0.91 * len(many)
    inconclusive = next(c for c in few if c.verdict == INCONCLUSIVE)
    assert "margin 1" in inconclusive.numbers and "seeds" in inconclusive.numbers


def test_a_difference_beyond_the_margin_holds_or_fails_and_is_never_equivalent():
    from reproductions.verdicts import EQUIVALENT
    from reproductions.spec import Margin
    margin = Margin(0.5, "constructed")
    rng = np.random.default_rng(1)
    up = [greater("a > b", _draws(rng, 2.0, 20), _draws(rng, 0, 20), "a", "b", margin)
          for _ in range(100)]
    down = [greater("a > b", _draws(rng, -2.0, 20), _draws(rng, 0, 20), "a", "b", margin)
            for _ in range(100)]
    # difference 2 at SE sqrt(2 / 20) = 0.32: 2 SE = 0.63, a miss needs a 4.3-SE draw
    assert all(c.verdict == HOLDS for c in up)
    assert all(c.verdict == FAILS for c in down)
    assert not any(c.verdict == EQUIVALENT for c in up + down)


def test_equivalence_false_positive_rate_at_the_margin_is_at_most_nominal():
    """TOST at Z = 2 per side: when the true difference equals the margin, "equivalent" is
    a false positive, at most Phi(-2) = 2.3% per draw. Measured over 2,000 draws; the
    bound allows 3 binomial standard errors (sqrt(0.023 * 0.977 / 2000) = 0.34%)."""
    from reproductions.verdicts import EQUIVALENT
    from reproductions.spec import Margin
    margin = Margin(0.5, "constructed")
    rng = np.random.default_rng(2)
    hits = sum(greater("a > b", _draws(rng, 0.5, 30), _draws(rng, 0, 30), "a", "b",
                       margin).verdict == EQUIVALENT for _ in range(2000))
    rate = hits / 2000
    assert rate <= 0.0228 + 3 * 0.0034, rate


def test_margins_must_be_positive_and_equivalence_fails_the_figure():
    from reproductions.verdicts import EQUIVALENT, overall
    from reproductions.spec import Check, Margin
    with pytest.raises(ValueError, match="margin must be > 0"):
        Margin(0.0, "none")
    assert overall([Check("x", HOLDS, ""), Check("y", EQUIVALENT, "")]) == FAILS
    assert overall([Check("x", HOLDS, ""), Check("y", INCONCLUSIVE, "")]) == INCONCLUSIVE


def _seeded_pair(rng: np.random.Generator, d: float, seeds: int,
                 shared: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Two runs over the same seeds: a seed effect of spread `shared` common to both, unit
    noise each, and a true difference `d`."""
    seed_effect = rng.normal(0.0, shared, seeds)
    return seed_effect + d + rng.normal(0, 1, seeds), seed_effect + rng.normal(0, 1, seeds)


def test_pairing_by_seed_removes_a_shared_seed_effect():
    """20 seeds, a seed effect of spread 5 common to both runs, equal means, margin 1.
    Unpaired, the SE of the difference is sqrt(2 (25 + 1) / 20) = 1.61, so 2 SE = 3.2
    exceeds the margin and equivalence is (almost) impossible; paired, the SE is that of
    the noise differences, sqrt(2 / 20) = 0.32 (2 SE = 0.63), so equivalence fails only
    when |d| > 0.37, a 1.2-SE event of t with 19 df (~25%): expected ~75%; the bound is 3
    binomial SEs below it at 300 draws (0.025 each)."""
    from reproductions.verdicts import EQUIVALENT
    from reproductions.spec import Margin
    margin = Margin(1.0, "constructed")
    rng = np.random.default_rng(5)
    draws = [_seeded_pair(rng, 0.0, 20) for _ in range(300)]
    paired = [greater("a > b", a, b, "a", "b", margin, paired=True) for a, b in draws]
    unpaired = [greater("a > b", a, b, "a", "b", margin) for a, b in draws]
    assert sum(c.verdict == EQUIVALENT for c in unpaired) == 0
    assert sum(c.verdict == EQUIVALENT for c in paired) >= (0.75 - 3 * 0.025) * 300
    assert "(paired by seed)" in paired[0].numbers
    with pytest.raises(ValueError, match="one value per seed on both sides"):
        greater("a > b", np.zeros(3), np.zeros(4), "a", "b", paired=True)


def test_paired_rates_of_false_differences_and_false_equivalence_are_near_nominal():
    """At a true difference of 0, the paired 2-SE rule calls a difference when |t| > 2,
    t with 19 df: 6.0% of draws; at a true difference equal to the margin, TOST calls it
    equivalent at most when t < -2: 3.0%. 2,000 draws each; bounds 3 binomial SEs above
    (0.53% and 0.38%)."""
    from reproductions.verdicts import EQUIVALENT
    from reproductions.spec import Margin
    rng = np.random.default_rng(6)
    margin = Margin(0.5, "constructed")
    false = sum(greater("a > b", *_seeded_pair(rng, 0.0, 20), "a", "b",
                        paired=True).verdict in (HOLDS, FAILS) for _ in range(2000)) / 2000
    assert 0.060 - 3 * 0.0053 <= false <= 0.060 + 3 * 0.0053, false
    hits = sum(greater("a > b", *_seeded_pair(rng, 0.5, 20), "a", "b",
                       margin, paired=True).verdict == EQUIVALENT
               for _ in range(2000)) / 2000
    assert hits <= 0.030 + 3 * 0.0038, hits


# -- multiplicity (issue 26): the chance line of every report -------------------------------
def test_holm_matches_a_hand_worked_case_and_controls_the_family_wise_rate():
    from reproductions.verdicts import LEVEL, holm
    # sorted p: 0.01 <= 0.0455 / 3 (0.0152) yes; 0.02 <= 0.0455 / 2 (0.0228) yes;
    # 0.04 <= 0.0455 yes
    assert holm([0.04, 0.01, 0.02]) == [True, True, True]
    # 0.03 > 0.0455 / 2 stops the procedure: 0.04 is not rejected although < 0.0455
    assert holm([0.01, 0.03, 0.04]) == [True, False, False]
    # family-wise error under the global null: 10 independent uniform p-values per family,
    # 4,000 families; Holm keeps P(any rejection) <= LEVEL (binomial SE 0.33%: allow 3)
    rng = np.random.default_rng(3)
    any_rejected = np.mean([any(holm(list(rng.uniform(size=10)))) for _ in range(4000)])
    assert any_rejected <= LEVEL + 3 * math.sqrt(LEVEL * (1 - LEVEL) / 4000), any_rejected
    # and without correction, about 1 - (1 - LEVEL)^10 = 37% of families have one
    naive = np.mean([(rng.uniform(size=10) < LEVEL).any() for _ in range(4000)])
    assert abs(naive - (1 - (1 - LEVEL) ** 10)) < 3 * math.sqrt(0.37 * 0.63 / 4000)


def test_the_multiplicity_line_counts_chance_flips_and_names_what_holm_drops():
    from reproductions.report import multiplicity
    from reproductions.spec import Check
    checks = [Check("big", HOLDS, "", 1e-6), Check("edge", HOLDS, "", 0.04),
              Check("none", INCONCLUSIVE, "", 0.5), Check("target", HOLDS, "")]
    line = multiplicity(checks)
    assert "3 of the 4 checks are comparisons at 2 SE" in line and "about 0.14" in line
    assert "1 of the 2 differences at 2 SE remain; these do not: edge." in line
    assert "no correction applies" in multiplicity([Check("target", HOLDS, "")])


# -- the spread test (issue 26): a test on the spread, not a count of panels ---------------
def _spread_pairs(rng, ratio: float, seeds: int, panels: int = 6):
    return [(f"p{i}", rng.normal(0, ratio, seeds) + 10 * i, rng.normal(0, 1, seeds) - 5 * i)
            for i in range(panels)]


def test_the_spread_tests_false_positive_rate_on_equal_spreads_is_near_nominal():
    """Equal spreads (normal values), 5 seeds a run, 6 panels: "holds" is a false positive
    with nominal probability Phi(-2) = 2.28%, "does not hold" likewise. Over 4,000
    constructed draws each rate must lie within 3 binomial SEs (0.24%) of nominal."""
    from reproductions.verdicts import wider_spread
    rng = np.random.default_rng(4)
    verdicts = [wider_spread("a wider", _spread_pairs(rng, 1.0, 5), "a", "b").verdict
                for _ in range(4000)]
    nominal, band = 0.02275, 3 * math.sqrt(0.02275 * 0.97725 / 4000)
    for verdict in (HOLDS, FAILS):
        rate = verdicts.count(verdict) / 4000
        assert abs(rate - nominal) < band, (verdict, rate)


def test_the_spread_test_finds_a_real_difference_and_says_which_way():
    from reproductions.verdicts import wider_spread
    rng = np.random.default_rng(5)
    # std ratio 3 over 6 panels of 5 seeds: the summed log variance ratio has mean
    # 6 log 9 = 13.2 and SE sqrt(12 trigamma(2)) = 2.78, so it falls below 2 SE (5.6) only
    # 2.7 SEs under its mean: P = 0.3%, about 0.6 of 200 draws
    wide = [wider_spread("a wider", _spread_pairs(rng, 3.0, 5), "a", "b") for _ in range(200)]
    narrow = [wider_spread("a wider", _spread_pairs(rng, 1 / 3, 5), "a", "b")
              for _ in range(200)]
    assert sum(c.verdict == HOLDS for c in wide) >= 195
    assert sum(c.verdict == FAILS for c in narrow) >= 195
    one = wider_spread("a wider", [("p", np.array([1.0]), np.array([1.0, 2.0]))], "a", "b")
    assert one.verdict == INCONCLUSIVE


# -- equal-cost comparisons and checks re-decided from a committed CSV (issue 26) -----------
def test_at_rollouts_reads_the_final_at_a_budget():
    from reproductions.spec import Figure
    rows = {0: [{"iteration": i, "rollouts": 100 * (i + 1), TEST_POST: float(i)}
                for i in range(10)]}
    fig = Figure("x", "x", "x", (), {}, lambda r: [])
    r = Results(fig, "local", {"a": Run("a", "es-maml", "sine")}, {}, {"a": rows},
                {"a": rows})
    # budget 550 rollouts: evaluations 0..4 (100..500) qualify; mean of the last 3 = 3
    assert r.at_rollouts("a", 550)[0] == pytest.approx(3.0)
    assert r.at_rollouts("a", 10_000)[0] == pytest.approx(r.final("a")[0])
    assert r.end_rollouts("a") == 1000
    # iteration 9's row says 10 iterations were done
    rows[0][-1]["wall_time_s"] = 20.0
    assert r.seconds_per_iteration("a")[0] == pytest.approx(2.0)


def test_results_from_the_committed_fig5_csv_agree_with_the_published_finals():
    from pathlib import Path
    from reproductions import runner
    from reproductions.results import published_finals
    path = Path(__file__).resolve().parents[1] / "docs" / "reproductions" / "fig5.csv"
    r = Results.from_csv(runner.load_figure("fig5"), "local", path)
    for run in ("halfcheetah-fb-es-L", "walker2d-gv-pg-L"):
        np.testing.assert_allclose(r.final(run), published_finals(path, run))
    assert len(r.seeds) == 5
    with pytest.raises(ValueError, match="no paper-scale runs"):
        Results.from_csv(runner.load_figure("fig5"), "paper", path)


def test_a_later_csvs_new_seeds_join_a_run_and_its_same_seeds_replace(tmp_path):
    import csv as csvlib
    from pathlib import Path
    from reproductions import runner
    path = Path(__file__).resolve().parents[1] / "docs" / "reproductions" / "fig5.csv"
    with path.open(newline="") as f:
        rows = list(csvlib.DictReader(f))
    run = "halfcheetah-gv-es-L"
    later = [dict(r, seed=str(int(r["seed"]) + 5)) for r in rows if r["run"] == run]
    later += [dict(r, **{"test/post_adaptation_return": "0.0"}) for r in rows
              if r["run"] == run and r["seed"] == "0"]  # seed 0 re-run: replaced
    extra = tmp_path / "more.csv"
    with extra.open("w", newline="") as f:
        w = csvlib.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(later)
    fig5 = runner.load_figure("fig5")
    one = Results.from_csv(fig5, "local", path)
    both = Results.from_csv(fig5, "local", path, extra, runs=[run])
    assert both.seeds == list(range(10)) and len(both.final(run)) == 10
    np.testing.assert_allclose(both.final(run)[5:], one.final(run))
    assert both.final(run)[0] == 0.0
    np.testing.assert_allclose(both.final(run)[1:5], one.final(run)[1:5])
    with pytest.raises(ValueError, match="different seeds .*keep runs that share them"):
        Results.from_csv(fig5, "local", path, extra)
