"""Pilot studies: short experiments that find a cause, run by hand (`python -m
pilots.NAME`). Their results are pilots, not verdicts: docs/reproductions.md
says which runs decided what.

`train` is what every pilot shares: one `workbench train` run per (factor, seed) in its own
process and directory, resumed or reused when it is there already.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from workbench.metrics import TEST_POST
from workbench.app.rundir import RunDir


def train(out: Path, algo: str, task: str, sets: dict[str, Any], seed: int) -> Path:
    """Train (or resume, or reuse) one run at `out/seed<seed>`; returns its directory."""
    path = out / f"seed{seed}"
    if (path / "config.yaml").is_file():  # resume, to the (possibly longer) budget asked
        cmd = ["train", "--resume", str(path), "--quiet", "--set",
               f"iterations={sets['iterations']}"]
    else:
        cmd = ["train", "--algo", algo, "--task", task, "--seed", str(seed), "--out", str(path),
               "--quiet"]
        for k, v in sets.items():
            cmd += ["--set", f"{k}={v}"]
    subprocess.run([str(Path(sys.executable).parent / "workbench"), *cmd], check=True,
                   stdout=subprocess.DEVNULL)
    return path


def final(path: Path, key: str = TEST_POST, last: int = 3) -> float:
    """Mean of a run's last `last` test evaluations of `key`."""
    rows = RunDir(path).read_metrics()
    evals = [r[key] for r in rows if key in r]
    return sum(evals[-last:]) / len(evals[-last:])


def final_share(path: Path, share: float = 0.2, key: str = TEST_POST) -> float:
    """Mean of `key` over a run's evaluations in the last `share` of its iterations."""
    rows = RunDir(path).read_metrics()
    evals = [(r["iteration"], r[key]) for r in rows if key in r]
    last = rows[-1]["iteration"] + 1
    tail = [v for it, v in evals if it + 1 > (1 - share) * last]
    return sum(tail) / len(tail)
