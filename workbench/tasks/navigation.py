"""Navigation-2D (Finn et al. 2017; ES-MAML A.4): reach a goal drawn from U[-1, 1]^2.

Dense reward `-||pos - goal||^2`; the position is clipped to the unit square; an episode is
done once the reward reaches -0.01 (that step's reward still counts).
"""

from __future__ import annotations

import torch
from torch import Tensor

from workbench.tasks.points import PointFamily, PointSim

DONE_REWARD = -0.01


class Navigation2D(PointFamily):
    name = "nav2d"
    bound = 1.0
    DEFAULT_SPLIT = (50, 5)

    def draw_tasks(self, n: int, generator: torch.Generator) -> Tensor:
        return torch.rand(n, 2, generator=generator, dtype=torch.float64) * 2.0 - 1.0

    def reward(self, sim: PointSim, pos: Tensor) -> tuple[Tensor, Tensor]:
        reward = -(pos - sim.params).square().sum(-1)
        return reward, reward >= DONE_REWARD

    def plot_goals(self, task: int) -> list[tuple[float, float, str]]:
        x, y = self.table[task].tolist()
        return [(x, y, "goal")]
