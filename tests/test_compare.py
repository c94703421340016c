"""`workbench compare` over the experiment runner: refusing another config's directory,
Ctrl-C, `--set` checks, and the one mean +- std computation."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from workbench.app.curves import curves
from workbench import metrics as m
from workbench.app.cli import main

#: Small enough that a whole compare trains in seconds: ES-MAML spends 21 rollouts per
#: iteration, ProMP 100.
SMALL = ["num_perturbations=2", "num_current_evals=1", "eval_adaptations=2", "meta_batch=10",
         "eval_every=5"]


def compare_args(out, task="nav2d", K=5, budget=300, algos="es-maml,promp", seeds=1,
                 sets=()):
    args = ["compare", "--task", task, "--algos", algos, "--seeds", str(seeds),
            "--budget-rollouts", str(budget), "--out", str(out), "--set", f"K={K}"]
    for item in [*SMALL, *sets]:
        args += ["--set", item]
    return args


def snapshot(directory):
    return {p.relative_to(directory): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def csv_without_wall_time(path):
    with path.open() as f:
        return [{k: v for k, v in row.items() if k != m.WALL_TIME} for row in csv.DictReader(f)]


def test_a_directory_of_another_task_and_K_is_refused_and_left_untouched(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(compare_args(out, "nav2d", K=5, budget=1)) == 0  # one iteration per run
    assert (out / "compare.md").is_file()
    before = snapshot(out)
    capsys.readouterr()
    assert main(compare_args(out, "four-corners", K=3, budget=1)) == 2
    err = capsys.readouterr().err.strip()
    print(err)
    assert len(err.splitlines()) == 1
    assert "holds a run with K=5, task.name='nav2d'" in err
    assert "asks for K=3, task.name='four-corners'" in err
    assert snapshot(out) == before
    # the same compare again reuses every run as it is
    from workbench.app.compare import compare
    result = compare("nav2d", ["es-maml", "promp"], 1, 1, out, ["K=5", *SMALL], progress=False)
    assert (result["trained"], result["reused"]) == (0, 2)
    runs = lambda files: {p: b for p, b in files.items() if p.parts[0] in ("es-maml", "promp")}
    assert runs(snapshot(out)) == runs(before)


def test_ctrl_c_stops_the_whole_compare_and_the_rerun_resumes_to_the_same_numbers(tmp_path):
    out, reference = tmp_path / "interrupted", tmp_path / "reference"
    args = compare_args(out, budget=300)
    proc = subprocess.Popen([sys.executable, "-m", "workbench", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    metrics = out / "es-maml" / "seed0" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.is_file() and metrics.read_text().strip()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the first run never wrote an iteration"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    print(stderr.splitlines()[-1])
    assert proc.returncode == 130, stderr[-2000:]
    stopped = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert stopped[-1][m.ROLLOUTS] < 300  # stopped before its budget...
    assert not (out / "promp").exists()  # ...and the second algorithm never started
    assert not (out / "compare.md").exists() and not (out / "compare.csv").exists()
    # the progress display counts the run's rollout budget, not the iteration cap
    assert "/300" in stderr and "1000000" not in stderr and "runs" in stderr

    assert main(args) == 0  # the same command again
    resumed = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert resumed[0][m.WALL_TIME] == stopped[0][m.WALL_TIME]  # continued, not restarted
    assert main(compare_args(reference, budget=300)) == 0
    assert csv_without_wall_time(out / "compare.csv") == \
        csv_without_wall_time(reference / "compare.csv")
    rows = csv_without_wall_time(out / "compare.csv")
    assert {r["algo"] for r in rows} == {"es-maml", "promp"}
    assert (out / "compare.md").read_text().splitlines()[0] == \
        (reference / "compare.md").read_text().splitlines()[0]


@pytest.mark.parametrize("item, message", [
    ("sigmaa=1", "--set sigmaa=1: no algorithm in --algos (es-maml, promp) has the config key "
                 "'sigmaa'; did you mean 'sigma'?"),
    ("iterations=2", "--set iterations=2: compare sets 'iterations' itself"),
    ("promp:sigma=1", "--set promp:sigma=1: promp has no config key 'sigma'"),
    ("dice:beta=1", "--set dice:beta=1: 'dice' is not one of --algos (es-maml, promp)"),
    ("promp:inner_lr=abc", "promp: config key 'inner_lr' must be a number; got 'abc'"),
])
def test_bad_sets_fail_in_one_line_before_anything_is_created(tmp_path, capsys, item, message):
    out = tmp_path / "cmp"
    assert main(compare_args(out, sets=[item])) == 2
    err = capsys.readouterr().err.strip()
    print(err)
    assert len(err.splitlines()) == 1
    assert message in err
    assert not out.exists()


def test_curves_average_seeds_on_a_common_grid():
    rows = lambda pts: [{m.ITERATION: i, m.ROLLOUTS: r, m.WALL_TIME: t, m.TEST_POST: y}
                        for i, r, t, y in pts]
    a = rows([(0, 10, 1.0, 0.0), (4, 50, 3.0, 4.0), (9, 100, 5.0, 8.0)])
    b = rows([(0, 10, 2.0, 2.0), (4, 50, 4.0, 2.0), (9, 100, 6.0, 2.0)])
    # shared x values: the evaluations themselves, iterations counted as completed
    x, mean, std = curves([a, b], "iterations")
    assert x.tolist() == [1, 5, 10]
    assert mean.tolist() == [1.0, 3.0, 5.0] and std.tolist() == [1.0, 1.0, 3.0]
    # wall time differs per seed: both are interpolated onto every x from the latest start
    # to the slowest seed's end; a seed that finished sooner holds its final value (a's 8)
    x, mean, _ = curves([a, b], "wall_time")
    assert x.tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert mean.tolist() == pytest.approx([(2 + 2) / 2, (4 + 2) / 2, (6 + 2) / 2, (8 + 2) / 2,
                                           (8 + 2) / 2])
    # lines without the metric (training iterations) are skipped
    x, _, _ = curves([a + [{m.ITERATION: 10, m.ROLLOUTS: 110, m.WALL_TIME: 7.0}], b],
                                "rollouts")
    assert x.tolist() == [10, 50, 100]
    with pytest.raises(ValueError, match="no seed has a value"):
        curves([[{m.ITERATION: 0}]], "iterations")
    assert np.isfinite(curves([a], "rollouts")[1]).all()
