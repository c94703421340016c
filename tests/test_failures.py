"""A user's environment of any shape trains, and every failure ends in one line.

- Capabilities, not shapes: an adapted gymnasium environment whose observation has two
  values (as the built-in point tasks' does) trains like any other; trajectory pictures
  are drawn only for families that declare `has_positions`.
- A write that the operating system refuses mid-run (disk full: a symlink to /dev/full,
  or a real tmpfs that fills) ends the command with one line naming the file, exit status
  1, and the run resumes from its last complete checkpoint to the numbers of a run that was
  never interrupted.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import ES_TINY, set_args
from workbench.app import run as runmod
from workbench.app.cli import main
from workbench.tasks import family_class, make_family

PG_TINY = ["meta_batch=2", "K=2", "horizon=10", "eval_every=1", "eval_adaptations=2"]
TINY = {"es-maml": [*ES_TINY, "horizon=10", "eval_every=1", "eval_adaptations=2"],
        "promp": PG_TINY}


def numbers(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in rows]


# -- capabilities, not shapes ----------------------------------------------------------------
@pytest.mark.parametrize("algo", ["es-maml", "promp"])
@pytest.mark.parametrize("env,obs_dim", [("PointWalk", 2), ("LineWalk", 1)])
def test_an_adapted_environment_of_any_observation_size_trains(algo, env, obs_dim, tmp_path,
                                                              capsys):
    out = tmp_path / "run"
    task = f"gym:tests.gym_envs:{env}"
    rc = main(["train", "--algo", algo, "--task", task, "--out", str(out), "--quiet",
               *set_args([*TINY[algo], "iterations=2"])])
    assert rc == 0, capsys.readouterr().err
    assert make_family(task).obs_dim == obs_dim
    rows = runmod.RunDir(out).read_metrics()
    assert [r["iteration"] for r in rows] == [0, 1]
    assert all("test/post_adaptation_return" in r for r in rows)
    assert not (out / "figures").exists(), "no positions declared, so no trajectory pictures"


def test_positions_are_a_declared_capability():
    assert family_class("four-corners").has_positions and family_class("nav2d").has_positions
    assert not family_class("cartpole-biased").has_positions
    assert not family_class("halfcheetah-fb").has_positions
    assert not family_class("gym:tests.gym_envs:PointWalk").has_positions


# -- one line for a refused write ------------------------------------------------------------
RUN = [*ES_TINY, "iterations=6", "checkpoint_every=2", "eval_every=3"]


def train(out: Path, *extra: str) -> list[str]:
    return ["train", "--algo", "es-maml", "--task", "four-corners", "--out", str(out),
            "--quiet", *set_args(RUN), *extra]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> list[dict]:
    """The same run, never interrupted: what a resumed one must equal."""
    out = tmp_path_factory.mktemp("straight") / "run"
    assert main(train(out)) == 0
    return numbers(runmod.RunDir(out).read_metrics())


#: A file the run will write mid-run (after its checkpoint at 2 iterations), made a link to
#: /dev/full so that writing it fails with ENOSPC, and what the error line says about it.
FULL = {
    "checkpoint": ("checkpoints/iter_000004.pt.tmp", "checkpoints/iter_000004.pt: torch.save "
                                                     "failed"),
    "evaluation": ("evaluations/iter_000002.tmp.npz", "evaluations/iter_000002.npz: No space "
                                                      "left on device"),
    "picture": ("figures/trajectories_000002.png", "figures/trajectories_000002.png: No space "
                                                   "left on device"),
}


@pytest.mark.parametrize("which", list(FULL))
def test_a_refused_write_is_one_line_exit_1_and_the_run_resumes(which, tmp_path, straight,
                                                                 capsys):
    link, said = FULL[which]
    out = tmp_path / "run"
    (out / link).parent.mkdir(parents=True)
    (out / link).symlink_to("/dev/full")
    assert main(train(out)) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"workbench: error: cannot write {out}/{said}"), err
    assert f"{out} resumes from its checkpoint after 2 iterations" in err, err
    (out / link).unlink(missing_ok=True)
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    assert numbers(runmod.RunDir(out).read_metrics()) == straight


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs, where the operating system allows mounting one (root in a sandbox
    that permits it); the run directory lives there and fills it."""
    mount = Path(f"/tmp/wb-full-{uuid.uuid4().hex[:8]}")
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        mount.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)
        mount.rmdir()


def test_a_full_disk_mid_run_is_one_line_and_the_run_resumes_elsewhere(small_disk, tmp_path,
                                                                       capsys):
    out = small_disk / "run"
    assert main(train(out, "--set", "iterations=400")) == 1  # the disk fills first
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"workbench: error: cannot write {out}/"), err
    assert "resumes from its checkpoint after" in err, err
    moved = tmp_path / "moved"  # the user frees space: here, by moving the run
    shutil.copytree(out, moved, symlinks=True)
    total = len(runmod.RunDir(moved).read_metrics()) + 2
    assert main(["train", "--resume", str(moved), "--quiet", "--set",
                 f"iterations={total}"]) == 0
    assert not list(moved.rglob("*.tmp*")), "no temporary file survives the resume"
    straight = tmp_path / "straight"
    assert main(train(straight, "--set", f"iterations={total}")) == 0
    assert numbers(runmod.RunDir(moved).read_metrics()) == \
        numbers(runmod.RunDir(straight).read_metrics())


# -- one line for a run that fails in a worker -----------------------------------------------
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_run_that_fails_in_training_is_one_line(jobs, tmp_path, capsys):
    out = tmp_path / "cmp"
    rc = main(["compare", "--task", "gym:tests.gym_envs:RaisesOffCenter", "--algos",
               "es-maml,promp", "--seeds", "1", "--budget-rollouts", "50", "--jobs", str(jobs),
               "--out", str(out), "--quiet", *set_args(["K=2", "horizon=10", "meta_batch=2",
                                                        "num_perturbations=2"])])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err  # the environment's fault: bad input, inline or in a worker
    assert len(err.splitlines()) == 1, err
    assert "raised FloatingPointError: the pole left the plane" in err, err
    if jobs == 2:
        assert err.startswith("workbench: error: run ") and "failed (exit 2)" in err, err
