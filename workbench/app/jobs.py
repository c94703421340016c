"""Jobs: the runs a `compare` or `reproduce` command trains, described and checked first.

A caller describes each run as a `Job` (a label, a run directory and the config from
`resolved_config`). `plan` checks every job before anything is trained or written: it
builds each distinct config's algorithm (a bad value fails here, not after other runs have
trained), reads any run directory that already exists and refuses one whose stored config
differs from the job's (`ConfigMismatch`, naming every differing key with both values), or
which has already trained past the job's budget. Each job ends up `done` (finished: reused
as it is), `resume` (checkpointed: continued) or `new`. Nothing on disk changes until
`prepare_dir`, which `workbench.app.experiment` calls as a job starts. A run's budget is
rollouts for a `budget_rollouts` run, else iterations (`budget`, `progress_of`). This
module does not know which algorithms exist: it finds them through
`workbench.algorithm.algorithm_class`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from workbench import metrics as m
from workbench.algorithm import algorithm_class
from workbench.app import run as runmod
from workbench.app import runconfig as cfg
from workbench.app.checkpoint import list_checkpoints
from workbench.app.rundir import RunDir

NEW, RESUME, DONE = "new", "resume", "done"


# -- configs ------------------------------------------------------------------------------
def resolved_config(algo: str, task: str, sets: Sequence[str] = (), seed: int = 0,
                    backend: str | None = None) -> dict[str, Any]:
    """The fully resolved config of one run: `algo`'s defaults, then the `sets` strings
    (`key=value`), the seed and the backend (one the algorithm cannot use falls back to
    local: exact MAML, `maml`, runs only locally, so `reproduce a6 --backend ray` trains
    its oracle runs locally and its ES-MAML runs on Ray).

    Every config `compare` and `reproduce` train is built here, so the config layer stays
    behind this one function."""
    cls = algorithm_class(algo)
    explicit: dict[str, Any] = {"seed": int(seed)}
    if backend is not None:
        explicit["backend"] = backend if backend in cls.backends else "local"
    return cfg.resolve(cls, None, list(sets), task=task, **explicit)


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"task": {"name": x}}` -> `{"task.name": x}`; an empty section stays one key."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


class ConfigMismatch(ValueError):
    """A run directory holds a run of another config than the one asked for."""


_ABSENT = "(absent)"


def differences(have: Mapping[str, Any], want: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, stored value, wanted value) for every key that changes a run's numbers
    (everything but `workbench.app.run.RESUMABLE_KEYS`)."""
    a, b = flatten(have), flatten(want)
    out = []
    for key in sorted(set(a) | set(b)):
        if key.split(".")[0] in runmod.RESUMABLE_KEYS:
            continue
        if a.get(key, _ABSENT) != b.get(key, _ABSENT):
            out.append((key, a.get(key, _ABSENT), b.get(key, _ABSENT)))
    return out


def _pairs(items: list[tuple[str, Any]]) -> str:
    return ", ".join(f"{k}={v}" if v is _ABSENT else f"{k}={v!r}" for k, v in items)


def mismatch_message(path: Path, diffs: list[tuple[str, Any, Any]]) -> str:
    return (f"{path} holds a run with {_pairs([(k, h) for k, h, _ in diffs])}; this command "
            f"asks for {_pairs([(k, w) for k, _, w in diffs])}: use another --out, or delete "
            f"that run directory")


# -- budgets ------------------------------------------------------------------------------
def budget(config: Mapping[str, Any]) -> tuple[int, str]:
    """(total, axis) a run trains to: its rollout budget if it has one, else iterations."""
    rollouts = cfg.rollout_budget(config)
    if rollouts > 0:
        return rollouts, "rollouts"
    return int(config["iterations"]), "iterations"


