"""Checkpoints: atomic writes, `weights_only` loads, and one-line errors for bad files.

A checkpoint is a dict of tensors, numbers and strings saved with `torch.save` to
`checkpoints/iter_NNNNNN.pt` (NNNNNN = iterations completed), written to a temporary file
and renamed, so an interrupted save never leaves a half-written checkpoint under the real
name. Loading uses `weights_only=True` (no arbitrary code runs from a file).

`latest_usable` is what a resume reads: the newest checkpoint that loads, setting aside
damaged ones (renamed `*.pt.damaged`) and falling back on older ones, or None when there is
none, so that a run directory is never a dead end.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Callable

import torch

from workbench.app.errors import WriteFailed, writing

FORMAT = 1
KEEP = 3
_NAME = re.compile(r"iter_(\d{6,})\.pt$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


class DamagedCheckpoint(CheckpointError):
    """A checkpoint file that is empty, truncated, corrupt or not a workbench checkpoint
    (as opposed to a sound checkpoint of another run)."""


def save(directory: Path, iteration: int, payload: dict[str, Any]) -> Path:
    """Write `iter_NNNNNN.pt` aside and rename it, then drop all but the newest KEEP; a
    failed write raises `WriteFailed` naming the file and leaves the older ones."""
    path = directory / f"iter_{iteration:06d}.pt"
    tmp = path.with_suffix(".pt.tmp")
    with writing(path):
        directory.mkdir(parents=True, exist_ok=True)
        try:
            torch.save({"format": FORMAT, "iteration": iteration, **payload}, tmp)
        except RuntimeError as err:  # torch reports a failed write (disk full) this way
            tmp.unlink(missing_ok=True)
            free = shutil.disk_usage(directory).free
            raise WriteFailed(f"cannot write {path}: torch.save failed "
                              f"({str(err).strip().splitlines()[0]}; {free} bytes free on "
                              f"its file system)") from err
        os.replace(tmp, path)
    for old in list_checkpoints(directory)[:-KEEP]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if _NAME.search(p.name)), key=iterations_done)


def iterations_done(path: Path) -> int:
    """The iterations a checkpoint file holds, from its name (`iter_NNNNNN.pt`)."""
    found = _NAME.search(path.name)
    if found is None:
        raise CheckpointError(f"{path}: not a checkpoint name (iter_NNNNNN.pt)")
    return int(found.group(1))


def latest(directory: Path) -> Path:
    found = list_checkpoints(directory)
    if not found:
        raise CheckpointError(f"{directory}: no checkpoint found (iter_NNNNNN.pt)")
    return found[-1]


def load(path: Path, expect: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load and check a checkpoint; `expect` maps keys to the values they must have."""
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file does not exist")
    if path.stat().st_size == 0:
        raise DamagedCheckpoint(f"{path}: checkpoint is empty (truncated write?)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for damaged archives
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DamagedCheckpoint(f"{path}: corrupt or truncated checkpoint ({first})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DamagedCheckpoint(f"{path}: not a workbench checkpoint (format "
                              f"{data.get('format') if isinstance(data, dict) else '?'}, "
                              f"expected {FORMAT})")
    for key, value in (expect or {}).items():
        if data.get(key) != value:
            raise CheckpointError(f"{path}: checkpoint is for {key} {data.get(key)!r}, "
                                  f"but this run has {value!r}")
    return data


def latest_usable(directory: Path, expect: dict[str, Any] | None = None,
                  warn: Callable[[str], None] | None = None
                  ) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint in `directory` that loads, as (path, data), or None.

    A damaged file (empty, truncated, corrupt) is renamed to `*.pt.damaged`, reported
    through `warn` and passed over for the next older one; leftover temporary files of an
    interrupted save are removed. A sound checkpoint of another run (`expect` differs) is
    an error, not skipped."""
    for tmp in directory.glob("*.pt.tmp") if directory.is_dir() else ():
        tmp.unlink(missing_ok=True)
    for path in reversed(list_checkpoints(directory)):
        try:
            return path, load(path, expect)
        except DamagedCheckpoint as err:
            aside = path.with_name(path.name + ".damaged")
            os.replace(path, aside)
            if warn is not None:
                warn(f"{err}; set aside as {aside.name}")
    return None
