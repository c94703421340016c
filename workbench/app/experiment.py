"""Running a set of training runs as one command: the core of `compare` and `reproduce`.

A caller describes each run as a `Job` (a label, a run directory and the config from
`resolved_config`) and hands the list to `run_jobs`, which works in two steps:

1. `plan` checks every job before anything is trained or written: it builds each distinct
   config's algorithm (a bad value fails here, not after other runs have trained), reads
   any run directory that already exists and refuses one whose stored config differs from
   the job's (`ConfigMismatch`, naming every differing key with both values), or which has
   already trained past the job's budget. Each job ends up `done` (finished: reused as it
   is), `resume` (checkpointed: continued) or `new`. Nothing on disk changes.
2. `execute` trains the jobs that are not done, in order, inline (`parallel=1`) or in
   `parallel` one-thread worker processes (`python -m workbench.app.experiment DIR new|resume`).
   A run directory is written only when its job starts. SIGINT or SIGTERM stops the whole
   command: the running runs finish their iteration and checkpoint, no further run starts,
   and the outcome says `interrupted` (callers then write no report and exit with 130).
   The progress display counts runs and, per running run, its budget: rollouts for a
   `budget_rollouts` run, else iterations. It follows each run's `metrics.jsonl`.

`curves` turns per-seed metric lines into mean +- std on a common grid; every learning
curve (compare's and the reproductions') is computed by it. This module does not know
which algorithms exist: it finds them through `workbench.algorithm.algorithm_class`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from workbench.app import runconfig as cfg
from workbench import metrics as m
from workbench.app import run as runmod
from workbench.algorithm import algorithm_class
from workbench.app.checkpoint import iterations_done, list_checkpoints
from workbench.app.progress import INTERVAL_S, is_terminal, time_left

NEW, RESUME, DONE = "new", "resume", "done"
#: Exit status of a worker process whose run was stopped by a signal (checkpointed).
STOPPED_EXIT = 3
#: Seconds between two looks at the running runs' metrics files.
POLL_S = 0.25


# -- configs ------------------------------------------------------------------------------
def resolved_config(algo: str, task: str, sets: Sequence[str] = (), seed: int = 0,
                    backend: str | None = None) -> dict[str, Any]:
    """The fully resolved config of one run: `algo`'s defaults, then the `sets` strings
    (`key=value`), the seed and the backend (one the algorithm cannot use falls back to
    local; every algorithm of the workbench runs on both `local` and `ray`).

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
    rollouts = int(config.get("budget_rollouts") or 0)
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
    rollouts = int(config.get("budget_rollouts") or 0)
    if rollouts > 0 and rows[-1][m.ROLLOUTS] >= rollouts:
        return True
    return rows[-1][m.ITERATION] + 1 >= int(config["iterations"])


def finished(path: str | Path, config: Mapping[str, Any]) -> bool:
    """Whether the run in `path` has spent the budget of `config`."""
    return is_finished(runmod.RunDir(path).read_metrics(), config)


def _overshoot(rows: Sequence[Mapping[str, Any]], config: Mapping[str, Any],
               have: Mapping[str, Any]) -> str | None:
    """Why a stored run went past the wanted budget (its curve would not be this job's),
    or None."""
    if not rows:
        return None
    iterations = int(config["iterations"])
    if rows[-1][m.ITERATION] + 1 > iterations:
        return (f"iterations={have.get('iterations')} ({rows[-1][m.ITERATION] + 1} trained); "
                f"this command asks for iterations={iterations}")
    rollouts = int(config.get("budget_rollouts") or 0)
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
        directory = runmod.RunDir(job.path)
        job.state = NEW
        if not directory.config.exists():
            continue
        have = stored_config(directory.config)
        diffs = differences(have, job.config)
        if diffs:
            raise ConfigMismatch(mismatch_message(job.path, diffs))
        rows = directory.read_metrics()
        past = _overshoot(rows, job.config, have)
        if past:
            raise ConfigMismatch(f"{job.path} holds a run with {past}: use another --out, or "
                                 f"delete that run directory")
        if is_finished(rows, job.config):
            job.state = DONE
        elif list_checkpoints(directory.checkpoints):
            job.state = RESUME
    return list(jobs)


