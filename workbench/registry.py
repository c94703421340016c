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
import os
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


def import_attr(target: str, what: str) -> Any:
    """`module:attr` imported; the working directory is tried when the module is not on
    `sys.path`. Errors are one line naming `what` the target was for."""
    module, sep, attr = target.rpartition(":")
    if not sep or not module or not attr:
        raise ValueError(f"{what} {target!r} is not of the form module:name")
    try:
        mod = _import(module)
    except ModuleNotFoundError as err:
        raise ValueError(f"cannot import module {module!r} for {what} {target!r}: {err} "
                        f"(is it on PYTHONPATH or in the working directory?)") from None
    except Exception as err:  # the user's module raised while importing
        raise ValueError(f"importing module {module!r} for {what} {target!r} raised "
                        f"{type(err).__name__}: {err}") from None
    if not hasattr(mod, attr):
        raise ValueError(f"module {module!r} has no attribute {attr!r} ({what} {target!r})")
    return getattr(mod, attr)


def _import(module: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        cwd = os.getcwd()
        top = module.split(".")[0]
        if err.name != top or cwd in sys.path or "" in sys.path:
            raise
        sys.path.append(cwd)
        return importlib.import_module(module)


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
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as err:  # a stale or broken registration
            raise ValueError(f"{self.kind} {name!r} is registered as {target}, which cannot "
                             f"be loaded ({err}); reinstall the package that registers it "
                             f"(make install)") from None
