"""The life of a run directory (issue 13): no dead ends after a kill, exit codes, one-line
errors for ordinary mistakes, `evaluate` against the log, provenance, `workbench runs`,
plain progress lines in logs, and MuJoCo's compiler warning."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import ES_TINY, set_args
from workbench.app import run as runmod
from workbench.app.cli import main

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
#: ES_TINY for 30 iterations with the default checkpoint_every (50): until the end, the
#: only checkpoint is the initial state.
LONG = [*ES_TINY, "iterations=30", "checkpoint_every=50"]


def train_args(out: Path, sets: list[str], quiet: bool = True) -> list[str]:
    return ["train", "--algo", "es-maml", "--task", "four-corners", "--out", str(out),
            *(["--quiet"] if quiet else []), *set_args(sets)]


def numbers(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in rows]


def spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "workbench", *args], cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lines(metrics: Path, n: int, proc: subprocess.Popen, limit_s: float = 120) -> None:
    deadline = time.time() + limit_s
    while time.time() < deadline and proc.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"{metrics} did not reach {n} lines (rc {proc.poll()})")


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> tuple[Path, list[dict]]:
    """One uninterrupted 30-iteration run: what every interrupted one must end up equal to."""
    out = tmp_path_factory.mktemp("straight") / "run"
    assert main(train_args(out, LONG)) == 0
    return out, runmod.RunDir(out).read_metrics()


# -- item 1: no dead-end run directories ----------------------------------------------------
def test_sigkill_before_the_first_periodic_checkpoint_then_resume(tmp_path, straight):
    out = tmp_path / "killed"
    proc = spawn(train_args(out, LONG))
    wait_for_lines(out / "metrics.jsonl", 5, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert ckpts == ["iter_000000.pt"], "only the initial state was checkpointed"
    provenance = (out / "provenance.json").read_bytes()
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    assert numbers(runmod.RunDir(out).read_metrics()) == numbers(straight[1])
    assert (out / "provenance.json").read_bytes() == provenance  # a resume leaves it alone


@pytest.mark.parametrize("damage", [pytest.param("tmp-only", marks=pytest.mark.slow),
                                    "truncated-initial",
                                    pytest.param("torn-line-only", marks=pytest.mark.slow)])
def test_killed_during_the_first_checkpoint_write(tmp_path, straight, damage, capsys):
    """What a kill leaves mid-write (a partial `.pt.tmp` or, on a filesystem without atomic
    rename, a truncated checkpoint; a torn last metrics line) is repaired on resume."""
    src, rows = straight
    out = tmp_path / "run dir"
    (out / "checkpoints").mkdir(parents=True)
    (out / "config.yaml").write_bytes((src / "config.yaml").read_bytes())
    initial = (src / "checkpoints" / "iter_000000.pt").read_bytes()
    torn = json.dumps(rows[5])[:40]
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:5]) + torn)
    if damage == "tmp-only":
        (out / "checkpoints" / "iter_000000.pt.tmp").write_bytes(initial[: len(initial) // 3])
    elif damage == "truncated-initial":
        (out / "checkpoints" / "iter_000000.pt").write_bytes(initial[: len(initial) // 3])
    else:
        (out / "checkpoints" / "iter_000000.pt").write_bytes(initial)
    assert len(runmod.RunDir(out).read_metrics()) == 5  # the torn line is not an error
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    if damage == "truncated-initial":
        assert "corrupt or truncated" in err and "set aside" in err
        assert (out / "checkpoints" / "iter_000000.pt.damaged").is_file()
    if damage != "torn-line-only":
        assert "no usable checkpoint; restarting it from iteration 0" in err
    assert numbers(runmod.RunDir(out).read_metrics()) == numbers(rows)
    assert not list((out / "checkpoints").glob("*.tmp"))


@pytest.mark.parametrize("damage", ["half", "zeros", "empty"])
def test_a_damaged_latest_checkpoint_falls_back_to_an_older_one(tmp_path, damage, capsys):
    whole = tmp_path / "whole"
    assert main(train_args(whole, [*ES_TINY, "iterations=4"])) == 0
    out = tmp_path / "r"
    assert main(train_args(out, [*ES_TINY, "iterations=2"])) == 0
    ckpt = out / "checkpoints" / "iter_000002.pt"
    good = ckpt.read_bytes()
    ckpt.write_bytes({"half": good[: len(good) // 2], "zeros": b"\0" * 100, "empty": b""}[damage])
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--set", "iterations=4", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"workbench: warning: {ckpt}: " in err and "set aside as iter_000002.pt.damaged" in err
    resumed, uninterrupted = runmod.RunDir(out).read_metrics(), runmod.RunDir(whole).read_metrics()
    assert numbers(resumed) == numbers(uninterrupted)


def test_a_damaged_middle_metrics_line_is_an_error(tmp_path):
    run = runmod.RunDir(tmp_path)
    run.metrics.write_text('{"iteration": 0}\n{"itera\n{"iteration": 2}\n')
    with pytest.raises(ValueError, match="line 2 is not a JSON object"):
        run.read_metrics()


# -- item 2: exit codes and messages --------------------------------------------------------
def test_sigint_exits_130_with_a_shell_quoted_resume_command(tmp_path):
    out = tmp_path / "with space" / "run"
    proc = spawn(train_args(out, [*ES_TINY, "iterations=500"], quiet=False))
    wait_for_lines(out / "metrics.jsonl", 3, proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    line = next(l for l in stdout.splitlines() if "Continue with:" in l)
    command = line.split("Continue with: ", 1)[1]
    assert command == f"workbench train --resume {shlex.quote(str(out))}"
    assert shlex.split(command)[-1] == str(out)
    # item 7: stderr is a pipe here, so progress comes as plain lines, not a bar
    assert "\r" not in stderr and "\x1b" not in stderr
    assert "es-maml four-corners: 0/500 it" in stderr


def test_resume_refuses_fewer_iterations_than_done(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(train_args(out, [*ES_TINY, "iterations=4"])) == 0
    config = (out / "config.yaml").read_text()
    assert main(["train", "--resume", str(out), "--set", "iterations=2", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"workbench: error: iterations=2 is below the 4 iterations {out} has "
                   f"already done; --resume takes iterations >= 4 (start a new run for a "
                   f"shorter one)")
    assert (out / "config.yaml").read_text() == config  # not rewritten


def test_evaluate_reports_the_logged_evaluation_of_the_same_checkpoint(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(train_args(out, [*ES_TINY, "iterations=4"])) == 0
    logged = runmod.RunDir(out).read_metrics()[3]
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["iteration"] == 4
    assert result["test/post_adaptation_return"] == logged["test/post_adaptation_return"]
    assert result["test/pre_adaptation_return"] == logged["test/pre_adaptation_return"]
    assert result["logged_post_adaptation_return"] == logged["test/post_adaptation_return"]
    assert "same tasks and seeds" in result["note"]
    assert main(["evaluate", str(out), "--adaptations", "3"]) == 0
    other = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "differs from the run's eval_adaptations 8" in other["note"]


# -- item 3: one-line errors, rc 2 ----------------------------------------------------------
def _fixtures(tmp: Path) -> dict[str, str]:
    (tmp / "file").write_text("x")
    (tmp / "binary.yaml").write_bytes(bytes(range(256)) * 4)
    (tmp / "confdir").mkdir()
    for name, text in (("empty", ""), ("corrupt", "algo: [es-maml\n  task: {")):
        (tmp / name).mkdir()
        (tmp / name / "config.yaml").write_text(text)
    paths = {k: str(tmp / k) for k in ("file", "confdir", "empty", "corrupt")}
    return {**paths, "binary": str(tmp / "binary.yaml")}


TRAIN = ["train", "--algo", "es-maml", "--task", "four-corners", "--quiet"]
ERRORS = [  # (argv with {placeholders}, the message after "workbench: error: ")
    ([*TRAIN, "--out", "{file}"], "--out {file} is an existing file; --out takes a directory"),
    ([*TRAIN, "--out", "{file}/run"],
     "--out {file}/run lies under {file}, which is a file, not a directory"),
    (["reproduce", "fig1", "--out", "{file}"],
     "--out {file} is an existing file; --out takes a directory"),
    (["compare", "--task", "nav2d", "--algos", "es-maml", "--budget-rollouts", "100",
      "--out", "{file}"], "--out {file} is an existing file; --out takes a directory"),
    ([*TRAIN, "--out", "{tmp}/r", "--config", "{binary}"],
     "config file {binary} is not valid YAML text: "),
    ([*TRAIN, "--out", "{tmp}/r", "--config", "{confdir}"],
     "config file {confdir} is a directory; --config takes a YAML file"),
    (["train", "--resume", "{empty}"],
     "{empty}/config.yaml is empty or not a run's config (no algo and task keys)"),
    (["train", "--resume", "{corrupt}"], "{corrupt}/config.yaml is not a valid config file: "),
    (["bench", "rollouts", "--task", "nav2d", "--rollouts", "-5"],
     "--rollouts must be a positive integer; got -5"),
    (["bench", "rollouts", "--task", "nav2d", "--rollouts", "0"],
     "--rollouts must be a positive integer; got 0"),
    (["bench", "rollouts", "--task", "nav2d", "--threads", "-1"],
     "--threads must be a positive number of threads (default: all cores); got -1"),
    (["bench", "rollouts", "--task", "nav2d", "--loop-rollouts", "0"],
     "--loop-rollouts must be a positive integer; got 0"),
    (["bench", "iteration", "--task", "nav2d", "--repeats", "0"],
     "--repeats must be a positive number of timed iterations; got 0"),
    (["bench", "rollouts", "--task", "nav2d", "--set", "policy=HH"],
     "bench rollouts does not take --set (got 'policy=HH'); use --policy, --horizon and "
     "--rollouts, or bench iteration --set"),
    (["evaluate", "{tmp}", "--adaptations", "0"],
     "--adaptations must be a positive number of test adaptations; got 0"),
    (["evaluate", "{tmp}", "--adaptations", "-4"],
     "--adaptations must be a positive number of test adaptations; got -4"),
    (["reproduce", "fig1", "--backend", "foo", "--out", "{tmp}/o"],
     "unknown backend 'foo'; valid: local, ray"),
    ([*TRAIN, "--out", "{tmp}/r", "--seed", "-1"], "config key 'seed' must be >= 0; got -1"),
    (["compare", "--task", "nav2d", "--algos", "es-maml", "--budget-rollouts", "-1",
      "--out", "{tmp}/c"], "--seeds and --budget-rollouts must be positive; got 3, -1"),
    (["evaluate", "{tmp}/missing"], "{tmp}/missing/config.yaml not found: is this a run "
                                    "directory?"),
]


@pytest.mark.parametrize("argv, message", ERRORS,
                         ids=[f"{i:02d}-{a[0]}-{m.split()[0]}" for i, (a, m) in enumerate(ERRORS)])
def test_ordinary_mistakes_give_one_line_and_rc_2(tmp_path, capsys, argv, message):
    paths = {**_fixtures(tmp_path), "tmp": str(tmp_path)}
    argv = [a.format(**paths) for a in argv]
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("workbench: error: " + message.format(**paths)), lines[0]
    assert not (tmp_path / "r").exists() and not (tmp_path / "o").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_out_directory_that_is_not_writable(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert main([*TRAIN, "--out", str(locked / "r")]) == 2
    assert capsys.readouterr().err.strip() == \
        f"workbench: error: --out {locked / 'r'}: {locked} is not writable by this user"


def test_an_os_error_naming_a_path_is_one_line(tmp_path, capsys, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert main([*TRAIN, "--out", str(tmp_path / "r"), *set_args(ES_TINY)]) == 2
    assert capsys.readouterr().err.strip() == \
        f"workbench: error: {tmp_path / 'r'}: Permission denied"


# -- item 7: bookkeeping --------------------------------------------------------------------
def test_provenance_and_the_runs_listing(tmp_path, capsys):
    out = tmp_path / "a" / "r1"
    assert main(train_args(out, [*ES_TINY, "iterations=2"])) == 0
    prov = json.loads((out / "provenance.json").read_text())
    assert set(prov["libraries"]) == {"torch", "numpy", "mujoco", "gymnasium"}
    assert prov["libraries"]["torch"] == torch.__version__.split("+")[0] or \
        prov["libraries"]["torch"].startswith(torch.__version__.split("+")[0])
    assert prov["workbench_version"] and prov["git_commit"]
    assert "provenance" not in (out / "config.yaml").read_text()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "config.yaml").write_text("")
    capsys.readouterr()
    assert main(["runs", str(tmp_path)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:5] == ["run", "algo", "task", "seed", "iterations"]
    row = next(l for l in table if str(out) in l).split()
    last = runmod.RunDir(out).read_metrics()[-1]["test/post_adaptation_return"]
    assert row[1:5] == ["es-maml", "four-corners", "0", "2/2"]
    assert row[5] == f"{last:.2f}"
    assert any("unreadable" in l for l in table if str(tmp_path / "b") in l)
    assert main(["runs", str(tmp_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r.get("iterations_done") for r in listed] == [2, None]


def test_mujoco_models_compile_without_warning_or_log_file(tmp_path):
    code = ("from workbench.tasks.mujoco_sim import load_model; "
            "m = load_model('half_cheetah.xml'); print(round(float(m.body_mass.sum()), 6))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "14.0"  # settotalmass still applies
    assert "settotalmass" not in proc.stdout + proc.stderr
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()


def test_evaluate_matches_the_log_for_a_pg_baseline(tmp_path, capsys):
    out = tmp_path / "pg"
    assert main(["train", "--algo", "promp", "--task", "nav2d", "--out", str(out), "--quiet",
                 *set_args(["iterations=2", "meta_batch=4", "K=3", "horizon=20", "width=8",
                            "eval_every=2", "eval_adaptations=4", "checkpoint_every=2"])]) == 0
    logged = runmod.RunDir(out).read_metrics()[1]
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["test/post_adaptation_return"] == logged["test/post_adaptation_return"]


def test_time_left_is_the_remaining_work_at_the_pace_so_far():
    from workbench.app.progress import duration, time_left
    assert time_left(10, 60.0, 30) == "~3 min left"  # 6 s a unit, 30 units
    assert time_left(4, 8.0, 5) == "~10 s left"
    assert time_left(1, 600.0, 20) == "~3.3 h left"
    assert time_left(0, 60.0, 5) == "" and time_left(5, 60.0, 0) == ""  # no pace / done
    assert [duration(s) for s in (89, 90, 5399, 5400)] == ["89 s", "2 min", "90 min", "1.5 h"]


def test_plain_progress_lines_say_the_time_left(monkeypatch):
    """A resumed run's pace counts only the units done since it resumed."""
    import io

    from workbench.app import progress
    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    bar = progress.PlainProgress(total=50, initial=20, desc="run", file=out, interval=0.0)
    clock[0] = 160.0
    bar.update(10)  # 10 units in 60 s; 20 to go
    assert out.getvalue().splitlines()[-1] == "run: 30/50 it (60 s, ~2 min left)"