def _prepare(job: Job) -> None:
    """Write the job's run directory just before it trains."""
    directory = runmod.RunDir(job.path)
    if job.state == NEW and directory.config.exists():
        shutil.rmtree(job.path)  # created but never checkpointed: nothing worth keeping
    job.path.mkdir(parents=True, exist_ok=True)
    cfg.dump(job.config, directory.config)  # a resume may change only RESUMABLE_KEYS


# -- signals ------------------------------------------------------------------------------
class _Stop:
    """SIGINT / SIGTERM for the whole command.

    Outside a run our handler sets `stop` (and forwards the signal to worker processes,
    which run in sessions of their own so a terminal's Ctrl-C reaches them only once).
    Inside an inline run, `workbench.app.run.train` installs its own handler (finish the
    iteration, checkpoint, stop); a signal it swallows on a run's last iteration is still
    seen here through the wakeup file descriptor, which records every handled signal."""

    def __init__(self) -> None:
        self.stop = False
        self.abort_inline = False  # raise KeyboardInterrupt: an inline run is starting up
        self.children: set[subprocess.Popen] = set()
        self._previous: dict[int, Any] = {}
        self._fds: tuple[int, int] | None = None
        self._old_fd = -1

    def __enter__(self) -> "_Stop":
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        self._fds = (r, w)
        self._old_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fds is None:
            return
        signal.set_wakeup_fd(self._old_fd)
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        for fd in self._fds:
            os.close(fd)
        self._fds = None

    def _handle(self, signum: int, frame: Any) -> None:
        self.stop = True
        self.forward(signum)
        if self.abort_inline:
            raise KeyboardInterrupt

    def forward(self, signum: int = signal.SIGINT) -> None:
        for proc in list(self.children):
            if proc.poll() is None:
                proc.send_signal(signum)

    def seen(self) -> bool:
        """Whether a stop was asked for, by our handler or by one a run installed."""
        if self._fds is not None:
            try:
                data = os.read(self._fds[0], 4096)
            except BlockingIOError:
                data = b""
            if any(b in (signal.SIGINT, signal.SIGTERM) for b in data):
                self.stop = True
        return self.stop


# -- progress -----------------------------------------------------------------------------
def _resume_rows(job: Job) -> list[dict[str, Any]]:
    """The metrics lines a job starts from: none for a new run; for a resumed one, those
    before its newest checkpoint (the lines after it are trained again)."""
    if job.state != RESUME:
        return []
    directory = runmod.RunDir(job.path)
    found = list_checkpoints(directory.checkpoints)
    first = iterations_done(found[-1]) if found else 0
    return [row for row in directory.read_metrics() if row[m.ITERATION] < first]


def start_progress(job: Job) -> int:
    """How much of its budget a planned job has behind it as it (re)starts: 0 for a new
    run, its newest checkpoint's for a resumed one."""
    return progress_of(_resume_rows(job), job.config)


