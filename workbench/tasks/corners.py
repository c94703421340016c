"""Four Corners (Rothfuss et al. 2019; ES-MAML §4.1): a sparse goal at one of (+-2, +-2).

Task id i has its goal at corner i: (2, 2), (-2, 2), (-2, -2), (2, -2), as the reference.
Reward `-min(||pos - goal||^2, 4)`: a flat -4 outside radius 2 of the goal, so an agent
learns nothing until it stumbles into the right quadrant. Position clipped to [-5, 5];
never done. The `four-corners-penalty` variant (Fig. 1b) adds
`penalty * min(0, ||pos - c||^2 - 4)` for each wrong corner c: a heavy cost for exploring
inside radius 2 of a wrong corner (reference scale 10000, as in Six Circles).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from workbench.config import option, with_defaults
from workbench.tasks.points import PointFamily, PointParams, PointSim, sq_dist_to_all

CORNERS = torch.tensor([[2.0, 2.0], [-2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]], dtype=torch.float64)
RADIUS_SQ = 4.0


@dataclass(frozen=True)
class CornersParams(PointParams):
    penalty: float = option(0.0, "weight of the wrong-corner cost penalty * min(0, d^2 - 4)",
                            low=0.0)


class FourCorners(PointFamily):
    name = "four-corners"
    bound = 5.0
    Params = CornersParams

    def enumerate_tasks(self) -> Tensor:
        # Columns: goal x, goal y, corner index (for the wrong-corner penalty).
        return torch.cat([CORNERS, torch.arange(4, dtype=torch.float64).unsqueeze(1)], 1)

    def reward(self, sim: PointSim, pos: Tensor) -> tuple[Tensor, Tensor]:
        goal_d2 = (pos - sim.params[:, :2]).square().sum(-1)
        reward = -goal_d2.clamp(max=RADIUS_SQ)
        if self.params["penalty"]:
            d2 = sq_dist_to_all(pos, CORNERS)
            wrong = torch.arange(4) != sim.params[:, 2:3].long()
            inside = (d2 - RADIUS_SQ).clamp(max=0.0)
            reward = reward + self.params["penalty"] * (inside * wrong).sum(-1)
        return reward, torch.zeros_like(reward, dtype=torch.bool)

    def plot_goals(self, task: int) -> list[tuple[float, float, str]]:
        goal = int(self.table[task, 2])
        return [(x, y, "goal" if i == goal else "wrong") for i, (x, y) in enumerate(CORNERS.tolist())]


class FourCornersPenalty(FourCorners):
    name = "four-corners-penalty"
    Params = with_defaults(CornersParams, "CornersPenaltyParams", penalty=10000.0)
