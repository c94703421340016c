"""One registry mechanism for everything chosen by name: tasks, adaptation operators,
samplers, algorithms, backends and figures.

A `Registry` maps names to `module:attribute` strings: a built-in table (one line per entry,
in the package that owns the kind) plus the entry points other packages declare under the
registry's group (setup.cfg `[options.entry_points]`). Targets are imported on first use, so
an entry with heavy dependencies costs nothing until it is asked for. Adding an algorithm or
a figure is one new file plus one entry-point line; a task, operator, sampler or backend is
one new file plus one line in its table.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import sys
from importlib.metadata import entry_points
from typing import Any


@functools.lru_cache(maxsize=64)
def _entry_points(group: str, path: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The (name, target) pairs of an entry-point group, read once per `sys.path`: reading
    every installed distribution's metadata takes milliseconds, and names are looked up
    thousands of times in one reproduction. A package installed while the process runs is
    seen by the next process (or once `sys.path` changes)."""
    return tuple((ep.name, ep.value) for ep in entry_points(group=group))


class Registry:
    """`names()` -> {name: "module:attr"}; `load(name)` -> the object, or a clear error."""

    def __init__(self, kind: str, group: str | None = None,
                 builtin: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.group = group
        self.builtin = dict(builtin or {})

    def names(self) -> dict[str, str]:
        """Built-in entries first, then those other packages register under the group."""
        names = dict(self.builtin)
        if self.group:
            for name, value in _entry_points(self.group, tuple(sys.path)):
                names.setdefault(name, value)
        return names

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def __iter__(self):
        return iter(sorted(self.names()))

    def check(self, name: Any) -> str:
        """`name` if registered, else a one-line ValueError listing the valid names."""
        names = self.names()
        if name not in names:
            close = difflib.get_close_matches(str(name), list(names), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown {self.kind} {name!r}; valid: "
                             f"{', '.join(sorted(names)) or 'none installed'}{hint}")
        return name

    def load(self, name: str) -> Any:
        target = self.names()[self.check(name)]
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)
