"""The command line: the rollout benchmark's JSON, and clear errors for bad names."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from workbench.app.cli import main

BENCH_KEYS = {"task", "rollouts", "horizon", "threads", "engine_steps_per_s",
              "loop_steps_per_s", "engine_over_loop"}


@pytest.mark.parametrize("task", ["four-corners", "cartpole-biased"])
def test_bench_rollouts_json(task, capsys):
    assert main(["bench", "rollouts", "--task", task, "--rollouts", "40",
                 "--horizon", "30", "--loop-rollouts", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert BENCH_KEYS <= set(result)
    assert (result["task"], result["rollouts"], result["horizon"]) == (task, 40, 30)
    # Same rollouts both ways: the loop replays the engine's returns.
    assert result["loop_vs_engine_max_rel_diff"] < 1e-5
    assert result["engine_over_loop"] == pytest.approx(
        result["engine_steps_per_s"] / result["loop_steps_per_s"])


def test_unknown_task_on_the_command_line():
    proc = subprocess.run([sys.executable, "-m", "workbench", "bench", "rollouts", "--task",
                           "four-corner"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown RL task 'four-corner'" in proc.stderr and "four-corners" in proc.stderr
    assert "gym:module:Class" in proc.stderr  # the adapter's names are allowed (issue 28)


def test_tasks_listing(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    for name in ["nav2d", "four-corners", "four-corners-penalty", "six-circles",
                 "cartpole-biased"]:
        assert name in out


def test_a_new_run_builds_its_algorithm_once_and_a_resume_once(tmp_path, monkeypatch):
    """`workbench train` builds the algorithm once per run: the build that checks the
    config before anything is written is the one that trains (issue 27)."""
    from workbench.algorithm import algorithm_class as real
    from workbench.app import run
    built = []

    def counting(name):
        cls = real(name)

        class Counted(cls):
            def __init__(self, config):
                built.append(config["seed"])
                super().__init__(config)
        return Counted

    monkeypatch.setattr(run, "algorithm_class", counting)
    out = tmp_path / "r"
    args = ["train", "--algo", "es-maml", "--task", "four-corners", "--set", "policy=L",
            "--set", "iterations=2", "--set", "num_perturbations=2", "--set", "eval_every=2",
            "--out", str(out), "--quiet"]
    assert main(args) == 0
    assert built == [0]
    assert main(["train", "--resume", str(out), "--set", "iterations=3", "--quiet"]) == 0
    assert built == [0, 0]


def test_an_unreachable_ray_cluster_is_refused_at_once_with_no_run_directory(tmp_path,
                                                                             capsys):
    """Ray retries an unreachable address for minutes; the workbench refuses it in one
    line, rc 2, before the run directory exists (issue 28's bad-input standard)."""
    import time
    out = tmp_path / "r"
    start = time.monotonic()
    rc = main(["train", "--algo", "es-maml", "--task", "four-corners", "--backend", "ray",
               "--ray-address", "127.0.0.1:1", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and time.monotonic() - start < 30
    assert "cannot reach a Ray cluster at '127.0.0.1:1'" in err and len(err.splitlines()) == 1
    assert not out.exists()
    assert main(["train", "--algo", "es-maml", "--task", "four-corners", "--backend", "ray",
                 "--ray-address", "nonsense", "--out", str(out), "--quiet"]) == 2
    assert "is not HOST:PORT, ray://HOST:PORT, auto or unset" in capsys.readouterr().err