def test_a_reproduce_log_line_says_the_run_s_time_left(tmp_path, monkeypatch, capsys):
    """The runner's plain line for a running run gives its time left at its pace since it
    (re)started: here 2 of a smoke run's 3 iterations took 40 s, so 1 takes ~20 s."""
    from reproductions import runner
    from workbench.app import display as display_mod
    job = runner.prepare("a6", "smoke", tmp_path).jobs[0]
    clock = [1000.0]
    monkeypatch.setattr(display_mod.time, "monotonic", lambda: clock[0])
    display = display_mod.JobDisplay([job], enabled=True)
    assert display.plain  # stderr is captured here, not a terminal
    display.open(job)
    job.path.mkdir(parents=True, exist_ok=True)
    (job.path / "metrics.jsonl").write_text(json.dumps({"iteration": 1, "rollouts": 8,
                                                        "env_steps": 80}) + "\n")
    clock[0] += 40.0
    display.update(job)
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.endswith("seed 0: 2/3 iterations, ~20 s left"), last


def test_a_resumed_run_is_said_to_resume_at_its_newest_checkpoint(tmp_path, capsys):
    """Lines logged after the newest checkpoint are trained again, so the log says the run
    resumes at the checkpoint (1 of 3 iterations here), not at its last metrics line (2)."""
    from reproductions import runner
    from workbench.app import display as display_mod
    from workbench.app.jobs import RESUME
    job = runner.prepare("a6", "smoke", tmp_path).jobs[0]
    (job.path / "checkpoints").mkdir(parents=True)
    (job.path / "checkpoints" / "iter_000001.pt").write_bytes(b"")  # only its name is read
    (job.path / "metrics.jsonl").write_text("".join(
        json.dumps({"iteration": i, "rollouts": 8 * (i + 1)}) + "\n" for i in range(2)))
    job.state = RESUME
    display_mod.JobDisplay([job], enabled=True).open(job)
    line = capsys.readouterr().err.splitlines()[-1]
    assert line.endswith("seed 0 resumed at 1/3 iterations"), line


