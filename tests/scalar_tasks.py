"""Plain-Python, one-environment implementations of each vectorised task: the test oracle.

Written from the paper's task descriptions and the reference releases' task definitions
(ES-MAML's point tasks, NoRML's CartPole) in scalar float arithmetic, independently of the
torch simulators they check. Each has
`reset() -> obs`, `step(action) -> (obs, reward, done)`.
"""

from __future__ import annotations

import math
import struct


def clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


class ScalarPoint:
    bound = 5.0
    #: "clip": the action clipped to +-0.1 (ES-MAML's task.py); "scale": 0.1 * clip(a, -1, 1)
    actions = "clip"

    def reset(self) -> list[float]:
        self.pos = [0.0, 0.0]
        return list(self.pos)

    def step_size(self, a: float) -> float:
        return clip(a, -0.1, 0.1) if self.actions == "clip" else clip(a, -1.0, 1.0) * 0.1

    def move(self, action) -> None:
        self.pos = [clip(self.pos[i] + self.step_size(float(action[i])), -self.bound, self.bound)
                    for i in range(2)]

    def d2(self, goal) -> float:
        return (self.pos[0] - goal[0]) ** 2 + (self.pos[1] - goal[1]) ** 2


class ScalarNav2D(ScalarPoint):
    bound = 1.0

    def __init__(self, goal) -> None:
        self.goal = [float(goal[0]), float(goal[1])]

    def step(self, action):
        self.move(action)
        reward = -self.d2(self.goal)
        return list(self.pos), reward, reward >= -0.01


class ScalarFourCorners(ScalarPoint):
    corners = [(2.0, 2.0), (-2.0, 2.0), (-2.0, -2.0), (2.0, -2.0)]

    def __init__(self, corner: int, penalty: float = 0.0) -> None:
        self.corner, self.penalty = corner, penalty

    def step(self, action):
        self.move(action)
        reward = -4.0 + max(0.0, 4.0 - self.d2(self.corners[self.corner]))
        for i, c in enumerate(self.corners):
            if i != self.corner:
                reward += self.penalty * min(0.0, self.d2(c) - 4.0)
        return list(self.pos), reward, False


class ScalarSixCircles(ScalarPoint):
    def __init__(self, correct, num_goals: int = 6, penalty: float = 10000.0) -> None:
        self.correct, self.penalty = set(correct), penalty
        self.goals = [(math.sqrt(8.0) * math.cos(2 * math.pi * i / num_goals),
                       math.sqrt(8.0) * math.sin(2 * math.pi * i / num_goals))
                      for i in range(num_goals)]

    def reset(self):
        self.visited = set()
        return super().reset()

    def step(self, action):
        self.move(action)
        reward = 0.0
        for i, g in enumerate(self.goals):
            d2 = self.d2(g)
            if i not in self.correct:
                reward += self.penalty * min(0.0, d2 - 4.0)
            elif i not in self.visited:
                reward += -4.0 + max(0.0, 4.0 - d2)
                if d2 < 0.01:
                    self.visited.add(i)
        return list(self.pos), reward, False


def to_float32(x: float) -> float:
    """x rounded to the nearest float32 (inf past float32's range)."""
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


class ScalarBiasedCartPole:
    """CartPole-v1 physics, continuous force, biased observed angle, 0 on the failing step.

    `observation="norml"`: NoRML's RangeNormalize, `2 * (o - low) / (high - low) - 1` per
    entry, with gym's float32 CartPole bounds high = (4.8, float32 max, 24 degrees in rad,
    float32 max), low = -high, `high - low` a float32 subtraction, and o the float64 state
    with the bias on the angle. `observation="full"`: that o itself.
    """

    F32_MAX = (2.0 - 2.0 ** -23) * 2.0 ** 127
    HIGH = [to_float32(4.8), F32_MAX, to_float32(2 * 12 * 2 * math.pi / 360), F32_MAX]

    def __init__(self, bias: float, integrator: str = "euler",
                 observation: str = "norml") -> None:
        self.bias, self.integrator, self.observation = bias, integrator, observation

    def reset(self, state) -> list[float]:
        self.state = [float(s) for s in state]
        return self.observe()

    def observe(self) -> list[float]:
        x, x_dot, th, th_dot = self.state
        raw = [x, x_dot, th + self.bias, th_dot]
        if self.observation == "full":
            return raw
        out = []
        for o, high in zip(raw, self.HIGH):
            span = to_float32(high - (-high))  # float32 arithmetic: 2 * F32_MAX -> inf
            out.append(2 * (o - (-high)) / span - 1)
        return out

    def step(self, action):
        x, x_dot, th, th_dot = self.state
        force = 10.0 * clip(float(action[0]), -1.0, 1.0)
        c, s = math.cos(th), math.sin(th)
        temp = (force + 0.05 * th_dot * th_dot * s) / 1.1
        th_acc = (9.8 * s - c * temp) / (0.5 * (4.0 / 3.0 - 0.1 * c * c / 1.1))
        x_acc = temp - 0.05 * th_acc * c / 1.1
        if self.integrator == "euler":
            x, x_dot, th, th_dot = (x + 0.02 * x_dot, x_dot + 0.02 * x_acc,
                                    th + 0.02 * th_dot, th_dot + 0.02 * th_acc)
        else:
            x_dot += 0.02 * x_acc
            x += 0.02 * x_dot
            th_dot += 0.02 * th_acc
            th += 0.02 * th_dot
        self.state = [x, x_dot, th, th_dot]
        done = abs(x) > 2.4 or abs(th) > 12 * 2 * math.pi / 360
        return self.observe(), 0.0 if done else 1.0, done
