"""Biased-Sensor CartPole (NoRML, Yang et al. 2019; ES-MAML §4.3).

gymnasium's CartPole-v1 physics (gravity 9.8, cart 1.0, pole 0.1, half-length 0.5,
tau 0.02) with a continuous force `10 * clip(a, -1, 1)`. A task adds a bias b to the
*observed* pole angle only; b comes from `linspace(-pi/18, pi/18, 5000)` (+-10 degrees).
Termination is on the true state (|x| > 2.4 or |angle| > 12 degrees); the reward is 1 per
surviving step and 0 on the failing step, so a 500-step horizon caps the return at 500.
The start state is U(-0.05, 0.05)^4 from the rollout's seed.

Observation (`observation` parameter):
- `full` (default): what NoRML's environment class (`CartpoleSensorBiasEnv`) returns, the
  raw state with the bias added to the angle, (x, x_dot, theta + b, theta_dot). The paper
  names the environment, not NoRML's training wrapper, so the environment's own view is
  the default (docs/deviations.md).
- `norml`: what NoRML's agents saw in training. NoRML runs the environment through its
  `RangeNormalize` wrapper, which maps the observation space [low, high] onto [-1, 1] as
  `2 * (obs - low) / (high - low) - 1`. The bounds are those of gym's CartPole space,
  stored as float32: high = (4.8, float32 max, 0.41887903 (24 degrees), float32 max),
  low = -high. The observation itself is float64 (gym returns `np.array(state)`), but
  `high - low` is evaluated on the float32 bounds: for the two velocities it overflows to
  inf, so those entries are `2 * finite / inf - 1 = -1` whatever the state. The position
  and the biased angle come out as about x / 4.8 and (theta + b) / 0.41887903. obs_dim
  stays 4, the velocity entries being constant -1 (the policy sees no velocities).

Integrator: gymnasium's CartPole-v1 (the oracle this task is tested against) and the gym
version NoRML used both integrate with explicit Euler, so the default is
`integrator: euler`; `semi-implicit` is available (docs/tasks.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from workbench import seeding
from workbench.config import option
from workbench.tasks.base import BatchedSim, TaskFamily, TaskParams

GRAVITY, MASS_CART, MASS_POLE, HALF_LENGTH, TAU, FORCE = 9.8, 1.0, 0.1, 0.5, 0.02, 10.0
TOTAL_MASS = MASS_CART + MASS_POLE
POLE_MASS_LENGTH = MASS_POLE * HALF_LENGTH
X_LIMIT, ANGLE_LIMIT = 2.4, 12 * 2 * math.pi / 360
INTEGRATORS = ("euler", "semi-implicit")
OBSERVATIONS = ("full", "norml")

# NoRML's RangeNormalize bounds: gym's CartPole observation space, a float32 Box, so the
# bounds are float32 and `high - low` is a float32 subtraction (inf for the velocities).
_F32_MAX = torch.finfo(torch.float32).max
_HIGH32 = torch.tensor([2 * X_LIMIT, _F32_MAX, 2 * ANGLE_LIMIT, _F32_MAX], dtype=torch.float32)
OBS_LOW = (-_HIGH32).to(torch.float64)
OBS_SPAN = (_HIGH32 - (-_HIGH32)).to(torch.float64)  # [9.6000004, inf, 0.83775806, inf]


def range_normalize(obs: Tensor) -> Tensor:
    """NoRML's `2 * (obs - low) / (high - low) - 1` on a float64 observation `[B, 4]`."""
    return 2 * (obs - OBS_LOW) / OBS_SPAN - 1


class CartPoleSim(BatchedSim):
    def reset(self, seeds: Tensor | None = None) -> Tensor:
        if seeds is None:
            seeds = torch.arange(self.batch_size)
        self.state = (seeding.uniform(seeds, 4) * 0.1 - 0.05).to(self.dtype)
        return self.observe()

    def observe(self) -> Tensor:
        if self.family.params["observation"] == "full":
            obs = self.state.clone()
            obs[:, 2] += self.params[:, 0]
            return obs
        # norml: NoRML adds the (float64) bias to a float64 observation, then normalises
        obs = self.state.to(torch.float64, copy=True)
        obs[:, 2] += self.family.table[self.tasks, 0]
        return range_normalize(obs).to(self.dtype)

    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        force = FORCE * self.check_actions(actions)[:, 0].clamp(-1.0, 1.0)
        x, x_dot, theta, theta_dot = self.state.unbind(1)
        cos, sin = theta.cos(), theta.sin()
        temp = (force + POLE_MASS_LENGTH * theta_dot.square() * sin) / TOTAL_MASS
        theta_acc = (GRAVITY * sin - cos * temp) / (
            HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * cos.square() / TOTAL_MASS))
        x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS
        if self.family.params["integrator"] == "euler":
            x, x_dot = x + TAU * x_dot, x_dot + TAU * x_acc
            theta, theta_dot = theta + TAU * theta_dot, theta_dot + TAU * theta_acc
        else:
            x_dot = x_dot + TAU * x_acc
            x = x + TAU * x_dot
            theta_dot = theta_dot + TAU * theta_acc
            theta = theta + TAU * theta_dot
        self.state = torch.stack([x, x_dot, theta, theta_dot], 1)
        done = (x.abs() > X_LIMIT) | (theta.abs() > ANGLE_LIMIT)
        return self.observe(), (~done).to(self.dtype), done


@dataclass(frozen=True)
class CartPoleParams(TaskParams):
    integrator: str = option("euler", "euler (gymnasium's default) or semi-implicit",
                             choices=INTEGRATORS)
    observation: str = option("full", "full (the environment's raw state, biased angle) or "
                              "norml (NoRML's RangeNormalize training view: no velocities)",
                              choices=OBSERVATIONS)
    max_bias: float = option(math.pi / 18, "biases span [-max_bias, max_bias] (radians)",
                             low=0.0)
    num_biases: int = option(5000, "biases on that grid (tasks)", low=1)


class BiasedCartPole(TaskFamily):
    name = "cartpole-biased"
    obs_dim = 4
    act_dim = 1
    default_horizon = 500
    return_range = (0.0, 500.0)  # 1 per step, at most the 500-step horizon
    Params = CartPoleParams
    DEFAULT_SPLIT = (50, 5)

    def enumerate_tasks(self) -> Tensor:
        m = float(self.params["max_bias"])
        return torch.linspace(-m, m, int(self.params["num_biases"]),
                              dtype=torch.float64).unsqueeze(1)

    def make_sim(self, tasks: Tensor, dtype: torch.dtype = torch.float32) -> CartPoleSim:
        return CartPoleSim(self, tasks, dtype)
