"""`workbench tasks`: the task families and their parameters."""

from __future__ import annotations

import argparse

from workbench.tasks import available, family_class


def _tasks(args: argparse.Namespace) -> int:
    for name in sorted(available()):
        cls = family_class(name)
        params = ", ".join(f"{k}={v}" for k, v in cls.Params().to_dict().items()) or "-"
        dims = "  ".join(f"{what} {'-' if n is None else n:>{w}}" for what, n, w in
                         (("obs", cls.obs_dim, 3), ("act", cls.act_dim, 2)))
        print(f"{name:22s} {dims}  horizon {cls.default_horizon:4d}  task.* {params}")
    print("gym:ID or gym:module:Callable runs a gymnasium environment with a task hook "
          "(docs/own-task.md)")
    return 0


def register(sub) -> None:
    tasks = sub.add_parser("tasks", help="list the task families and their parameters")
    tasks.set_defaults(func=_tasks)