def _last_row(path: Path) -> dict[str, Any] | None:
    """The last complete line of a metrics file (read from its end), or None."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 8192))
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


class _Display:
    """A bar counting runs, and one bar per running run counting its budget. When stderr
    is not a terminal (a log file), plain lines instead: one per run started and finished,
    and each running run's progress at most every `progress.INTERVAL_S` seconds, with the
    time it has left at its pace since it (re)started."""

    def __init__(self, jobs: Sequence[Job], enabled: bool) -> None:
        self.plain = enabled and not is_terminal()
        self.enabled = enabled and not self.plain
        self.total = len(jobs)
        self.done = sum(job.state == DONE for job in jobs)
        self._said: dict[int, float] = {}
        self._began: dict[int, tuple[float, int]] = {}  # per job: (time, progress) at open
        self.runs = tqdm(total=len(jobs), initial=self.done, desc="runs", unit="run",
                         disable=not self.enabled, dynamic_ncols=True, position=0)
        self.bars: dict[int, tqdm] = {}
        self._slots: list[int] = []
        self._lock = threading.Lock()

    def _say(self, text: str) -> None:
        """One log line, stamped with the local date and time: a log of a run that spans
        hours (or sittings) says when each run started and finished."""
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}", file=sys.stderr, flush=True)

    def open(self, job: Job) -> None:
        total, axis = budget(job.config)
        start = start_progress(job)
        if self.plain:
            self._said[id(job)] = time.monotonic()
            self._began[id(job)] = (self._said[id(job)], start)
            self._say(f"runs {self.done}/{self.total}: {job.label} "
                      f"{'resumed' if job.state == RESUME else 'started'} at "
                      f"{start}/{total} {axis}")
        free = next(i for i in range(1, len(self._slots) + 2) if i not in self._slots)
        self._slots.append(free)
        bar = tqdm(total=total, initial=start, desc=job.label,
                   unit="it" if axis == "iterations" else " rollouts",
                   disable=not self.enabled, dynamic_ncols=True, position=free, leave=False)
        bar.slot = free  # type: ignore[attr-defined]
        self.bars[id(job)] = bar
        self.runs.set_postfix_str(job.label)

    def update(self, job: Job) -> None:
        if self.plain and id(job) in self._said:
            if time.monotonic() - self._said[id(job)] >= INTERVAL_S:
                row = _last_row(runmod.RunDir(job.path).metrics)
                total, axis = budget(job.config)
                if row is not None:
                    value = progress_of([row], job.config)
                    began, first = self._began[id(job)]
                    left = time_left(value - first, time.monotonic() - began, total - value)
                    self._say(f"{job.label}: {value}/{total} {axis}"
                              + (f", {left}" if left else ""))
                self._said[id(job)] = time.monotonic()
            return
        bar = self.bars.get(id(job))
        if bar is None or not self.enabled:
            return
        row = _last_row(runmod.RunDir(job.path).metrics)
        if row is None:
            return
        with self._lock:
            value = progress_of([row], job.config)
            if value != bar.n:
                bar.n = value
                bar.refresh()

    def close(self, job: Job, counted: bool) -> None:
        if self.plain and self._said.pop(id(job), None) is not None:
            self._began.pop(id(job), None)
            self.done += int(counted)
            row = _last_row(runmod.RunDir(job.path).metrics)
            total, axis = budget(job.config)
            reached = progress_of([row], job.config) if row is not None else 0
            self._say(f"runs {self.done}/{self.total}: {job.label} "
                      f"{'finished' if counted else 'stopped'} at {reached}/{total} {axis}")
        self.update(job)
        bar = self.bars.pop(id(job), None)
        if bar is not None:
            self._slots.remove(bar.slot)  # type: ignore[attr-defined]
            bar.close()
        if counted:
            self.runs.update()

    def finish(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.runs.close()


@contextmanager
def _following(display: _Display, job: Job) -> Iterator[None]:
    """Update the job's bar from its metrics file while an inline run trains."""
    if not display.enabled:
        yield
        return
    done = threading.Event()

    def loop() -> None:
        while not done.wait(POLL_S):
            display.update(job)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


# -- execution ----------------------------------------------------------------------------
@dataclass
class Outcome:
    trained: int  # runs brought to their budget by this command
    reused: int  # runs that were already finished
    interrupted: bool  # stopped by a signal: some runs are unfinished, report nothing


def execute(jobs: Sequence[Job], parallel: int = 1, progress: bool = True) -> Outcome:
    """Train every planned job that is not done; see the module docstring."""
    if parallel < 1:
        raise ValueError(f"--jobs must be >= 1; got {parallel}")
    todo = [job for job in jobs if job.state != DONE]
    display = _Display(jobs, progress)
    outcome = Outcome(0, len(jobs) - len(todo), False)
    try:
        with _Stop() as stop:
            try:
                if parallel == 1:
                    _inline(todo, display, stop, outcome)
                else:
                    _workers(todo, parallel, display, stop, outcome)
            except KeyboardInterrupt:
                stop.stop = True
            outcome.interrupted = stop.seen()
    finally:
        display.finish()
    return outcome


def _inline(todo: Sequence[Job], display: _Display, stop: _Stop, outcome: Outcome) -> None:
    for job in todo:
        if stop.seen():
            return
        _prepare(job)
        display.open(job)
        with _following(display, job):
            stop.abort_inline = True
            try:
                summary = runmod.train(runmod.RunDir(job.path), job.config,
                                       resume=job.state == RESUME, progress=False)
            finally:
                stop.abort_inline = False
        ok = not summary["stopped"] and finished(job.path, job.config)
        display.close(job, ok)
        if summary["stopped"] or stop.seen():
            stop.stop = True
            return
        if not ok:
            raise RuntimeError(f"run {job.path} ended before its budget")
        outcome.trained += 1