COUNT_SIGINTS = """
import signal, sys, time
count = 0
def handle(signum, frame):
    global count
    count += 1
    open(sys.argv[1], "w").write(str(count))
signal.signal(signal.SIGINT, handle)
open(sys.argv[1], "w").write("0")
time.sleep(20)
"""


def test_the_runners_own_stop_reaches_each_worker_once(tmp_path):
    """A Ctrl-C reaches each worker once; when one worker then stops first, the runner's
    "stop everything" must not send the others a second SIGINT, which would interrupt them
    before their checkpoint (a compare with --jobs 2 lost a whole run that way). A second
    Ctrl-C still reaches every worker again."""
    from workbench.app.signals import Stop
    files = [tmp_path / f"child{i}" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", COUNT_SIGINTS, str(f)],
                              start_new_session=True) for f in files]
    try:
        deadline = time.monotonic() + 30
        while not all(f.exists() for f in files):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        counts = lambda: [int(f.read_text() or 0) for f in files]

        def settle(expected):
            deadline = time.monotonic() + 10
            while counts() != expected and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # and nothing more arrives
            return counts()

        stop = Stop()
        stop.children.update(procs)
        stop.handle(signal.SIGINT, None)  # the user's Ctrl-C
        assert settle([1, 1]) == [1, 1]
        stop.forward()  # the runner, after one run stopped or failed
        stop.forward()
        assert settle([1, 1]) == [1, 1]
        stop.handle(signal.SIGINT, None)  # a second Ctrl-C
        assert settle([2, 2]) == [2, 2]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
