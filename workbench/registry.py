"""Name -> `module:Class` registries that other packages can extend through entry points.

Task families (`workbench.tasks`) and adaptation operators (`es.adaptation`) are both looked
up this way: the built-in table first, then entry points, classes imported on first use.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points


def merged(builtin: dict[str, str], group: str) -> dict[str, str]:
    """Built-in names plus those registered by other packages under `group`."""
    names = dict(builtin)
    for ep in entry_points(group=group):
        names.setdefault(ep.name, ep.value)
    return names


def load(builtin: dict[str, str], group: str, name: str, kind: str) -> type:
    """The class registered as `name`, or a ValueError naming the valid ones."""
    names = merged(builtin, group)
    if name not in names:
        raise ValueError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(names))}")
    module, cls = names[name].split(":")
    return getattr(importlib.import_module(module), cls)
