"""Training a set of planned jobs as one command: the core of `compare` and `reproduce`.

`run_jobs` plans the jobs (`workbench.app.jobs.plan`: everything checked, nothing written),
then `execute` trains those that are not done, in order, inline (`parallel=1`) or in
`parallel` one-thread worker processes (`python -m workbench.app.experiment DIR
new|resume`). A run directory is written only when its job starts. SIGINT or SIGTERM stops
the whole command: the running runs finish their iteration and checkpoint, no further run
starts, and the outcome says `interrupted` (callers then write no report and exit with
130). The progress display is `workbench.app.display`'s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Sequence

from workbench.app import run as runmod
from workbench.app import runconfig as cfg
from workbench.app.display import POLL_S, JobDisplay, following
from workbench.app.jobs import DONE, NEW, RESUME, Job, finished, plan, prepare_dir
from workbench.app.rundir import RunDir

#: Exit status of a worker process whose run was stopped by a signal (checkpointed).
STOPPED_EXIT = 3


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
    display = JobDisplay(jobs, progress)
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


def _inline(todo: Sequence[Job], display: JobDisplay, stop: _Stop, outcome: Outcome) -> None:
    for job in todo:
        if stop.seen():
            return
        prepare_dir(job)
        display.open(job)
        with following(display, job):
            stop.abort_inline = True
            try:
                summary = runmod.train(RunDir(job.path), job.config,
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


def _workers(todo: Sequence[Job], parallel: int, display: JobDisplay, stop: _Stop,
             outcome: Outcome) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    pending = deque(todo)
    running: dict[subprocess.Popen, tuple[Job, Any]] = {}
    failure = None
    try:
        while pending or running:
            while pending and len(running) < parallel and not stop.seen() and failure is None:
                job = pending.popleft()
                prepare_dir(job)
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
    directory = RunDir(argv[0])
    summary = runmod.train(directory, cfg.load(directory.config), resume=argv[1] == RESUME,
                           progress=False)
    return STOPPED_EXIT if summary["stopped"] else 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
