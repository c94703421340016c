"""ES-MAML end to end: runs, determinism, resume, checkpoints, TensorBoard, learning."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from tests.conftest import ES_TINY, set_args
from workbench.app import run as runmod
from workbench.app.checkpoint import CheckpointError
from workbench.app.cli import main

KEYS = {"iteration", "wall_time_s", "rollouts", "env_steps", "train/pre_adaptation_return",
        "train/post_adaptation_return"}
#: An evaluation line on four-corners (a 2-D task, so with the exploration spread).
TEST_KEYS = {"test/pre_adaptation_return", "test/post_adaptation_return",
             "test/exploration_spread"}


def train(out: Path, *sets: str, task: str = "four-corners", seed: int = 0) -> list[dict]:
    args = ["train", "--algo", "es-maml", "--task", task, "--out", str(out), "--seed", str(seed),
            "--quiet", *set_args([*ES_TINY, *sets])]
    assert main(args) == 0
    return runmod.RunDir(out).read_metrics()


def without_wall(metrics: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k != "wall_time_s"} for m in metrics]


def test_metrics_have_exactly_the_design_keys(tmp_path):
    metrics = train(tmp_path / "r", "iterations=4")
    assert [m["iteration"] for m in metrics] == [0, 1, 2, 3]
    for m in metrics:
        expected = KEYS | (TEST_KEYS if m["iteration"] in (0, 1, 3) else set())
        assert set(m) == expected
    assert metrics[-1]["rollouts"] == 4 * 16 * (1 + 3 + 1)
    assert metrics[-1]["env_steps"] == metrics[-1]["rollouts"] * 20  # four-corners never ends
    assert (tmp_path / "r" / "config.yaml").is_file()
    assert sorted(p.name for p in (tmp_path / "r" / "checkpoints").iterdir()) == \
        ["iter_000000.pt", "iter_000002.pt", "iter_000004.pt"]  # the initial state too


@pytest.mark.parametrize("sets", [
    ["adaptation=mc"], ["adaptation=dpp"], ["adaptation=hc"],
    ["adaptation=hc", "adapt_options.mode=average", "adapt_options.population=2"],
    ["adaptation=rbo"], ["adaptation=rbo", "adapt_options.decoder=ridge"], ["adaptation=asebo"],
    ["variant=fo-hessian"], ["variant=fo-nohessian"], ["estimator=antithetic"],
    ["estimator=vanilla", "sampler=orthogonal"], ["optimizer=adam", "normalization=ranks"],
    ["task_batch=2", "common_tasks=true"],
])
def test_every_component_runs_and_is_deterministic(tmp_path, sets):
    a = train(tmp_path / "a", "iterations=2", *sets)
    b = train(tmp_path / "b", "iterations=2", *sets)
    assert without_wall(a) == without_wall(b)
    assert all(torch.isfinite(torch.tensor(m["train/post_adaptation_return"])) for m in a)


@pytest.mark.parametrize("adaptation", ["mc", "hc", "asebo"])
def test_extending_a_finished_run_equals_one_uninterrupted_run(tmp_path, adaptation):
    straight = train(tmp_path / "straight", "iterations=6", f"adaptation={adaptation}",
                     task="cartpole-biased")
    train(tmp_path / "short", "iterations=3", f"adaptation={adaptation}", task="cartpole-biased")
    assert main(["train", "--resume", str(tmp_path / "short"), "--set", "iterations=6",
                 "--quiet"]) == 0
    resumed = runmod.RunDir(tmp_path / "short").read_metrics()
    assert without_wall(resumed) == without_wall(straight)


def test_resume_after_sigint_equals_uninterrupted_run(tmp_path):
    straight = train(tmp_path / "straight", "iterations=40", "checkpoint_every=1000")
    out = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "workbench", "train", "--algo", "es-maml", "--task",
           "four-corners", "--out", str(out), "--seed", "0", "--quiet",
           *set_args([*ES_TINY, "iterations=40", "checkpoint_every=1000"])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not metrics.exists() or
                                       len(metrics.read_text().splitlines()) < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted after iteration" in stdout
    done = len(runmod.RunDir(out).read_metrics())
    assert 3 <= done < 40, "the run must stop early and checkpoint where it stopped"
    assert (out / "checkpoints" / f"iter_{done:06d}.pt").is_file()
    # A crash after the checkpoint may leave metrics the checkpoint does not cover.
    with (out / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({**straight[done], "train/post_adaptation_return": 1e9}) + "\n")
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    assert without_wall(runmod.RunDir(out).read_metrics()) == without_wall(straight)


def test_bad_checkpoints_give_one_line_errors(tmp_path, capsys):
    out = tmp_path / "r"
    train(out, "iterations=2")
    ckpt = out / "checkpoints" / "iter_000002.pt"
    good = ckpt.read_bytes()

    def resume_error() -> str:
        assert main(["train", "--resume", str(out), "--set", "iterations=4", "--quiet"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(ckpt) in err
        return err

    # (damaged files are passed over on resume: tests/test_lifecycle.py)
    torch.save({"format": 1, "algo": "es-maml", "task": "nav2d", "iteration": 2}, ckpt)
    assert "task 'nav2d'" in resume_error()
    ckpt.write_bytes(good)
    config = (out / "config.yaml").read_text()
    (out / "config.yaml").write_text(config.replace("policy: H", "policy: L"))
    err = resume_error()
    assert "does not match this run's config" in err and "parameters" in err
    for p in (out / "checkpoints").iterdir():
        p.unlink()
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        runmod.evaluate_run(out)


def test_resume_refuses_changes_that_alter_the_numbers(tmp_path, capsys):
    out = tmp_path / "r"
    train(out, "iterations=2")
    assert main(["train", "--resume", str(out), "--set", "sigma=0.5", "--quiet"]) == 2
    assert "may change only iterations" in capsys.readouterr().err


def test_cli_errors_name_the_valid_values(tmp_path, capsys):
    cases = [
        (["--algo", "es-mamll", "--task", "four-corners"], "unknown algorithm 'es-mamll'; valid: dice, es-maml, maml, maml-trpo, promp"),
        (["--algo", "es-maml", "--task", "four-corner"], "unknown task 'four-corner'; valid:"),
        (["--algo", "es-maml", "--task", "nav2d", "--set", "adaptation=hcc"],
         "'adaptation' must be one of asebo, dpp, exact-gradient, hc, mc, rbo; got 'hcc'"),
        (["--algo", "es-maml", "--task", "nav2d", "--set", "sigmaa=1"], "unknown config key 'sigmaa'"),
        (["--algo", "es-maml", "--task", "nav2d", "--set", "sigma=abc"], "'sigma' must be a number"),
        (["--algo", "es-maml", "--task", "nav2d", "--set", "variant=second-order"],
         "'variant' must be one of zero-order, fo-hessian, fo-nohessian; got 'second-order'"),
        (["--algo", "es-maml", "--task", "nav2d", "--set", "iterations=-3"], "'iterations' must be >= 1"),
        (["--algo", "es-maml", "--task", "nav2d", "--set", "task.radius=3"], "unknown config key 'task.radius'"),
        (["--algo", "es-maml", "--task", "nav2d", "--set", "adapt_options.foo=1"], "unknown config key 'adapt_options.foo'"),
    ]
    for i, (args, message) in enumerate(cases):
        assert main(["train", *args, "--out", str(tmp_path / f"r{i}"), "--quiet"]) == 2, args
        err = capsys.readouterr().err
        assert message in err, (args, err)
        assert not (tmp_path / f"r{i}").exists(), "a bad config must not create a run directory"


def test_config_file_then_set_then_seed(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("iterations: 2\nsigma: 0.2\npolicy: L\ntask:\n  penalty: 5.0\n")
    out = tmp_path / "r"
    assert main(["train", "--algo", "es-maml", "--task", "four-corners", "--config", str(cfg),
                 "--set", "sigma=0.3", "--seed", "7", "--out", str(out), "--quiet",
                 *set_args(ES_TINY[:4])]) == 0
    import yaml
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert (resolved["sigma"], resolved["seed"], resolved["policy"], resolved["iterations"]) == \
        (0.3, 7, "L", 2)
    # fully resolved: the family's split keys are filled in beside the one set
    assert resolved["task"] == {"name": "four-corners", "num_train": None, "num_test": None,
                                "split_seed": 0, "actions": "clip", "penalty": 5.0}


def test_evaluate_command(tmp_path, capsys):
    out = tmp_path / "r"
    train(out, "iterations=2")
    capsys.readouterr()
    assert main(["evaluate", str(out), "--adaptations", "12"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["iteration"] == 2 and set(TEST_KEYS) <= set(result)
    assert Path(result["trajectory_png"]).is_file()


def test_tensorboard_event_files_hold_every_tag(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out = tmp_path / "r"
    train(out, "iterations=3")
    acc = EventAccumulator(str(out))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert (KEYS - {"iteration"}) | TEST_KEYS <= tags
    assert [e.step for e in acc.Scalars("train/post_adaptation_return")] == [0, 1, 2]
    assert "test/trajectories" in acc.Tags()["images"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tensorboard_server_serves_a_scalar_series(tmp_path):
    out = tmp_path / "r"
    train(out, "iterations=3")
    port = _free_port()
    exe = Path(sys.executable).with_name("tensorboard")
    proc = subprocess.Popen([str(exe), "--logdir", str(out), "--port", str(port),
                             "--host", "127.0.0.1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = (f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?run=.&tag="
           "train/post_adaptation_return&format=json")
    try:
        series, deadline = None, time.time() + 90
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    series = json.loads(response.read())
                if series:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        assert series is not None, "tensorboard did not answer within 90 s"
        expected = [m["train/post_adaptation_return"] for m in runmod.RunDir(out).read_metrics()]
        assert [row[1] for row in series] == [0, 1, 2]
        assert [row[2] for row in series] == pytest.approx(expected, rel=1e-6)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_smoke_learning_on_four_corners(tmp_path):
    """Fixed seed, HC with an H policy, paper-scale population: clear progress in 50
    iterations (about 13 s; the curve is flat from there to 100 iterations).

    Returns lie in [-400, 0], so one adaptation's return has a standard deviation of at most
    200 and a 200-adaptation mean a standard error of at most 200 / sqrt(200) = 14; the
    difference of two such means exceeds 4 of its standard errors (4 * sqrt(2) * 14 = 80)
    only if learning really happened.
    """
    out = tmp_path / "r"
    assert main(["train", "--algo", "es-maml", "--task", "four-corners", "--out", str(out),
                 "--seed", "0", "--quiet", "--set", "adaptation=hc", "--set", "iterations=50",
                 "--set", "eval_every=25"]) == 0
    tests = [m["test/post_adaptation_return"] for m in runmod.RunDir(out).read_metrics()
             if "test/post_adaptation_return" in m]
    assert len(tests) == 3
    assert tests[-1] > tests[0] + 80, tests
