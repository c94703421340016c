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
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Sequence

from workbench.app import run as runmod
from workbench.app import runconfig as cfg
from workbench.app.display import POLL_S, JobDisplay, following
from workbench.app.errors import CommandFailed
from workbench.app.jobs import DONE, NEW, RESUME, Job, finished, plan, prepare_dir
from workbench.app.rundir import RunDir
from workbench.app.signals import Stop, stop_requests

#: Exit status of a worker process whose run was stopped by a signal (checkpointed).
STOPPED_EXIT = 3
#: How a worker's one-line error starts in its train.log.
ERROR = "workbench: error: "


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
        with stop_requests() as stop:
            try:
                if parallel == 1:
                    _inline(todo, display, stop, outcome)
                else:
                    _workers(todo, parallel, display, stop, outcome)
            except KeyboardInterrupt:
                stop.requested = True
            outcome.interrupted = stop.requested
    finally:
        display.finish()
    return outcome


def _inline(todo: Sequence[Job], display: JobDisplay, stop: Stop, outcome: Outcome) -> None:
    for job in todo:
        if stop.requested:
            return
        prepare_dir(job)
        display.open(job)
        with following(display, job):
            stop.abort = True
            try:
                summary = runmod.train(RunDir(job.path), job.config,
                                       resume=job.state == RESUME, progress=False)
            finally:
                stop.abort = False
        ok = not summary["stopped"] and finished(job.path, job.config)
        display.close(job, ok)
        if summary["stopped"] or stop.requested:
            stop.requested = True
            return
        if not ok:
            raise CommandFailed(f"run {job.path} ended before its budget")
        outcome.trained += 1


def worker_command(job: Job) -> list[str]:
    return [sys.executable, "-m", "workbench.app.experiment", str(job.path),
            RESUME if job.state == RESUME else NEW]


def _workers(todo: Sequence[Job], parallel: int, display: JobDisplay, stop: Stop,
             outcome: Outcome) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    pending = deque(todo)
    running: dict[subprocess.Popen, tuple[Job, Any]] = {}
    failure: tuple[int, str] | None = None
    try:
        while pending or running:
            while pending and len(running) < parallel and not stop.requested and failure is None:
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
                stop.signalled.discard(proc)
                log.close()
                ok = rc == 0 and finished(job.path, job.config)
                display.close(job, ok)
                if ok:
                    outcome.trained += 1
                elif rc != STOPPED_EXIT and not stop.requested and failure is None:
                    failure = rc, f"run {job.path} failed (exit {rc}): {worker_error(job)}"
                    stop.forward()  # let the other runs checkpoint and stop
                elif not ok:  # stopped by a signal sent to it alone: stop everything
                    stop.requested = True
                    stop.forward()
    finally:
        if running:  # an error or KeyboardInterrupt here: stop the others cleanly
            stop.forward()
        for proc, (job, log) in running.items():
            proc.wait()
            log.close()
    if failure:  # the worker's kind of error: bad input (exit 2) or a failed run (1)
        rc, message = failure
        raise ValueError(message) if rc == 2 else CommandFailed(message)


def worker_error(job: Job) -> str:
    """What a failed worker said: its one-line error, else the last lines of its log."""
    lines = (job.path / "train.log").read_text(errors="replace").strip().splitlines()
    said = [line for line in lines if line.startswith(ERROR)]
    return said[-1][len(ERROR):] if said else " | ".join(lines[-3:])


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
    try:
        summary = runmod.train(directory, cfg.load(directory.config),
                               resume=argv[1] == RESUME, progress=False)
    except (ValueError, CommandFailed) as err:  # one line for the parent (worker_error)
        print(f"{ERROR}{err}", file=sys.stderr)
        return 2 if isinstance(err, ValueError) else 1
    return STOPPED_EXIT if summary["stopped"] else 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
