"""A run's log: `metrics.jsonl` and both TensorBoard event files behind one object.

`RunLog(run, first, env_steps, resume)` opens them for appending: the iteration-step writer
in the run directory and the env-step writer in `by_env_steps/` (a resume purges
TensorBoard's events after the checkpoint it continues from, as `resume` truncates
metrics.jsonl). `iteration(it, record, extras)` writes one metrics line (flushed at once)
and mirrors its values as TensorBoard scalars on both step axes; `text` and `image` add
the rest. Every write goes through `workbench.app.errors.writing`, so a refused write is
one `WriteFailed` naming the file. Used as a context manager it closes everything; when
the block failed, a failing close is not allowed to replace the block's own error.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import numpy as np

from workbench import metrics
from workbench.app.errors import writing
from workbench.app.rundir import RunDir

#: What `writing` calls a failed TensorBoard write (the event files are TensorBoard's).
TENSORBOARD = "TensorBoard events in"


class RunLog:
    def __init__(self, run: RunDir, first: int, env_steps: int, resume: bool) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.run = run
        with writing(run.path, TENSORBOARD):
            self.writer = SummaryWriter(str(run.path), purge_step=first if resume else None)
            # The env-step curves live in their own event file, whose steps are env steps
            self.steps_writer = SummaryWriter(str(run.path / metrics.ENV_STEP_LOGDIR),
                                              purge_step=env_steps + 1 if resume else None)
        with writing(run.metrics):
            self.metrics_file = run.metrics.open("a")

    def iteration(self, it: int, record: dict[str, Any], extras: dict[str, float]) -> None:
        """One metrics line, and its values (and the algorithm's extras) in TensorBoard."""
        with writing(self.run.metrics):
            self.metrics_file.write(json.dumps(record) + "\n")
            self.metrics_file.flush()
        with writing(self.run.path, TENSORBOARD):
            for key, value in record.items():
                if key != "iteration":
                    self.writer.add_scalar(key, value, it)
            for key, value in extras.items():
                self.writer.add_scalar(key, value, it)
            env_step, scalars = metrics.env_step_scalars(record)
            for tag, value in scalars:
                self.steps_writer.add_scalar(tag, value, env_step)

    def text(self, tag: str, text: str, it: int) -> None:
        with writing(self.run.path, TENSORBOARD):
            self.writer.add_text(tag, text, it)

    def image(self, tag: str, image: np.ndarray, it: int) -> None:
        """An RGBA picture (`plotting.render`) at iteration `it`."""
        with writing(self.run.path, TENSORBOARD):
            self.writer.add_image(tag, image[..., :3], global_step=it, dataformats="HWC")

    def __enter__(self) -> "RunLog":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        closers = ((self.metrics_file, self.run.metrics, ""),
                   (self.writer, self.run.path, TENSORBOARD),
                   (self.steps_writer, self.run.path, TENSORBOARD))
        for file, path, what in closers:
            if error is not None:  # the block's error is the one to report
                with contextlib.suppress(Exception):
                    file.close()
                continue
            with writing(path, what):
                file.close()
