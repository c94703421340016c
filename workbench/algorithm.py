"""The contract between a meta-learning algorithm and the workbench's run loop.

An algorithm (ES-MAML in `es`, the PG baselines in `baselines`) is a class registered under
the entry-point group `workbench.algorithms`. The run loop (`workbench.app.run`) owns the run
directory, metrics, TensorBoard, checkpoints, signals and the progress bar; the algorithm
owns one training iteration and one test evaluation. All randomness of iteration i derives
from `(seed, i)`, so an algorithm's `state_dict` (parameters, normaliser, optimiser state)
is all a resume needs to continue bit-identically.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from workbench.backends import make_backend
from workbench.config import Section
from workbench.policies import PolicySpec
from workbench.registry import Registry
from workbench.seeding import derive, derive_many
from workbench.tasks import TaskFamily, make_family

#: Test tasks (an evaluation's first distinct ones) the exploration spread is measured on.
SPREAD_TASKS = 4
#: The streams a test evaluation draws its tasks and per-adaptation seeds from
#: (`Algorithm.test_batch`): derive(seed, TEST, iteration), then TEST_TASKS / TEST_SEEDS.
TEST, TEST_TASKS, TEST_SEEDS = 5, 2, 3


def end_point_spread(positions: Tensor) -> float:
    """RMS distance of K paths' end points from their centroid; `positions [T + 1, K, 2]`."""
    end = positions[-1].double()
    return float((end - end.mean(0)).square().sum(-1).mean().sqrt())


@dataclass
class IterationResult:
    pre_return: float  # mean f_T(theta) over the iteration's current-point tasks
    post_return: float  # mean f_T(U(theta, T)) over the same tasks
    rollouts: int  # rollouts (or function evaluations) this iteration spent
    env_steps: int
    extras: dict[str, float] = field(default_factory=dict)  # TensorBoard-only diagnostics


@dataclass
class EvalResult:
    pre_return: float
    post_return: float
    trajectories: Tensor | None = None  # [T + 1, n, 2] adapted policies' positions (2-D tasks)
    trajectory_tasks: Tensor | None = None  # [n] their task ids
    #: Further numbers of the evaluation, named `test/...`; the run loop writes them to
    #: `metrics.jsonl` and TensorBoard beside the two returns.
    extras: dict[str, float] = field(default_factory=dict)
    #: Every test adaptation, for statistics beyond the mean (`workbench.app.run` saves them to
    #: `evaluations/iter_NNNNNN.npz`): task ids [n], pre- and post-adaptation values [n], and
    #: for 2-D tasks evaluated with `record=True` all adapted positions [T + 1, n, 2].
    tasks: Tensor | None = None
    pre_values: Tensor | None = None
    post_values: Tensor | None = None
    positions: Tensor | None = None

    @classmethod
    def of(cls, tasks: Tensor, pre_values: Tensor, post_values: Tensor,
           positions: Tensor | None = None,
           extras: dict[str, float] | None = None) -> "EvalResult":
        """An evaluation from its per-adaptation values: their means as the two returns,
        the values themselves, and, with `positions` (2-D tasks, recorded), one adapted
        path per task for the trajectory plot."""
        result = cls(float(pre_values.mean()), float(post_values.mean()),
                     extras=dict(extras or {}), tasks=tasks, pre_values=pre_values,
                     post_values=post_values, positions=positions)
        if positions is not None:
            result.trajectories, result.trajectory_tasks = one_per_task(positions, tasks)
        return result