def worker_command(job: Job) -> list[str]:
    return [sys.executable, "-m", "workbench.app.experiment", str(job.path),
            RESUME if job.state == RESUME else NEW]


def _workers(todo: Sequence[Job], parallel: int, display: _Display, stop: _Stop,
             outcome: Outcome) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    pending = deque(todo)
    running: dict[subprocess.Popen, tuple[Job, Any]] = {}
    failure = None
    try:
        while pending or running:
            while pending and len(running) < parallel and not stop.seen() and failure is None:
                job = pending.popleft()
                _prepare(job)
                log = (job.path / "train.log").open("a")
                proc = subprocess.Popen(worker_command(job), stdout=log,
                                        stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
                stop.children.add(proc)
                running[proc] = (job, log)
                display.open(job)
            if not running:
                break
            time.sleep(POLL_S)
            for proc, (job, log) in list(running.items()):
                display.update(job)
                rc = proc.poll()
                if rc is None:
                    continue
                del running[proc]
                stop.children.discard(proc)
                log.close()
                ok = rc == 0 and finished(job.path, job.config)
                display.close(job, ok)
                if ok:
                    outcome.trained += 1
                elif rc != STOPPED_EXIT and not stop.seen() and failure is None:
                    tail = (job.path / "train.log").read_text().strip().splitlines()[-3:]
                    failure = f"run {job.path} failed (exit {rc}): " + " | ".join(tail)
                    stop.forward()  # let the other runs checkpoint and stop
                elif not ok:  # stopped by a signal sent to it alone: stop everything
                    stop.stop = True
                    stop.forward()
    finally:
        if running:  # an error or KeyboardInterrupt here: stop the others cleanly
            stop.forward()
        for proc, (job, log) in running.items():
            proc.wait()
            log.close()
    if failure:
        raise RuntimeError(failure)


def run_jobs(jobs: Sequence[Job], parallel: int = 1, progress: bool = True) -> Outcome:
    """`plan` every job, then `execute` them."""
    if parallel < 1:
        raise ValueError(f"--jobs must be >= 1; got {parallel}")
    return execute(plan(jobs), parallel, progress)


def worker_main(argv: Sequence[str]) -> int:
    """`python -m workbench.app.experiment RUN_DIR new|resume`: train one prepared directory."""
    if len(argv) != 2 or argv[1] not in (NEW, RESUME):
        print("usage: python -m workbench.app.experiment RUN_DIR new|resume", file=sys.stderr)
        return 2
    directory = runmod.RunDir(argv[0])
    summary = runmod.train(directory, cfg.load(directory.config), resume=argv[1] == RESUME,
                           progress=False)
    return STOPPED_EXIT if summary["stopped"] else 0


# -- curves -------------------------------------------------------------------------------
def curves(per_seed: Sequence[Sequence[Mapping[str, Any]]], axis: str,
           metric: str = m.TEST_POST) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard deviation over seeds of `metric` against `axis` (see
    `workbench.metrics.AXES`), from each seed's metrics lines.

    Lines without the metric are skipped. The grid is every x at which some seed has a
    value, within the range all seeds cover; each seed is linearly interpolated onto it
    (when seeds share their x values, as iterations and rollouts do, nothing is
    interpolated). Returns (x, mean, std)."""
    series = []
    for rows in per_seed:
        pts = sorted((m.axis_value(r, axis), float(r[metric])) for r in rows if metric in r)
        if pts:
            series.append(np.array(pts, dtype=float))
    if not series:
        raise ValueError(f"no seed has a value of {metric!r}")
    lo = max(s[0, 0] for s in series)
    hi = min(s[-1, 0] for s in series)
    xs = np.concatenate([s[:, 0] for s in series])
    grid = np.unique(xs[(xs >= lo) & (xs <= hi)])
    if grid.size == 0:  # the seeds' ranges do not overlap
        grid = np.array([hi])
    ys = np.stack([np.interp(grid, s[:, 0], s[:, 1]) for s in series])
    return grid, ys.mean(0), ys.std(0)


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
