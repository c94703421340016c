"""`workbench tasks`: the task families and their parameters."""

from __future__ import annotations

import argparse

from workbench.tasks import available, family_class


def _tasks(args: argparse.Namespace) -> int:
    for name in sorted(available()):
        cls = family_class(name)
        params = ", ".join(f"{k}={v}" for k, v in cls.Params().to_dict().items()) or "-"
        print(f"{name:22s} obs {cls.obs_dim:3d}  act {cls.act_dim:2d}  horizon "
              f"{cls.default_horizon:4d}  task.* {params}")
    return 0


def register(sub) -> None:
    tasks = sub.add_parser("tasks", help="list the task families and their parameters")
    tasks.set_defaults(func=_tasks)
