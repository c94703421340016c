"""No number changes: short runs of every RL algorithm on a point task and a MuJoCo task,
whose metrics (everything but wall time) were recorded as fixtures before a refactoring
began, must come out bit-identical after it. Regenerate a fixture only for a change that
is meant to change numbers, and say so in its commit:

    python -m tests.test_numbers --record
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import set_args
from workbench.app import run as runmod
from workbench.app.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "numbers"
TASKS = {"four-corners": [], "halfcheetah-fb": ["horizon=10", "task.nthread=1"]}
ALGOS = {
    "es-maml": ["num_perturbations=4", "num_current_evals=2", "K=3", "horizon=20",
                "eval_every=1", "eval_adaptations=4", "iterations=3"],
    "maml-trpo": ["meta_batch=2", "K=2", "horizon=20", "eval_every=1", "eval_adaptations=2",
                  "iterations=3"],
    "promp": ["meta_batch=2", "K=2", "horizon=20", "eval_every=1", "eval_adaptations=2",
              "iterations=3"],
    "dice": ["meta_batch=2", "K=2", "horizon=20", "eval_every=1", "eval_adaptations=2",
             "iterations=3"],
}
CASES = [(a, t) for a in ALGOS for t in TASKS]


def numbers(algo: str, task: str, out: Path) -> list[dict]:
    """The run's metrics lines without wall time (the only value a machine may change)."""
    assert main(["train", "--algo", algo, "--task", task, "--out", str(out), "--quiet",
                 "--seed", "7", *set_args([*ALGOS[algo], *TASKS[task]])]) == 0
    return [{k: v for k, v in row.items() if k != "wall_time_s"}
            for row in runmod.RunDir(out).read_metrics()]


@pytest.mark.parametrize("algo,task", CASES, ids=[f"{a}-{t}" for a, t in CASES])
def test_the_numbers_are_the_recorded_ones(algo, task, tmp_path):
    recorded = json.loads((FIXTURES / f"{algo}-{task}.json").read_text())
    assert numbers(algo, task, tmp_path / "run") == recorded


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    import tempfile
    for algo, task in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            rows = numbers(algo, task, Path(tmp) / "run")
        (FIXTURES / f"{algo}-{task}.json").write_text(json.dumps(rows, indent=1) + "\n")
        print(f"recorded {algo} on {task}: {len(rows)} iterations")
