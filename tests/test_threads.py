"""Thread counts (issue 13, item 4): the `threads` key, `--threads`, the affinity mask, and
the argument checks of `bench contention` (its timings are a benchmark, not a test)."""

from __future__ import annotations

import os

import pytest
import torch

from workbench.app import runconfig as cfg
from workbench.config import usable_cpus
from workbench.algorithm import algorithm_class
from workbench.app.cli import main
from workbench.tasks import make_family


def test_usable_cpus_is_the_affinity_mask():
    assert usable_cpus() == len(os.sched_getaffinity(0))
    family = make_family("halfcheetah-fb")
    assert family.nthread == len(os.sched_getaffinity(0))
    assert make_family("halfcheetah-fb", nthread=1).nthread == 1


def test_threads_key_defaults_to_one_and_is_honoured():
    cls = algorithm_class("es-maml")
    before = torch.get_num_threads()
    try:
        config = cfg.resolve(cls, None, ["K=2"], task="four-corners")
        assert config["threads"] is None
        cls(config)
        assert torch.get_num_threads() == 1
        cls(cfg.resolve(cls, None, ["threads=2"], task="four-corners"))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_train_threads_flag_is_the_config_key(tmp_path, capsys):
    out = tmp_path / "r"
    before = torch.get_num_threads()
    try:
        assert main(["config", "--algo", "es-maml", "--task", "four-corners", "--set",
                     "threads=3"]) == 0
        assert "threads: 3" in capsys.readouterr().out
        assert main(["train", "--algo", "es-maml", "--task", "four-corners", "--quiet",
                     "--threads", "0", "--out", str(out)]) == 2
        assert "config key 'threads' must be >= 1; got 0" in capsys.readouterr().err
        assert not out.exists()
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("argv, message", [
    (["--iterations", "0"], "--iterations must be a positive number of training iterations; "
                            "got 0"),
    (["--threads", "2"], "bench contention takes --task, --iterations and --set; got "
                         "--threads"),
    (["--backend", "ray", "--repeats", "2"], "got --repeats, --backend"),
    (["--set", "threads=2"], "bench contention sets threads itself; got --set 'threads=2'"),
    (["--set", "iterations=5"], "bench contention sets iterations itself"),
])
def test_bench_contention_refuses_bad_arguments(capsys, argv, message):
    assert main(["bench", "contention", *argv]) == 2
    assert message in capsys.readouterr().err


def test_other_benches_need_a_task_and_refuse_iterations(capsys):
    assert main(["bench", "rollouts"]) == 2
    assert "bench rollouts needs --task" in capsys.readouterr().err
    assert main(["bench", "iteration", "--task", "nav2d", "--iterations", "5"]) == 2
    assert "--iterations applies to bench contention" in capsys.readouterr().err