class Algorithm(abc.ABC):
    """One meta-learning algorithm, configured by a resolved config dict."""

    name: ClassVar[str] = ""
    #: Algorithm-specific config keys (top level, beside `workbench.config.RunConfig`'s).
    Config: ClassVar[type[Section]] = Section
    #: Top-level keys (besides `task`) that hold a section given by `nested_sections`.
    section_keys: ClassVar[tuple[str, ...]] = ()
    #: Execution backends (`workbench.backends`) this algorithm can run its rollouts on.
    backends: ClassVar[tuple[str, ...]] = ("local",)

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        # checked first: a bad backend fails before any task is built; connects lazily
        self.backend = make_backend(config, type(self).backends, self.name or None)
        self.family = make_family_from(config)
        # One torch thread unless the config asks for more: on a 2-core machine with one
        # other busy process, torch's default (all cores) made the demo 5-10x slower,
        # one thread 1.2-2x (docs/es-maml.md, "Threads"). Set once here, so every
        # iteration of a run, resumed or not, runs on the same count.
        torch.set_num_threads(torch_threads(config, self.family))
        self.spec = policy_spec_from(config, self.family)
        self.horizon = int(config["horizon"] or self.family.default_horizon)
        self.seed = int(config["seed"])

    @classmethod
    def nested_sections(cls, config: dict[str, Any]) -> dict[str, type[Section]]:
        """Further sections (besides `task`) a config with these top-level values has, e.g.
        ES-MAML's `adapt_options` for the chosen operator; none by default."""
        return {}

    @classmethod
    def documented_sections(cls) -> dict[str, type[Section]]:
        """Every section this algorithm can have, by title, for the generated key tables."""
        return {f"{cls.name}": cls.Config}

    def backend_counters(self) -> dict[str, float]:
        """Cumulative diagnostics of the backend the rollouts ran on (`Objective.counters`);
        none by default."""
        return {}

    def exploration_samples(self, task: int, seed: int) -> Tensor:
        """`[T + 1, K, 2]` positions of the K rollouts the meta-policy gathers its adaptation
        samples with on `task` (2-D tasks), drawn from `seed`: the exploration pictures."""
        raise ValueError(f"{self.name} does not provide exploration samples")

    def exploration_spread(self, tasks: Tensor, seed: int) -> float:
        """How far apart the K exploration rollouts end: `end_point_spread` of
        `exploration_samples` on each of the first `SPREAD_TASKS` distinct `tasks` (task i
        drawn from `derive(seed, i)`), averaged. Changes no state of the algorithm."""
        distinct = list(dict.fromkeys(int(t) for t in tasks))[:SPREAD_TASKS]
        with torch.no_grad():
            return float(np.mean([end_point_spread(self.exploration_samples(t, derive(seed, i)))
                                  for i, t in enumerate(distinct)]))

    def test_batch(self, iteration: int, n: int) -> tuple[Tensor, Tensor]:
        """The `n` test tasks and per-adaptation seeds of evaluation `iteration`: the same for
        every algorithm that draws them here, so their evaluations meet the same data."""
        s = derive(self.seed, TEST, iteration)
        tasks = self.family.sample_tasks(n, torch.Generator().manual_seed(derive(s, TEST_TASKS)),
                                         split="test")
        return tasks, derive_many(derive(s, TEST_SEEDS), torch.arange(n))

    @abc.abstractmethod
    def train_iteration(self, iteration: int) -> IterationResult:
        """Run training iteration `iteration` (0-based) and update the meta-parameters."""

    @abc.abstractmethod
    def evaluate(self, iteration: int, record: bool = False) -> EvalResult:
        """Adapt to the test tasks from the current meta-parameters; report pre and post."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs (tensors, numbers, strings: `weights_only` loadable)."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        ...

    def close(self) -> None:
        """Release the backend's workers (the run loop calls this at the end of a run)."""
        self.backend.close()


def torch_threads(config: dict[str, Any], family: TaskFamily) -> int:
    """The run's torch intra-op threads: the `threads` key, else the family's own choice,
    else 1. (MuJoCo families keep torch on 1 thread whatever the key says: their
    simulator sets it, and their physics threads are `task.nthread`.)"""
    return int(config.get("threads") or family.torch_threads or 1)


def make_family_from(config: dict[str, Any]) -> TaskFamily:
    params = {k: v for k, v in config["task"].items() if k != "name"}
    if not config["task"].get("name"):
        raise ValueError("no task given: use --task NAME")
    return make_family(config["task"]["name"], **params)


def policy_spec_from(config: dict[str, Any], family: TaskFamily) -> PolicySpec:
    """The config's policy, falling back on the family's defaults, then on H, width 32, ReLU
    hidden layers and tanh output (the authors' release), per-layer He initialisation."""
    own = family.POLICY_DEFAULTS

    def pick(key: str, fallback: Any) -> Any:
        return config.get(key) if config.get(key) is not None else own.get(key, fallback)

    return PolicySpec.from_name(pick("policy", "H"), family.obs_dim, family.act_dim,
                                width=pick("width", 32), activation=pick("activation", "relu"),
                                output=own.get("output", "tanh"),
                                init_scheme=pick("init", "normal"))


#: Algorithms live above this package (es, baselines): only entry points name them.
REGISTRY = Registry("algorithm", "workbench.algorithms")


def algorithms() -> dict[str, str]:
    """Registered algorithms: name -> `module:Class`."""
    return REGISTRY.names()


def algorithm_class(name: str) -> type[Algorithm]:
    return REGISTRY.load(name)


def one_per_task(positions: Tensor, tasks: Tensor, panels: int = 8) -> tuple[Tensor, Tensor]:
    """The first trajectory of each distinct task (by task id, at most `panels`) for plots."""
    first: dict[int, int] = {}
    for i, t in enumerate(tasks.tolist()):
        first.setdefault(t, i)
    idx = torch.tensor(sorted(first.values(), key=lambda i: int(tasks[i]))[:panels])
    return positions[:, idx], tasks[idx]
