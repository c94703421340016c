"""How a command ends when it cannot go on: one line on stderr, never a traceback.

- `ValueError` (config, task, checkpoint and path errors are subclasses): the input was
  wrong; `workbench` prints `workbench: error: ...` and exits with status 2, before a run
  directory exists wherever the input can be checked first.
- `CommandFailed`: the input was fine but the work could not finish: a file of a run could
  not be written (`WriteFailed`: disk full, permission lost, the directory gone) or a run
  failed in a worker process. Exit status 1. Every write of a run is atomic or truncated on
  resume (checkpoints and evaluations are written aside and renamed, a torn metrics line is
  dropped), so the run resumes from its last complete checkpoint once the cause is gone.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator


class CommandFailed(Exception):
    """The command could not finish; the message is one line (exit status 1)."""


class WriteFailed(CommandFailed):
    """A file could not be written; the message names it and the operating system's reason."""


@contextlib.contextmanager
def writing(path: str | Path, what: str = "") -> Iterator[None]:
    """Turn an OSError raised inside the block into a `WriteFailed` naming `path` (and
    `what` it is, e.g. "TensorBoard events in")."""
    try:
        yield
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise WriteFailed(f"cannot write {what + ' ' if what else ''}{path}: {reason}") from err


def write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically (aside, then renamed over it), so a refused or
    interrupted write leaves the old file whole; a refusal is a `WriteFailed`."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with writing(path):
        try:
            tmp.write_text(text)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path
