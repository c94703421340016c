"""`workbench calibrate`: the task-blind ceiling and per-task oracle against closed forms."""

from __future__ import annotations

import json

import pytest

from reproductions.calibration import Budget, cache_name, calibrate, gap_share
from workbench.app.cli import main

HORIZON = 100


def corner_path_return(goal: tuple[float, float], horizon: int = HORIZON) -> float:
    """Four Corners, plain Python: the return of the path that moves each coordinate by
    the full 0.1 towards `goal` until it is there and then stays. Its reward
    -min(d^2, 4) only grows as either coordinate gets closer, and this path is closest to
    the goal at every step, so it is the per-task optimum."""
    p, total = [0.0, 0.0], 0.0
    for _ in range(horizon):
        p = [p[i] + max(-0.1, min(0.1, goal[i] - p[i])) for i in range(2)]
        total -= min((p[0] - goal[0]) ** 2 + (p[1] - goal[1]) ** 2, 4.0)
    return total


def test_the_closed_forms():
    # 20 diagonal steps from (0, 0) to (2, 2); inside radius 2 from step 6 on
    assert corner_path_return((2.0, 2.0)) == pytest.approx(
        -sum(min(2 * (2 - 0.1 * k) ** 2, 4.0) for k in range(1, 21)))


@pytest.mark.slow
def test_calibrate_finds_four_corners_bounds_in_closed_form():
    """Per corner the oracle is `corner_path_return`. Task-blind: far from a corner the
    reward is -4 whatever the position, and no point lies within radius 2 of two corners
    (adjacent corners are 4 apart), so the best single policy serves one corner as its
    oracle does and scores -4 a step on the other three: (oracle - 3 * 400) / 4. A linear
    tanh policy can only approximate the clipped straight path (tanh bends small
    actions), so each bound is required within 2 return units (0.5% of the range)."""
    oracle = corner_path_return((2.0, 2.0))
    blind = (oracle - 3 * 4.0 * HORIZON) / 4
    result = calibrate("four-corners", "L", Budget(iterations=100), oracle_count=4)
    assert result["oracle"]["tasks"] == [0, 1, 2, 3]
    assert result["oracle"]["values"] == pytest.approx([oracle] * 4, abs=2.0)
    assert result["blind"]["value"] == pytest.approx(blind, abs=2.0)
    assert gap_share(result["oracle"]["mean"], result) == pytest.approx(1.0)
    assert gap_share(result["blind"]["value"], result) == pytest.approx(0.0)


def test_cache_names_count_only_parameters_that_differ_from_the_defaults():
    assert cache_name("cartpole-biased", "L", {"observation": "full"}) == \
        cache_name("cartpole-biased", "L") == "cartpole-biased_L.json"
    assert cache_name("cartpole-biased", "L", {"observation": "norml"}) == \
        "cartpole-biased_observation-norml_L.json"


def test_calibrate_command_writes_its_cache_and_reuses_it(tmp_path, capsys):
    args = ["calibrate", "--task", "nav2d", "--policy", "L", "--oracle-tasks", "2",
            "--budget", "iterations=3", "--budget", "restarts=1", "--budget", "check_every=3",
            "--quiet", "--out", str(tmp_path)]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "task-blind ceiling" in first and "per-task oracle" in first
    cached = json.loads((tmp_path / "nav2d_L.json").read_text())
    assert cached["budget"]["iterations"] == 3 and len(cached["oracle"]["values"]) == 2
    assert cached["command"].startswith("workbench calibrate") and cached["commit"]
    assert main(args) == 0
    assert "(cached:" in capsys.readouterr().out
    # a different budget is a different calibration: computed again
    assert main(args[:-2] + ["--budget", "sigma=0.3", "--out", str(tmp_path)]) == 0
    assert "(cached:" not in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--policy", "HHH"], "--policy must be one of L, H, HH; got 'HHH'"),
    (["--budget", "speed=3"], "--budget takes KEY=VALUE with KEY one of iterations"),
    (["--budget", "iterations=0"], "calibration budget iterations must be positive; got 0"),
    (["--budget", "sigma=big"], "--budget sigma must be a float; got 'big'"),
    (["--set", "observation=full"], "calibrate --set takes task.KEY=VALUE"),
    (["--oracle-tasks", "0"], "--oracle-tasks must be >= 1; got 0"),
])
def test_calibrate_refuses_bad_input_in_one_line(tmp_path, capsys, extra, message):
    assert main(["calibrate", "--task", "nav2d", "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_calibrate_refuses_a_supervised_task(tmp_path, capsys):
    assert main(["calibrate", "--task", "sine", "--out", str(tmp_path)]) == 2
    assert "'sine' is supervised" in capsys.readouterr().err


def test_execution_only_parameters_do_not_name_another_calibration():
    assert cache_name("swimmer-fb", "L", {"nthread": 1, "engine": "loop"}) == "swimmer-fb_L.json"


def test_a_zero_start_is_kept_when_every_step_from_it_scores_worse():
    """Six Circles: staying put scores -8 a step (-800); a few wide ES steps from the zero
    policy walk into the wrong goals' 10000-weight penalty. The start is scored like every
    checkpoint, so the ceiling cannot fall below staying put."""
    budget = Budget(iterations=2, restarts=1, zero_start=1, check_every=1)
    result = calibrate("six-circles", "L", budget, oracle_count=1)
    assert result["blind"]["value"] == pytest.approx(-800.0)
    assert result["oracle"]["values"][0] >= -800.0
