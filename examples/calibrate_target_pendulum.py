"""Calibration of the target-pendulum example: what a policy blind to the task and a policy
told the task score on the family's five test tasks (docs/own-task.md, section 3).

    python -m examples.calibrate_target_pendulum

Scores are the mean return over the test tasks and 20 start seeds each, with the example's
own dynamics and reward. Three controllers, all PD with gravity compensation towards an angle:
- zero torque: the pole stays straight down, the best angle for the training tasks (their
  targets average about 0);
- the best single angle for the five test tasks, searched on a grid after seeing them
  (a ceiling for any task-blind policy);
- the task's own target, with the best gains of a small grid (a per-task reference).
"""

from __future__ import annotations

import numpy as np

from examples.target_pendulum import TargetPendulum
from workbench.tasks import make_family

SEEDS = range(20)


def score(env: TargetPendulum, tasks: list[dict], controller) -> float:
    total = []
    for task in tasks:
        env.set_task(task)
        for seed in SEEDS:
            env.reset(seed=seed)
            ret = 0.0
            for _ in range(env.max_episode_steps):
                theta, omega = env.state
                _, reward, *_ = env.step(np.array([controller(theta, omega, task["target"])]))
                ret += reward
            total.append(ret)
    return float(np.mean(total))


def towards(angle_of, kp: float, kd: float, torque: float):
    """PD towards `angle_of(target)` with the torque that holds the pole there."""
    def control(theta, omega, target):
        goal = angle_of(target)
        return np.clip(5.0 * np.sin(goal) + kp * (goal - theta) - kd * omega, -torque, torque)
    return control


def main() -> None:
    family = make_family("gym:examples.target_pendulum:TargetPendulum")
    env = TargetPendulum()
    test = [family.tasks[int(i)] for i in family.test_ids]
    train_mean = np.mean([family.tasks[int(i)]["target"] for i in family.train_ids])
    print(f"test targets {[round(t['target'], 3) for t in test]}; training targets "
          f"average {train_mean:.3f}")
    zero = score(env, test, lambda theta, omega, target: 0.0)
    fixed = max((score(env, test, towards(lambda t, c=c: c, 5.0, 4.0, env.max_torque)), c)
                for c in np.linspace(-0.1, 0.3, 41))
    told = max((score(env, test, towards(lambda t: t, kp, kd, env.max_torque)), kp, kd)
               for kp in (2, 5, 10, 20) for kd in (0.5, 1, 2, 4))
    print(f"zero torque (straight down)      {zero:8.3f}")
    print(f"best single angle ({fixed[1]:+.2f} rad)    {fixed[0]:8.3f}")
    print(f"per-task PD (kp {told[1]}, kd {told[2]})       {told[0]:8.3f}")


if __name__ == "__main__":
    main()
