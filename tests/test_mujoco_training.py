"""ES-MAML (every operator) and the test-evaluation path on every MuJoCo task, at tiny scale."""

from __future__ import annotations

import pytest

from tests.conftest import MUJOCO_TINY, set_args
from workbench.app import run as runmod
from workbench.app.cli import main

pytestmark = pytest.mark.slow

MUJOCO = ["halfcheetah-fb", "halfcheetah-gv", "ant-fb", "ant-gv", "ant-goal", "swimmer-fb",
          "swimmer-gv", "walker2d-fb", "walker2d-gv"]


def run(tmp_path, task: str, *sets: str) -> list[dict]:
    args = ["train", "--algo", "es-maml", "--task", task, "--out", str(tmp_path / "r"), "--quiet",
            *set_args([*MUJOCO_TINY, *sets])]
    assert main(args) == 0
    return runmod.RunDir(tmp_path / "r").read_metrics()


@pytest.mark.parametrize("task", MUJOCO)
def test_es_maml_runs_two_iterations(tmp_path, task):
    metrics = run(tmp_path, task)
    assert len(metrics) == 2 and all("test/post_adaptation_return" in m for m in metrics)
    assert metrics[-1]["rollouts"] == 2 * 4 * (1 + 2 + 1)


@pytest.mark.parametrize("sets", [["adaptation=dpp"], ["adaptation=hc"], ["adaptation=rbo"],
                                  ["adaptation=asebo"], ["variant=fo-hessian"],
                                  ["variant=fo-nohessian"]])
def test_every_operator_on_halfcheetah(tmp_path, sets):
    assert len(run(tmp_path, "halfcheetah-fb", *sets)) == 2
