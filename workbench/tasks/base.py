"""What every task family provides: a task distribution with fixed splits, and two simulators.

A `TaskFamily` is a distribution over tasks (learn2learn's MetaEnv naming: `sample_tasks`,
`set_task`, `get_task`). Each family holds a table of task parameters `[num_tasks, task_dim]`
with fixed train and test splits, and tasks travel as integer ids into that table (cheap to
send to a worker, trivial to checkpoint).

Simulators:
- `BatchedSim`, built by `family.make_sim(task_ids)`: B environments, each with its own task,
  stepped in lockstep in torch: `reset(seeds) -> obs [B, obs]`,
  `step(actions [B, act]) -> (obs, reward [B], done [B])`.
- `MetaEnv`, built by `family.make_env()`: one environment, gymnasium style, for users who
  want the familiar interface and as the per-rollout baseline of `workbench bench rollouts`.

Splits: a finite family with no split sizes given uses every task for both training and
testing, the paper's (N, N, N) setting; otherwise `num_train` + `num_test` distinct tasks are
drawn once from `split_seed`, the paper's (50, 5, 5).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from workbench.config import Section, option

SPLITS = ("train", "test")


@dataclass(frozen=True)
class TaskParams(Section):
    """`task.*` keys every family has; each family's `Params` subclass adds its own."""

    prefix = "task."
    num_train: int | None = option(None, "training tasks (default: the family's split)", low=1)
    num_test: int | None = option(None, "test tasks (default: the family's split)", low=1)
    split_seed: int = option(0, "seed of the one-time train/test split draw", low=0)


