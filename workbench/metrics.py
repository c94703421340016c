"""The names of the numbers a run records, defined once.

Every line of a run's `metrics.jsonl` is one training iteration; the same names are the
TensorBoard tags. Code that reads or writes these records (the run loop, `compare`, the
reproduction harness, plots) should take the names from here instead of spelling them.
"""

from __future__ import annotations

from typing import Any, Mapping

#: 0-based index of the training iteration the line describes.
ITERATION = "iteration"
#: Training rollouts (or function evaluations) spent so far, cumulative.
ROLLOUTS = "rollouts"
#: Environment steps simulated for training so far, cumulative.
ENV_STEPS = "env_steps"
#: Seconds spent training (and evaluating) so far, cumulative; excludes time spent stopped.
WALL_TIME = "wall_time_s"

#: Mean return of the iteration's training tasks before / after the adaptation step.
TRAIN_PRE = "train/pre_adaptation_return"
TRAIN_POST = "train/post_adaptation_return"
#: The test evaluation (present only on evaluation iterations): before / after adapting.
TEST_PRE = "test/pre_adaptation_return"
TEST_POST = "test/post_adaptation_return"
#: PG-MAML only: the mean return of the stochastic rollouts the Gaussian policy executes on
#: the test tasks, before / after adapting (TEST_PRE / TEST_POST score its mean network).
TEST_PRE_STOCHASTIC = "test/pre_adaptation_return_stochastic"
TEST_POST_STOCHASTIC = "test/post_adaptation_return_stochastic"
#: Supervised tasks with exact-gradient adaptation: the held-out value after n gradient
#: steps from the meta-parameters (Fig. A6 shows 1 to 3), `post_after_steps(n)`.
def post_after_steps(steps: int) -> str:
    return f"test/post_adaptation_return_after_{steps}_steps"


#: 2-D tasks: how far apart the meta-policy's K exploration rollouts end (RMS distance of
#: their end points from their centroid, mean over a few test tasks); near 0 when every
#: exploration rollout goes to the same place (`Algorithm.exploration_spread`).
EXPLORATION_SPREAD = "test/exploration_spread"

#: Learning-curve x-axes: axis name -> the key it is read from.
AXES: dict[str, str] = {"iterations": ITERATION, "rollouts": ROLLOUTS, "wall_time": WALL_TIME}
#: Axis name -> the label printed under a plot.
AXIS_LABELS: dict[str, str] = {"iterations": "iterations", "rollouts": "training rollouts",
                               "wall_time": "wall-clock seconds"}


def axis_value(row: Mapping[str, Any], axis: str) -> float:
    """Where `row` sits on `axis`. On the iterations axis that is the number of iterations
    completed (`iteration + 1`), so every axis counts work done."""
    if axis not in AXES:
        raise ValueError(f"unknown axis {axis!r}; valid: {', '.join(AXES)}")
    value = row[AXES[axis]]
    return float(value + 1 if axis == "iterations" else value)


def is_evaluation(row: Mapping[str, Any]) -> bool:
    """Whether the metrics line carries a test evaluation."""
    return TEST_POST in row


#: TensorBoard curves logged a second time with the cumulative env-step count as their step
#: (the convention of CleanRL and Stable-Baselines3), so that runs whose iterations cost
#: different numbers of rollouts (ES-MAML vs PG-MAML) overlay at equal sample cost. They go
#: to a sub-directory of the run (its own event file, so that a resume's purge, which works
#: on steps, never mixes iteration steps with env-step steps) under these tags.
ENV_STEP_LOGDIR = "by_env_steps"
ENV_STEP_PREFIX = "by_env_steps/"
ENV_STEP_CURVES: tuple[str, ...] = (TRAIN_PRE, TRAIN_POST, TEST_PRE, TEST_POST, ROLLOUTS,
                                    WALL_TIME)


def env_step_tag(key: str) -> str:
    """The TensorBoard tag of `key` on the env-step axis, e.g. `by_env_steps/test/...`."""
    return ENV_STEP_PREFIX + key


def env_step_scalars(row: Mapping[str, Any]) -> tuple[int, list[tuple[str, float]]]:
    """(global step, [(tag, value), ...]) to log for one metrics line on the env-step axis."""
    return int(row[ENV_STEPS]), [(env_step_tag(key), float(row[key]))
                                 for key in ENV_STEP_CURVES if key in row]
