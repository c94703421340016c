"""The Ray backend: the same numbers as the local backend, surviving a killed actor, cleaning
up after itself; and the errors for backends that cannot run.

One local Ray cluster (2 CPUs) serves the whole module; runs are smoke-sized but large
enough that phases split over both actors.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import RAY_GROUP, RAY_SMOKE, set_args
from workbench.app import run as runmod
from workbench.backends import RAY_INSTALL_HINT, make_backend
from workbench.app.cli import main

pytestmark = [pytest.mark.slow, RAY_GROUP]

ray = pytest.importorskip("ray", reason=f"ray is not installed: {RAY_INSTALL_HINT}")

from workbench.backends.ray_backend import (  # noqa: E402
    RayObjective, RayTrajectorySampler, split_rows, split_tasks)

# RAY_SMOKE (tests/conftest.py): 96 points (2 chunks) and 480 queries per phase, so every
# phase has work for both actors.
RESTARTS = "ray/actor_restarts"
# PG-MAML: 4 tasks per meta-batch (two per actor), test evaluations every other iteration;
# with the normaliser on, so that its statistics are part of what must match.
PG_SMOKE = ["meta_batch=4", "K=2", "eval_every=2", "eval_adaptations=3", "checkpoint_every=2",
            "state_normalization=true"]
PG_TASKS = {"nav2d": [], "halfcheetah-fb": ["meta_batch=2", "horizon=10"]}


@pytest.fixture
def cluster(ray_cluster):
    """The session's Ray instance (tests/conftest.py)."""
    return ray_cluster


def train(out: Path, backend: str, *sets: str, iterations: int = 3, algo: str = "es-maml",
          task: str = "four-corners") -> list[dict]:
    smoke = RAY_SMOKE if algo == "es-maml" else [*PG_SMOKE, *PG_TASKS[task]]
    args = ["train", "--algo", algo, "--task", task, "--out", str(out),
            "--seed", "3", "--quiet", "--backend", backend,
            *set_args([*smoke, f"iterations={iterations}", *sets])]
    assert main(args) == 0
    return runmod.RunDir(out).read_metrics()


def numbers(metrics: list[dict]) -> list[dict]:
    """What must match across backends: everything but wall time and the fault counter."""
    return [{k: v for k, v in m.items() if k not in ("wall_time_s", RESTARTS)} for m in metrics]


def final_state(out: Path) -> dict:
    from workbench.app import checkpoint
    return checkpoint.load(checkpoint.latest(out / "checkpoints"))["state"]


def wait_for_free_cpus(expected: float = 2.0, timeout: float = 30.0) -> float:
    deadline = time.time() + timeout
    free = 0.0
    while time.time() < deadline:
        free = ray.available_resources().get("CPU", 0.0)
        if free == expected:
            break
        time.sleep(0.2)
    return free


@pytest.fixture
def slice_log(monkeypatch):
    """How many distinct actors each phase was split over."""
    log: list[int] = []
    monkeypatch.setattr(RayObjective, "after_submit",
                        lambda objective, slots: log.append(len({id(s) for s in slots})))
    return log


@pytest.mark.parametrize("adaptation", ["mc", "hc"])
def test_ray_gives_the_local_numbers(cluster, tmp_path, adaptation, slice_log):
    local = train(tmp_path / "local", "local", f"adaptation={adaptation}")
    remote = train(tmp_path / "ray", "ray", f"adaptation={adaptation}")
    assert numbers(remote) == numbers(local)
    assert [m[RESTARTS] for m in remote] == [0, 0, 0]
    assert all(RESTARTS not in m for m in local), "the counter is a Ray-only key"
    a, b = final_state(tmp_path / "local"), final_state(tmp_path / "ray")
    assert torch.equal(a["theta"], b["theta"])
    assert torch.equal(a["normalizer"]["stats"], b["normalizer"]["stats"])
    assert max(slice_log) == 2, "phases should have been split over both actors"
    assert wait_for_free_cpus() == 2.0, "the run's actors must be gone when it ends"


def test_killed_actor_is_replaced_and_the_run_keeps_its_numbers(cluster, tmp_path,
                                                                  monkeypatch):
    local = train(tmp_path / "local", "local", iterations=4)
    killed = []

    def kill_one(objective, slots):
        # iteration 1's first phase (iteration 0 made 3 calls: query, post, test query),
        # mid-phase: the slices are submitted, the results not yet gathered
        if objective.calls == 3 and not killed:
            victim = slots[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    monkeypatch.setattr(RayObjective, "after_submit", kill_one)
    remote = train(tmp_path / "ray", "ray", iterations=4)
    assert killed, "the hook should have killed an actor"
    assert numbers(remote) == numbers(local)
    assert [m[RESTARTS] for m in remote] == [0, 1, 1, 1]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(tmp_path / "ray"), size_guidance={"tensors": 0})
    acc.Reload()
    texts = [e.tensor_proto.string_val[0].decode() for e in acc.Tensors("ray/events/text_summary")]
    assert "2 actor(s) x 1 CPU" in texts[0]
    deaths = [t for t in texts if "died" in t]
    assert len(deaths) == 1 and f"pid {killed[0]}" in deaths[0] and "re-run on actor" in deaths[0]
    assert wait_for_free_cpus() == 2.0


