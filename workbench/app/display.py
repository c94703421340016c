"""The progress display of a set of jobs: a bar counting runs, and one bar per running run
counting its budget (rollouts for a `budget_rollouts` run, else iterations), each following
its run's `metrics.jsonl`; plain time-stamped lines when stderr is not a terminal."""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from tqdm import tqdm

from workbench import metrics as m
from workbench.app.checkpoint import iterations_done, list_checkpoints
from workbench.app.jobs import DONE, RESUME, Job, budget, progress_of
from workbench.app.progress import INTERVAL_S, is_terminal, time_left
from workbench.app.rundir import RunDir

#: Seconds between two looks at the running runs' metrics files.
POLL_S = 0.25


# -- progress -----------------------------------------------------------------------------
def _resume_rows(job: Job) -> list[dict[str, Any]]:
    """The metrics lines a job starts from: none for a new run; for a resumed one, those
    before its newest checkpoint (the lines after it are trained again)."""
    if job.state != RESUME:
        return []
    directory = RunDir(job.path)
    found = list_checkpoints(directory.checkpoints)
    first = iterations_done(found[-1]) if found else 0
    return [row for row in directory.read_metrics() if row[m.ITERATION] < first]


def start_progress(job: Job) -> int:
    """How much of its budget a planned job has behind it as it (re)starts: 0 for a new
    run, its newest checkpoint's for a resumed one."""
    return progress_of(_resume_rows(job), job.config)


class JobDisplay:
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
                row = RunDir(job.path).last_metrics()
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
        row = RunDir(job.path).last_metrics()
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
            row = RunDir(job.path).last_metrics()
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
def following(display: JobDisplay, job: Job) -> Iterator[None]:
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