def progress_of(rows: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> int:
    """How much of its budget a run with these metrics lines has spent."""
    if not rows:
        return 0
    total, axis = budget(config)
    return min(int(m.axis_value(rows[-1], axis)), total)


def is_finished(rows: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> bool:
    if not rows:
        return False
    rollouts = cfg.rollout_budget(config)
    if rollouts > 0 and rows[-1][m.ROLLOUTS] >= rollouts:
        return True
    return rows[-1][m.ITERATION] + 1 >= int(config["iterations"])


def finished(path: str | Path, config: Mapping[str, Any]) -> bool:
    """Whether the run in `path` has spent the budget of `config`."""
    return is_finished(RunDir(path).read_metrics(), config)


def overshoot(rows: Sequence[Mapping[str, Any]], config: Mapping[str, Any],
               have: Mapping[str, Any]) -> str | None:
    """Why a stored run went past the wanted budget (its curve would not be this job's),
    or None."""
    if not rows:
        return None
    iterations = int(config["iterations"])
    if rows[-1][m.ITERATION] + 1 > iterations:
        return (f"iterations={have.get('iterations')} ({rows[-1][m.ITERATION] + 1} trained); "
                f"this command asks for iterations={iterations}")
    rollouts = cfg.rollout_budget(config)
    if rollouts > 0:
        reached = [i for i, r in enumerate(rows) if r[m.ROLLOUTS] >= rollouts]
        if reached and reached[0] < len(rows) - 1:
            return (f"budget_rollouts={have.get('budget_rollouts')} ({rows[-1][m.ROLLOUTS]} "
                    f"spent); this command asks for budget_rollouts={rollouts}")
    return None


# -- planning -----------------------------------------------------------------------------
@dataclass
class Job:
    """One run to bring to its budget."""

    label: str  # shown in the progress display and in errors
    path: Path  # the run directory
    config: dict[str, Any]  # from `resolved_config`
    state: str = NEW  # set by `plan`: NEW, RESUME or DONE


def _check_constructs(jobs: Sequence[Job]) -> None:
    """Build each distinct config's algorithm once (seeds aside): a bad value or a task
    the algorithm cannot run fails before any run starts."""
    seen = set()
    for job in jobs:
        key = json.dumps({k: v for k, v in job.config.items() if k != "seed"},
                         sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        try:
            algo = algorithm_class(job.config["algo"])(job.config)
        except ValueError as err:
            raise ValueError(f"{job.label}: {err}") from None
        algo.close()


def stored_config(path: Path) -> dict[str, Any]:
    """A run directory's config, resolved again under today's defaults, so that a config.yaml
    written before a key existed (or before configs were stored fully resolved) compares by
    its values rather than by its spelling. A file that no longer resolves (an unknown key,
    an invalid value) is compared as it is, and so differs."""
    have = cfg.load(path)
    try:
        return cfg.resolve(algorithm_class(have["algo"]), path)
    except ValueError:
        return have


def plan(jobs: Sequence[Job]) -> list[Job]:
    """Check every job and set its state; raises (touching nothing) on the first problem."""
    paths = [job.path for job in jobs]
    if len(set(paths)) != len(paths):
        raise ValueError("two runs share one run directory")
    _check_constructs(jobs)
    for job in jobs:
        directory = RunDir(job.path)
        job.state = NEW
        if not directory.config.exists():
            continue
        have = stored_config(directory.config)
        diffs = differences(have, job.config)
        if diffs:
            raise ConfigMismatch(mismatch_message(job.path, diffs))
        rows = directory.read_metrics()
        past = overshoot(rows, job.config, have)
        if past:
            raise ConfigMismatch(f"{job.path} holds a run with {past}: use another --out, or "
                                 f"delete that run directory")
        if is_finished(rows, job.config):
            job.state = DONE
        elif list_checkpoints(directory.checkpoints):
            job.state = RESUME
    return list(jobs)


def prepare_dir(job: Job) -> None:
    """Write the job's run directory just before it trains."""
    directory = RunDir(job.path)
    if job.state == NEW and directory.config.exists():
        shutil.rmtree(job.path)  # created but never checkpointed: nothing worth keeping
    job.path.mkdir(parents=True, exist_ok=True)
    cfg.dump(job.config, directory.config)  # a resume may change only RESUMABLE_KEYS
