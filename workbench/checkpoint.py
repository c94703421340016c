"""Checkpoints: atomic writes, `weights_only` loads, and one-line errors for bad files.

A checkpoint is a dict of tensors, numbers and strings saved with `torch.save` to
`checkpoints/iter_NNNNNN.pt` (NNNNNN = iterations completed), written to a temporary file
and renamed, so an interrupted save never leaves a half-written checkpoint under the real
name. Loading uses `weights_only=True` (no arbitrary code runs from a file).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

FORMAT = 1
KEEP = 3
_NAME = re.compile(r"iter_(\d{6,})\.pt$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


def save(directory: Path, iteration: int, payload: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"iter_{iteration:06d}.pt"
    tmp = path.with_suffix(".pt.tmp")
    torch.save({"format": FORMAT, "iteration": iteration, **payload}, tmp)
    os.replace(tmp, path)
    for old in list_checkpoints(directory)[:-KEEP]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if _NAME.search(p.name)]
    return sorted(found, key=lambda p: int(_NAME.search(p.name).group(1)))


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
        raise CheckpointError(f"{path}: checkpoint is empty (truncated write?)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for damaged archives
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({first})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a workbench checkpoint (format "
                              f"{data.get('format') if isinstance(data, dict) else '?'}, "
                              f"expected {FORMAT})")
    for key, value in (expect or {}).items():
        if data.get(key) != value:
            raise CheckpointError(f"{path}: checkpoint is for {key} {data.get(key)!r}, "
                                  f"but this run has {value!r}")
    return data