def test_resume_on_ray_equals_an_uninterrupted_local_run(cluster, tmp_path):
    straight = train(tmp_path / "straight", "local", iterations=4)
    train(tmp_path / "resumed", "ray", iterations=2)
    assert main(["train", "--resume", str(tmp_path / "resumed"), "--set", "iterations=4",
                 "--quiet"]) == 0
    resumed = runmod.RunDir(tmp_path / "resumed").read_metrics()
    assert numbers(resumed) == numbers(straight)
    # and back to local mid-run: the backend is a resumable key
    assert main(["train", "--resume", str(tmp_path / "resumed"), "--set", "iterations=5",
                 "--backend", "local", "--quiet"]) == 0
    assert len(runmod.RunDir(tmp_path / "resumed").read_metrics()) == 5


def test_sigint_on_ray_checkpoints_stops_and_frees_the_actors(cluster, tmp_path):
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "workbench", "train", "--algo", "es-maml", "--task",
           "four-corners", "--out", str(out), "--seed", "0", "--quiet", "--backend", "ray",
           "--ray-address", cluster,
           *set_args([*RAY_SMOKE, "iterations=400", "checkpoint_every=1000"])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and (
            not metrics.exists() or len(metrics.read_text().splitlines()) < 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr  # an interrupted train exits 130, as reproduce does
    assert "interrupted after iteration" in stdout
    done = len(runmod.RunDir(out).read_metrics())
    assert (out / "checkpoints" / f"iter_{done:06d}.pt").is_file()
    assert wait_for_free_cpus() == 2.0, "the interrupted run's actors must be gone"


def test_bench_iteration_times_both_backends_in_one_run(cluster, capsys):
    assert main(["bench", "iteration", "--task", "four-corners", "--backend", "ray",
                 "--repeats", "1", "--json", *set_args(RAY_SMOKE[:4])]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"task", "backend", "seconds_per_iteration", "env_steps_per_s",
            "ray_over_local"} <= set(result)
    assert result["backend"] == "ray" and result["ray_actors"] == 2
    assert result["same_numbers"] is True
    assert result["ray_over_local"] == pytest.approx(
        result["ray_env_steps_per_s"] / result["local_env_steps_per_s"])
    assert 0 < result["ray_bytes_sent_per_iteration"] < result["ray_bytes_if_rows_per_iteration"]


@pytest.mark.parametrize("task", sorted(PG_TASKS))
@pytest.mark.parametrize("algo", ["maml-trpo", "promp", "dice"])
def test_pg_maml_on_ray_gives_the_local_numbers(cluster, tmp_path, algo, task, slice_log):
    local = train(tmp_path / "local", "local", algo=algo, task=task)
    remote = train(tmp_path / "ray", "ray", algo=algo, task=task)
    assert numbers(remote) == numbers(local)
    assert [m[RESTARTS] for m in remote] == [0, 0, 0]
    a, b = final_state(tmp_path / "local"), final_state(tmp_path / "ray")
    assert torch.equal(a["theta"], b["theta"])
    assert torch.equal(a["normalizer"]["stats"], b["normalizer"]["stats"])
    assert a["normalizer"]["stats"][0] > 0, "the normaliser should have seen observations"
    assert max(slice_log) == 2, "meta-batches should have been split over both actors"
    assert wait_for_free_cpus() == 2.0, "the run's actors must be gone when it ends"


def test_pg_maml_killed_actor_is_replaced_and_the_run_keeps_its_numbers(cluster, tmp_path,
                                                                          monkeypatch):
    local = train(tmp_path / "local", "local", algo="promp", task="nav2d", iterations=4)
    killed = []

    def kill_one(objective, slots):
        # iteration 1's pre-adaptation phase (iteration 0 sampled pre, post and the test
        # evaluation's pre and post), mid-phase
        if isinstance(objective, RayTrajectorySampler) and objective.calls == 4 and not killed:
            victim = slots[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    monkeypatch.setattr(RayObjective, "after_submit", kill_one)
    remote = train(tmp_path / "ray", "ray", algo="promp", task="nav2d", iterations=4)
    assert killed, "the hook should have killed an actor"
    assert numbers(remote) == numbers(local)
    assert [m[RESTARTS] for m in remote] == [0, 1, 1, 1]
    assert torch.equal(final_state(tmp_path / "local")["theta"],
                       final_state(tmp_path / "ray")["theta"])
    assert wait_for_free_cpus() == 2.0


def test_pg_maml_resume_on_ray_equals_an_uninterrupted_local_run(cluster, tmp_path):
    straight = train(tmp_path / "straight", "local", algo="maml-trpo", task="nav2d",
                     iterations=4)
    train(tmp_path / "resumed", "ray", algo="maml-trpo", task="nav2d", iterations=2)
    assert main(["train", "--resume", str(tmp_path / "resumed"), "--set", "iterations=4",
                 "--quiet"]) == 0
    resumed = runmod.RunDir(tmp_path / "resumed").read_metrics()
    assert numbers(resumed) == numbers(straight)
    assert torch.equal(final_state(tmp_path / "straight")["theta"],
                       final_state(tmp_path / "resumed")["theta"])


def test_pg_bench_iteration_times_both_backends_in_one_run(cluster, capsys):
    assert main(["bench", "iteration", "--algo", "maml-trpo", "--task", "nav2d", "--backend",
                 "ray", "--repeats", "1", "--json", *set_args(PG_SMOKE[:2])]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["algo"] == "maml-trpo" and result["ray_actors"] == 2
    assert result["same_numbers"] is True
    assert 0 < result["ray_bytes_sent_per_iteration"] < result["ray_bytes_if_rows_per_iteration"]


def test_compare_on_ray_runs_both_sides_there_with_the_local_numbers(cluster, tmp_path):
    from tests.test_compare import compare_args, csv_without_wall_time
    from workbench.app import runconfig as cfg
    args = compare_args(tmp_path / "local", algos="es-maml,maml-trpo", budget=200,
                        sets=["eval_every=2"])
    assert main([*args, "--quiet"]) == 0
    args = compare_args(tmp_path / "ray", algos="es-maml,maml-trpo", budget=200,
                        sets=["eval_every=2"])
    assert main([*args, "--quiet", "--backend", "ray"]) == 0
    for algo in ("es-maml", "maml-trpo"):
        assert cfg.load(tmp_path / "ray" / algo / "seed0" / "config.yaml")["backend"] == "ray"
    assert csv_without_wall_time(tmp_path / "ray" / "compare.csv") == \
        csv_without_wall_time(tmp_path / "local" / "compare.csv")


def test_split_tasks_covers_every_task_in_order():
    for n, parts in [(1, 2), (2, 2), (5, 2), (40, 3), (3, 16)]:
        bounds = split_tasks(n, parts)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a < b for a, b in bounds)
        assert all(b == c for (_, b), (c, _) in zip(bounds, bounds[1:]))
        assert len(bounds) == min(parts, n)


def test_split_rows_is_chunk_aligned_and_covers_every_row():
    from workbench.obs_normalization import STATS_CHUNK
    for n, parts in [(1, 2), (64, 2), (65, 2), (6600, 2), (6600, 7), (300, 16)]:
        bounds = split_rows(n, parts)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a % STATS_CHUNK == 0 and a < b for a, b in bounds)
        assert all(b == c for (_, b), (c, _) in zip(bounds, bounds[1:]))
        assert len(bounds) == min(parts, -(-n // STATS_CHUNK))


def test_backend_errors_are_one_line_and_name_the_fix(tmp_path, capsys, monkeypatch):
    assert main(["train", "--algo", "es-maml", "--task", "four-corners", "--out",
                 str(tmp_path / "a"), "--backend", "dask"]) == 2
    assert "must be one of local, ray; got 'dask'" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    with pytest.raises(ValueError, match="backend 'ray' is not available for x"):
        make_backend({"backend": "ray"}, ("local",), "x")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(ValueError, match=r"pip install -e '\.\[ray\]'"):
        make_backend({"backend": "ray"}, ("local", "ray"))


PENDULUM = "gym:examples.target_pendulum:TargetPendulum"


@pytest.mark.parametrize("algo", ["es-maml", "promp"])
def test_a_gymnasium_task_on_ray_gives_the_local_numbers(cluster, tmp_path, algo):
    """Issue 28: an adapted gymnasium environment (one env per rollout, reset from its
    seed) gives the same numbers on Ray's actors as in this process."""
    sets = RAY_SMOKE if algo == "es-maml" else PG_SMOKE

    def run(out: Path, backend: str) -> list[dict]:
        assert main(["train", "--algo", algo, "--task", PENDULUM, "--out", str(out), "--seed",
                     "2", "--quiet", "--backend", backend,
                     *set_args([*sets, "horizon=20", "iterations=2"])]) == 0
        return runmod.RunDir(out).read_metrics()

    local, remote = run(tmp_path / "local", "local"), run(tmp_path / "ray", "ray")
    assert numbers(remote) == numbers(local)
    assert torch.equal(final_state(tmp_path / "local")["theta"],
                       final_state(tmp_path / "ray")["theta"])
    assert wait_for_free_cpus() == 2.0
