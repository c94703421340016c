"""The exploration-spread measure: its formula, and that 2-D runs log it at every evaluation."""

from __future__ import annotations

import json
import math

import pytest
import torch

from workbench.algorithm import end_point_spread
from workbench.app.cli import main
from workbench.metrics import EXPLORATION_SPREAD


def test_end_point_spread_is_the_rms_distance_from_the_centroid():
    # four paths ending on the corners of a square of side 2 around (5, -1): each end point
    # lies sqrt(2) from the centroid; the paths' earlier points do not count
    ends = torch.tensor([[6.0, 0.0], [4.0, 0.0], [4.0, -2.0], [6.0, -2.0]])
    positions = torch.stack([torch.zeros(4, 2), torch.randn(4, 2), ends])
    assert end_point_spread(positions) == pytest.approx(math.sqrt(2.0), rel=1e-12)
    # one shared end point: no spread
    assert end_point_spread(torch.stack([torch.randn(3, 2), torch.ones(3, 2)])) == 0.0


@pytest.mark.parametrize("algo, sets", [
    ("es-maml", ["num_perturbations=4", "num_current_evals=1"]),
    ("maml-trpo", ["meta_batch=2"])])
def test_two_d_runs_log_the_spread_at_every_evaluation_and_cartpole_does_not(tmp_path, algo,
                                                                            sets):
    common = ["--quiet", "--set", "iterations=3", "--set", "eval_every=2", "--set", "K=3",
              "--set", "eval_adaptations=3", "--set", "horizon=20"]
    common += [x for s in sets for x in ("--set", s)]
    for task in ("nav2d", "cartpole-biased"):
        out = tmp_path / task
        assert main(["train", "--algo", algo, "--task", task, "--out", str(out), *common]) == 0
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        evals = [r for r in rows if "test/post_adaptation_return" in r]
        assert [r["iteration"] for r in evals] == [0, 1]
        if task == "nav2d":
            assert all(r[EXPLORATION_SPREAD] > 0 for r in evals)
            assert all(EXPLORATION_SPREAD not in r for r in rows if r not in evals)
        else:
            assert not any(EXPLORATION_SPREAD in r for r in rows)
