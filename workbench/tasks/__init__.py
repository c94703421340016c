"""The task registry: every task family by name.

Adding a family is one file plus one line in `REGISTRY` (or, from another package, an entry
point in the group `workbench.tasks` naming `module:Class`). Classes are imported only when
first used, so a family with heavy dependencies costs nothing until it is asked for.

A gymnasium environment with a task hook needs no family class: `gym:ID` or
`gym:module:Callable` names it directly, and an entry point may name the environment class
itself (`workbench.tasks.gym_adapter` wraps it).
"""

from __future__ import annotations

from typing import Any

from workbench.registry import Registry
from workbench.tasks.base import BatchedSim, MetaEnv, TaskFamily

REGISTRY = Registry("task", "workbench.tasks", {
    "nav2d": "workbench.tasks.navigation:Navigation2D",
    "four-corners": "workbench.tasks.corners:FourCorners",
    "four-corners-penalty": "workbench.tasks.corners:FourCornersPenalty",
    "six-circles": "workbench.tasks.circles:SixCircles",
    "cartpole-biased": "workbench.tasks.cartpole:BiasedCartPole",
    "sine": "workbench.tasks.sine:SineRegression",
    "halfcheetah-fb": "workbench.tasks.locomotion:HalfCheetahFB",
    "halfcheetah-gv": "workbench.tasks.locomotion:HalfCheetahGV",
    "ant-fb": "workbench.tasks.locomotion:AntFB",
    "ant-gv": "workbench.tasks.locomotion:AntGV",
    "ant-goal": "workbench.tasks.locomotion:AntGoal",
    "swimmer-fb": "workbench.tasks.locomotion:SwimmerFB",
    "swimmer-gv": "workbench.tasks.locomotion:SwimmerGV",
    "walker2d-fb": "workbench.tasks.locomotion:Walker2dFB",
    "walker2d-gv": "workbench.tasks.locomotion:Walker2dGV",
})


def available() -> dict[str, str]:
    """Built-in families plus those other packages register under `workbench.tasks`."""
    return REGISTRY.names()


def family_class(name: str) -> type[TaskFamily]:
    """The family class of `name`: a registered family, or a gymnasium environment adapted
    by `workbench.tasks.gym_adapter` (`gym:...`, or an entry point naming an Env)."""
    from workbench.tasks import gym_adapter
    if isinstance(name, str) and name.startswith(gym_adapter.PREFIX):
        return gym_adapter.family_for(name)
    target = REGISTRY.load(name)
    if isinstance(target, type) and issubclass(target, TaskFamily):
        return target
    return gym_adapter.adapt_entry(target, name)


def make_family(name: str, **params: Any) -> TaskFamily:
    """The family `name` with task parameters `params` (the config's `task.*`)."""
    return family_class(name)(**params)


__all__ = ["BatchedSim", "MetaEnv", "TaskFamily", "REGISTRY", "available", "family_class",
           "make_family"]