class BatchedSim(abc.ABC):
    """B environments in lockstep; each has its own task id into the family's table."""

    def __init__(self, family: "TaskFamily", tasks: Tensor, dtype: torch.dtype) -> None:
        self.family = family
        self.dtype = dtype
        self.set_task(tasks)

    def set_task(self, tasks: Tensor) -> None:
        tasks = torch.as_tensor(tasks, dtype=torch.int64).reshape(-1)
        if len(tasks) and (tasks.min() < 0 or tasks.max() >= self.family.num_tasks):
            raise ValueError(f"task ids must lie in [0, {self.family.num_tasks}) for "
                             f"{self.family.name}; got {tasks.min()}..{tasks.max()}")
        self.tasks = tasks
        self.params = self.family.table[tasks].to(self.dtype)

    def get_task(self) -> Tensor:
        return self.tasks

    @property
    def batch_size(self) -> int:
        return len(self.tasks)

    def check_actions(self, actions: Tensor) -> Tensor:
        shape = (self.batch_size, self.family.act_dim)
        if tuple(actions.shape) != shape:
            raise ValueError(f"{self.family.name}: actions have shape {tuple(actions.shape)}; "
                             f"expected {list(shape)} (batch, act_dim)")
        return actions.to(self.dtype)

    def reset_seeds(self, seeds: Tensor | None) -> Tensor:
        """`seeds` as `[B]` int64 (default 0..B-1), or a ValueError if the count is wrong."""
        if seeds is None:
            return torch.arange(self.batch_size)
        seeds = torch.as_tensor(seeds, dtype=torch.int64).reshape(-1)
        if len(seeds) != self.batch_size:
            raise ValueError(f"{self.family.name}: got {len(seeds)} seeds for "
                             f"{self.batch_size} environments")
        return seeds

    @abc.abstractmethod
    def reset(self, seeds: Tensor | None = None) -> Tensor:
        """Start every environment; `seeds [B]` drive any reset noise, one per rollout."""

    @abc.abstractmethod
    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Advance every environment one control step: `(obs, reward, done)`."""

    def position(self) -> Tensor | None:
        """`[B, 2]` positions for trajectory plots, on tasks that have them."""
        return None


class MetaEnv(gym.Env):
    """One environment of a family, gymnasium style, with `set_task` / `get_task`.

    It drives the family's batched simulator at B = 1, so it has exactly the batched
    semantics; it is the interface learn2learn users know and the one-rollout-at-a-time
    baseline of `workbench bench rollouts`.
    """

    def __init__(self, family: "TaskFamily", dtype: torch.dtype = torch.float64) -> None:
        self.family = family
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (family.obs_dim,), np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (family.act_dim,), np.float64)
        self.sim = family.make_sim(family.train_ids[:1], dtype)

    def sample_tasks(self, n: int, seed: int = 0, split: str = "train") -> list[int]:
        g = torch.Generator().manual_seed(seed)
        return self.family.sample_tasks(n, g, split).tolist()

    def set_task(self, task: int) -> None:
        self.sim.set_task(torch.tensor([task]))

    def get_task(self) -> int:
        return int(self.sim.get_task()[0])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        seeds = None if seed is None else torch.tensor([seed])
        return self.sim.reset(seeds)[0].numpy(), {}

    def step(self, action):
        obs, reward, done = self.sim.step(torch.as_tensor(action).reshape(1, -1))
        return obs[0].numpy(), float(reward[0]), bool(done[0]), False, {}


class TaskFamily(abc.ABC):
    """A distribution over tasks with fixed train/test splits and batched simulators."""

    name: ClassVar[str] = ""
    obs_dim: ClassVar[int]
    act_dim: ClassVar[int]
    default_horizon: ClassVar[int]
    #: The family's parameters (`task.*` in configs): types, ranges, defaults, meanings.
    Params: ClassVar[type[TaskParams]] = TaskParams
    #: Split sizes when none are given; None means every task of a finite family.
    DEFAULT_SPLIT: ClassVar[tuple[int | None, int | None]] = (None, None)
    #: Policy keys (policy, width, activation, init, output) where the family's default
    #: differs from the RL one (H, 32, relu, normal, tanh), e.g. the sine regressor's.
    POLICY_DEFAULTS: ClassVar[dict[str, Any]] = {}
    #: Torch intra-op threads for a process that steps this family (None: leave torch's).
    torch_threads: ClassVar[int | None] = None
    #: Whether f_T is a supervised loss with exact gradients rather than rollouts (sine).
    supervised: ClassVar[bool] = False
    #: Default rollout count of `workbench bench rollouts`.
    bench_rollouts: ClassVar[int] = 3000
    #: What steps the environments: "torch" (batched tensors) or "mujoco" (MuJoCo's engine).
    simulator: ClassVar[str] = "torch"
    #: Whether the simulator's `position()` gives `[B, 2]` positions in a 2-D arena (the
    #: point tasks): trajectory pictures and the exploration spread are recorded only then.
    #: Declared, never inferred from `obs_dim` (an adapted environment may observe two values
    #: and have no positions).
    has_positions: ClassVar[bool] = False
    #: Half-width of the 2-D arena positions live in, for trajectory plots.
    bound: ClassVar[float] = 1.0
    #: The range one episode's return can take, (low, high), None where unbounded; plots
    #: clip std bands to it.
    return_range: ClassVar[tuple[float | None, float | None]] = (None, None)

    def __init__(self, **params: Any) -> None:
        self.params = self.Params.build(params).to_dict()
        num_train, num_test = self.params["num_train"], self.params["num_test"]
        split_seed = self.params["split_seed"]
        if num_train is None and num_test is None:
            num_train, num_test = self.DEFAULT_SPLIT
        self.split_seed = split_seed
        g = torch.Generator().manual_seed(split_seed)
        finite = self.enumerate_tasks()
        if finite is not None:
            self.table = finite
            if num_train is None and num_test is None:
                self.train_ids = self.test_ids = torch.arange(len(finite))
            else:
                num_train = len(finite) if num_train is None else num_train
                num_test = len(finite) - num_train if num_test is None else num_test
                self._check_split(num_train, num_test, len(finite))
                order = torch.randperm(len(finite), generator=g)
                self.train_ids = order[:num_train].sort().values
                self.test_ids = order[num_train:num_train + num_test].sort().values
        else:
            num_train = 50 if num_train is None else num_train
            num_test = 5 if num_test is None else num_test
            self._check_split(num_train, num_test, None)
            self.table = self.draw_tasks(num_train + num_test, g)
            self.train_ids = torch.arange(num_train)
            self.test_ids = torch.arange(num_train, num_train + num_test)

    def _check_split(self, num_train: int, num_test: int, pool: int | None) -> None:
        if num_train < 1 or num_test < 1:
            raise ValueError(f"{self.name}: num_train and num_test must be >= 1; got "
                             f"{num_train}, {num_test}")
        if pool is not None and num_train + num_test > pool:
            raise ValueError(f"{self.name}: num_train + num_test = {num_train + num_test} "
                             f"exceeds the {pool} distinct tasks of this family")

    # -- the task distribution -------------------------------------------------------
    def enumerate_tasks(self) -> Tensor | None:
        """All tasks of a finite family as `[N, task_dim]`; None for a continuous one."""
        return None

    def draw_tasks(self, n: int, generator: torch.Generator) -> Tensor:
        """`n` tasks `[n, task_dim]` from a continuous family's distribution."""
        raise NotImplementedError(f"{self.name} is finite; it has no draw_tasks")

    @property
    def num_tasks(self) -> int:
        return len(self.table)

    def split(self, split: str) -> Tensor:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
        return self.train_ids if split == "train" else self.test_ids

    def sample_tasks(self, n: int, generator: torch.Generator, split: str = "train") -> Tensor:
        """`n` task ids from a split, without replacement (in fresh passes when n > split)."""
        ids = self.split(split)
        passes = -(-n // len(ids))
        order = torch.cat([torch.randperm(len(ids), generator=generator) for _ in range(passes)])
        return ids[order[:n]]

    def get_task(self, task: int) -> dict[str, Any]:
        """A readable description of one task id."""
        return {"id": int(task), "params": self.table[int(task)].tolist()}

    def plot_goals(self, task: int) -> list[tuple[float, float, str]]:
        """(x, y, kind) markers of a task's goals for trajectory plots (kind: goal, wrong);
        none by default (tasks without a 2-D arena)."""
        return []

    def supervised_objective(self, spec: Any) -> Any:
        """A supervised family's own loss-based objective for a model `spec`; None (the
        default) for an RL family, whose objective is the return of a rollout
        (`workbench.objective.make_objective` decides)."""
        return None

    # -- simulators ------------------------------------------------------------------
    @abc.abstractmethod
    def make_sim(self, tasks: Tensor, dtype: torch.dtype = torch.float32) -> BatchedSim:
        """A batched simulator for the given task ids."""

    def make_env(self) -> MetaEnv:
        """A single gymnasium-style environment with `set_task` / `get_task`."""
        return MetaEnv(self)
