"""A run directory: its files, where they go, and what produced it.

A run directory holds `config.yaml` (the fully resolved config), `metrics.jsonl` (one JSON
object per iteration, keys listed in docs/es-maml.md; a torn last line, from a process
killed mid-write, is dropped when read), TensorBoard event files, `checkpoints/`,
`figures/`, `evaluations/` (every test adaptation of each evaluation:
`write_adaptations`) and `provenance.json` (the project version and commit and the main
libraries' versions, written once when the run starts). `list_runs` finds every run
directory under a root. The training loop that fills one is `workbench.app.run`'s.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from workbench.algorithm import EvalResult
from workbench.app import runconfig as cfg
from workbench.app.errors import write_text, writing


class RunDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.config = self.path / "config.yaml"
        self.metrics = self.path / "metrics.jsonl"
        self.checkpoints = self.path / "checkpoints"
        self.figures = self.path / "figures"
        self.evaluations = self.path / "evaluations"
        self.provenance = self.path / "provenance.json"

    def read_metrics(self) -> list[dict[str, Any]]:
        """The metrics lines. A last line that does not parse is a write the process was
        killed in the middle of and is left out; a damaged line before it is an error."""
        if not self.metrics.is_file():
            return []
        lines = [line for line in self.metrics.read_text(errors="replace").splitlines()
                 if line.strip()]
        rows = []
        for number, line in enumerate(lines, 1):
            try:
                rows.append(json.loads(line))
            except ValueError:
                if number == len(lines):
                    break
                raise ValueError(f"{self.metrics}: line {number} is not a JSON object; "
                                 f"the file is damaged") from None
        return rows

    def last_metrics(self) -> dict[str, Any] | None:
        """The last complete metrics line, read from the file's end (cheap for a progress
        display polling a long run), or None; a torn last line is passed over, as in
        `read_metrics`."""
        try:
            with self.metrics.open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 8192))
                lines = f.read().splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            try:
                return json.loads(line)
            except ValueError:
                continue
        return None

    def write_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Replace metrics.jsonl by `rows` (written aside, then renamed)."""
        write_text(self.metrics, "".join(json.dumps(r) + "\n" for r in rows))


def check_out_dir(path: str | Path, flag: str = "--out") -> Path:
    """`path` as a directory this process can create or write in, or a one-line error
    naming it: not an existing file, not under a file, and writable."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {path} is an existing file; {flag} takes a directory")
    parent = path
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise ValueError(f"{flag} {path} lies under {parent}, which is a file, not a directory")
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {path}: {parent} is not writable by this user")
    return path


def git_commit() -> str:
    """The commit of the checkout this package runs from (`+dirty` with uncommitted
    changes to tracked files), or "unknown" (not a git checkout, no git)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10)
        if commit.returncode != 0 or not commit.stdout.strip():
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10)
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance() -> dict[str, Any]:
    """What produced a run: project version and commit, Python and library versions."""
    from importlib.metadata import PackageNotFoundError, version

    from workbench import __version__

    libraries = {}
    for name in ("torch", "numpy", "mujoco", "gymnasium"):
        try:
            libraries[name] = version(name)
        except PackageNotFoundError:
            libraries[name] = "not installed"
    return {"workbench_version": __version__, "git_commit": git_commit(),
            "python": platform.python_version(), "platform": platform.platform(),
            "libraries": libraries, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def write_provenance(run: RunDir) -> None:
    """Write provenance.json once, when a run starts; a resume leaves it as it is."""
    if not run.provenance.exists():
        write_text(run.provenance, json.dumps(provenance(), indent=2) + "\n")


def write_adaptations(run: RunDir, result: EvalResult, iteration: int) -> Path | None:
    """Every test adaptation of one evaluation, `evaluations/iter_NNNNNN.npz`: `tasks`,
    `pre` and `post` values per adaptation and, for 2-D tasks, `positions` [T + 1, n, 2]
    (float32). The figure checks take their statistics beyond the mean from these."""
    if result.post_values is None:
        return None
    arrays = {"iteration": np.array(iteration), "tasks": result.tasks.numpy(),
              "pre": result.pre_values.double().numpy(),
              "post": result.post_values.double().numpy()}
    if result.positions is not None:
        arrays["positions"] = result.positions.float().numpy()
    path = run.evaluations / f"iter_{iteration:06d}.npz"
    tmp = path.with_suffix(".tmp.npz")
    with writing(path):
        run.evaluations.mkdir(exist_ok=True)
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    return path


def list_runs(root: str | Path) -> list[dict[str, Any]]:
    """Every run directory under `root` (any depth, `root` itself included): algorithm,
    task, seed, iterations done and configured, and the last test evaluation. A directory
    whose config or metrics cannot be read is listed with `problem` instead."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root} is not a directory")
    found = []
    for config_path in sorted(root.rglob("config.yaml")):
        run = RunDir(config_path.parent)
        entry: dict[str, Any] = {"run_dir": str(run.path)}
        try:
            config = cfg.load(run.config)
            rows = run.read_metrics()
        except (ValueError, OSError) as err:
            found.append({**entry, "problem": str(err)})
            continue
        evals = [m for m in rows if "test/post_adaptation_return" in m]
        task = config["task"]
        found.append({**entry, "algo": config["algo"],
                      "task": task.get("name") if isinstance(task, dict) else task,
                      "seed": config.get("seed"),
                      "iterations_done": rows[-1]["iteration"] + 1 if rows else 0,
                      "iterations": config.get("iterations"),
                      "last_test_iteration": evals[-1]["iteration"] if evals else None,
                      "last_test_post_adaptation_return":
                          evals[-1]["test/post_adaptation_return"] if evals else None})
    return found
