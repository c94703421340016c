"""What a Ray actor runs: its own task family and rollout engine, evaluating slices of phases.

Kept free of Ray imports: `ray_backend` wraps `RolloutWorker` with `ray.remote`, and the
tests can drive a worker in-process. A worker is built once per run from the config's task
section, the policy spec, the horizon and the engine dtype; it owns batched simulators
with `threads` physics threads (1 by default: one actor per core) and runs torch on as
many threads as the family wants (MuJoCo families: 1).

Per phase the driver sends a `Job`: a recipe for the slice's parameter vectors
(`workbench.recipes`: theta and seeds where the points are theta + sigma * noise, explicit
rows where they depend on earlier results), the slice's task ids and rollout seeds, and the
normaliser's statistics. The worker returns a `SliceResult`: returns, env steps and the
observation statistics of its whole chunks (`normalization.chunk_stats`).

For the policy-gradient baselines the driver sends a `SampleJob` instead: the sampler's
`module:function` name, the slice's per-task parameter vectors and task ids, K, the one
int all rollout seeds derive from with the slice's first rollout index, and the
normaliser's statistics; the worker returns the sampler's whole trajectory batch
(`SampleResult`), which the driver concatenates.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from workbench.backends import import_function
from workbench.obs_normalization import Normalizer
from workbench.recipes import Points
from workbench.policies import PolicySpec
from workbench.rollout import deterministic_rollouts
from workbench.seeding import derive_many
from workbench.tasks import family_class, make_family


@dataclass
class Job:
    points: Points  # the slice's parameter vectors, as a recipe
    tasks: Tensor  # [r] int64
    seeds: Tensor  # [r] int64 rollout seeds
    normalizer: dict[str, Any]  # Normalizer.state_dict() of the driver

    def nbytes(self, dense: bool = False) -> int:
        """Tensor payload bytes; with `dense`, what it would be with the points as rows."""
        points = 8 * self.points.rows * self.points.dim if dense else self.points.nbytes()
        return (points + 8 * (len(self.tasks) + len(self.seeds))
                + self.normalizer["stats"].numel() * 8)


@dataclass
class SliceResult:
    values: Tensor  # [r] returns
    env_steps: int
    obs_chunks: Tensor  # [ceil(r / STATS_CHUNK), 1 + 2 obs_dim]
    seconds: float = 0.0  # the worker's time on this slice (rebuilding points + rollouts)
    cpu_seconds: float = 0.0  # the worker process's CPU time on it (all its threads)

    def nbytes(self) -> int:
        return (self.values.numel() * self.values.element_size()
                + self.obs_chunks.numel() * 8 + 8)


@dataclass
class SampleJob:
    fn: str  # the sampler, `module:function` (workbench.backends.import_function)
    params: Tensor  # [r, P] the slice's per-task parameter vectors
    tasks: Tensor  # [r] int64
    K: int  # rollouts per task
    seed: int  # rollout j of the whole call has seed derive_many(seed, j)
    offset: int  # index of the slice's first rollout in the whole call
    normalizer: dict[str, Any]

    def nbytes(self, dense: bool = False) -> int:
        """Tensor payload bytes; with `dense`, what one seed per rollout would cost."""
        seeds = 8 * len(self.tasks) * self.K if dense else 16
        return (self.params.numel() * self.params.element_size() + 8 * len(self.tasks)
                + seeds + self.normalizer["stats"].numel() * 8)


@dataclass
class SampleResult:
    batch: Any  # what the sampler returned (a dataclass of tensors)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    env_steps: int = 0

    def nbytes(self) -> int:
        return sum(v.numel() * v.element_size() for v in vars(self.batch).values()
                   if isinstance(v, Tensor))


def worker_family(task: dict[str, Any], threads: int):
    """The config's task family with `threads` physics threads where it has the option
    (thread counts do not change MuJoCo's results: docs/tasks.md)."""
    params = {k: v for k, v in task.items() if k != "name"}
    if "nthread" in family_class(task["name"]).Params.keys():
        params["nthread"] = threads
    return make_family(task["name"], **params)


class RolloutWorker:
    """One actor's engine: `evaluate(job) -> SliceResult`."""

    def __init__(self, task: dict[str, Any], spec: PolicySpec, horizon: int,
                 dtype: torch.dtype, threads: int = 1) -> None:
        self.family = worker_family(task, threads)
        torch.set_num_threads(self.family.torch_threads or threads)
        self.spec, self.horizon, self.dtype = spec, horizon, dtype
        self.normalizer = Normalizer(self.family.obs_dim)

    def ready(self) -> dict[str, Any]:
        """Where this worker runs (for logs, and for tests that kill it)."""
        where = {"pid": os.getpid(), "host": socket.gethostname(), "node": "?"}
        try:  # inside Ray: which node (several may share a host)
            import ray
            where["node"] = ray.get_runtime_context().get_node_id()[:8]
        except Exception:  # noqa: BLE001 - run in-process, outside Ray
            pass
        return where

    @torch.no_grad()
    def evaluate(self, job: Job | SampleJob) -> SliceResult | SampleResult:
        if isinstance(job, SampleJob):
            return self.sample(job)
        start, cpu = time.perf_counter(), time.process_time()
        self.normalizer.load_state_dict(job.normalizer)
        out = deterministic_rollouts(self.spec, self.family, job.points.materialize(), job.tasks,
                       self.horizon, self.normalizer, seeds=job.seeds, dtype=self.dtype)
        return SliceResult(out.returns, out.env_steps, out.obs_chunks,
                           time.perf_counter() - start, time.process_time() - cpu)

    @torch.no_grad()
    def sample(self, job: SampleJob) -> SampleResult:
        start, cpu = time.perf_counter(), time.process_time()
        self.normalizer.load_state_dict(job.normalizer)
        seeds = derive_many(job.seed, torch.arange(job.offset,
                                                   job.offset + len(job.tasks) * job.K))
        # every step up to the horizon: the driver cuts the whole batch where one process
        # would have stopped (when the last rollout of ALL slices is done)
        batch = import_function(job.fn)(self.spec, self.family, job.params, job.tasks, job.K,
                                self.horizon, seeds, self.normalizer, dtype=self.dtype,
                                stop_when_done=False)
        return SampleResult(batch, time.perf_counter() - start, time.process_time() - cpu)
