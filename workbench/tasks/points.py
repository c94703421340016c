"""The 2-D point world shared by Navigation-2D, Four Corners and Six Circles [ref].

The agent starts at (0, 0), observes its position, and moves by its action clipped to
[-0.1, 0.1] per axis; the position is clipped to [-bound, bound]. Families differ only in
their reward, done rule and per-episode state, which they supply through `PointFamily`.

`task.actions`: `clip` (default, the ES-MAML code's task.py: the policy's tanh output is
clipped to +-0.1, so only outputs inside +-0.1 are graded) or `scale` (MAML's point task
behind rllab's `normalize` wrapper: the output in (-1, 1) is multiplied by 0.1, so the
whole range is graded).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from dataclasses import dataclass

from workbench.config import option
from workbench.tasks.base import BatchedSim, TaskFamily, TaskParams

MAX_STEP = 0.1
ACTIONS = ("clip", "scale")


@dataclass(frozen=True)
class PointParams(TaskParams):
    """`task.*` keys every 2-D point family has."""

    actions: str = option("clip", "clip (the policy output clipped to +-0.1 per axis, the "
                          "ES-MAML code) or scale (multiplied by 0.1, MAML's rllab wrapper)",
                          choices=ACTIONS)


class PointSim(BatchedSim):
    def reset(self, seeds: Tensor | None = None) -> Tensor:
        self.pos = torch.zeros(self.batch_size, 2, dtype=self.dtype)
        self.family.start_episode(self)
        return self.pos.clone()

    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a = self.check_actions(actions)
        if self.family.params["actions"] == "scale":
            a = a.clamp(-1.0, 1.0) * MAX_STEP
        else:
            a = a.clamp(-MAX_STEP, MAX_STEP)
        self.pos = (self.pos + a).clamp(-self.family.bound, self.family.bound)
        reward, done = self.family.reward(self, self.pos)
        return self.pos.clone(), reward, done

    def position(self) -> Tensor:
        return self.pos


class PointFamily(TaskFamily):
    obs_dim = 2
    act_dim = 2
    has_positions = True
    Params = PointParams
    default_horizon = 100
    bound: ClassVar[float]

    def make_sim(self, tasks: Tensor, dtype: torch.dtype = torch.float32) -> PointSim:
        return PointSim(self, tasks, dtype)

    def start_episode(self, sim: PointSim) -> None:
        """Per-episode state (e.g. which goals are still active); none by default."""

    def reward(self, sim: PointSim, pos: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


def sq_dist_to_all(pos: Tensor, goals: Tensor) -> Tensor:
    """Squared distances from `pos [B, 2]` to each of `goals [G, 2]`: `[B, G]`."""
    return (pos.unsqueeze(1) - goals.to(pos.dtype)).square().sum(-1)
