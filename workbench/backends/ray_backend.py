"""The Ray backend: each phase's rollouts split over coarse Ray actors, lost actors replaced.

`RayBackend` connects to a cluster (`ray_address`: unset = an existing local cluster if one
runs, else a fresh local instance; `auto`; or `HOST:PORT`) and wraps an algorithm's
`RolloutObjective` into a `RayObjective`. That objective keeps a pool of actors
(`worker.RolloutWorker`; by default one per cluster CPU, each declaring `ray_actor_cpus`
CPUs and running that many physics threads). One objective call, one ES phase, becomes:

1. split the N rows into one contiguous slice per live actor, at multiples of
   `STATS_CHUNK` rows, so each actor's observation-statistics chunks are the chunks one
   process would have summed (`normalization.chunk_stats`);
2. send each actor its slice's recipe (`workbench.recipes`: theta, sigma and direction seeds
   where the points are theta + sigma * noise; explicit rows where they depend on earlier
   results), task ids, rollout seeds and the normaliser's statistics;
3. gather returns, env steps and chunk sums, and `fold` the chunks in row order.

The result is bitwise what the local backend computes, whatever the number of actors.

Fault tolerance: an actor that dies mid-phase (`RayActorError`) is dropped; its slice is
re-submitted to the least-loaded live actor and a replacement actor is started, which joins
the pool once it is up. Results are stored by slice index and a slice is counted once, so
the phase completes with the same numbers. Each loss is an event (`drain_events`: the run
loop writes it to TensorBoard text and counts it in `ray/actor_restarts`).
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch
from torch import Tensor

from workbench.backends import Backend, TrajectorySampler
from workbench.backends.worker import Job, RolloutWorker, SampleJob, SliceResult
from workbench.obs_normalization import STATS_CHUNK, Normalizer, fold
from workbench.objective import Evaluation, Objective, RolloutObjective
from workbench.recipes import recipe_of

#: Times one slice may lose its actor before the phase is given up.
MAX_TRIES = 4
#: Seconds to wait for actors to start when none is live.
START_TIMEOUT_S = 300.0
RESTART_KEY = "ray/actor_restarts"


def split_rows(n: int, parts: int) -> list[tuple[int, int]]:
    """`[0, n)` as at most `parts` contiguous slices starting at multiples of STATS_CHUNK,
    as even as whole chunks allow."""
    chunks = -(-n // STATS_CHUNK)
    parts = max(1, min(parts, chunks))
    bounds = [min(n, (i * chunks // parts) * STATS_CHUNK) for i in range(parts + 1)]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if a < b]


@dataclass(eq=False)
class ActorSlot:
    """One actor of the pool and what the driver knows about it."""

    handle: Any
    index: int
    ready_ref: Any = None
    pid: int | None = None
    host: str = "?"
    node: str = "?"

    def describe(self) -> str:
        return f"actor {self.index} (pid {self.pid} on {self.host}, node {self.node})"


#: Seconds a cluster address may take to accept a TCP connection before a run refuses it.
REACH_TIMEOUT_S = 5.0


def check_reachable(address: str | None, timeout: float = REACH_TIMEOUT_S) -> None:
    """Refuse, in one line and before anything is written, a `HOST:PORT` or
    `ray://HOST:PORT` cluster address that does not accept a TCP connection within
    `timeout` seconds (Ray itself retries such an address for minutes, printing warnings).
    Unset, `local` and `auto` are Ray's to resolve and pass unchecked."""
    if address in (None, "", "local", "auto"):
        return
    target = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"ray_address {address!r} is not HOST:PORT, ray://HOST:PORT, auto "
                         f"or unset")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ValueError(f"cannot reach a Ray cluster at {address!r} ({reason}); start one "
                         f"with `ray start --head`, or leave ray_address unset to start a "
                         f"local instance") from None


class RayBackend(Backend):
    name = "ray"
    counter_keys = (RESTART_KEY,)

    def __init__(self, address: str | None = None, actors: int = 0, actor_cpus: int = 1) -> None:
        if actors < 0:
            raise ValueError(f"ray_actors must be >= 0 (0: one per cluster CPU); got {actors}")
        if actor_cpus < 1:
            raise ValueError(f"ray_actor_cpus must be >= 1; got {actor_cpus}")
        check_reachable(address)
        self.address, self.actors, self.actor_cpus = address, actors, actor_cpus
        self.restarts = 0
        self._events: list[tuple[str | None, str]] = []
        self._objectives: list[RayObjective] = []
        self._owns_ray = False

    # -- connection --------------------------------------------------------------------
    def start(self) -> None:
        """Connect and start every objective's actors (a no-op with nothing to distribute)."""
        for objective in self._objectives:
            objective.start()

    def connect(self) -> None:
        import ray
        if ray.is_initialized():
            return
        options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        if self.address in (None, "local") and not _existing_cluster():
            options["include_dashboard"] = False  # a local instance we start: keep it light
        try:
            ray.init(address=self.address, **options)
        except ConnectionError as err:
            raise ValueError(f"cannot connect to a Ray cluster at {self.address!r} ({err}); "
                             f"start one with `ray start --head`, or leave ray_address "
                             f"unset to start a local instance") from None
        self._owns_ray = True

    def num_actors(self) -> int:
        import ray
        if self.actors:
            return self.actors
        cpus = int(ray.cluster_resources().get("CPU", 1))
        return max(1, cpus // self.actor_cpus)

    # -- the backend interface -----------------------------------------------------------
    def objective(self, objective: Objective, task: dict[str, Any]) -> Objective:
        if not isinstance(objective, RolloutObjective):
            self.log(None, f"task {objective.family.name} has no simulators to distribute; "
                           f"its objective runs on the driver")
            return objective
        remote = RayObjective(self, objective, task)
        self._objectives.append(remote)
        return remote

    def sampler(self, fn: str, merge: Callable[[list[Any]], Any], spec: Any, family: Any,
                horizon: int, K: int, dtype: torch.dtype, task: dict[str, Any]) -> TrajectorySampler:
        local = TrajectorySampler(fn, spec, family, horizon, K, dtype)
        remote = RayTrajectorySampler(self, local, merge, task)
        self._objectives.append(remote)
        return remote

    def log(self, key: str | None, text: str) -> None:
        self._events.append((key, text))

    def drain_events(self) -> list[tuple[str | None, str]]:
        events, self._events = self._events, []
        return events

    def close(self) -> None:
        for objective in self._objectives:
            objective.close()
        if self._owns_ray:
            import ray
            ray.shutdown()
            self._owns_ray = False


def _existing_cluster() -> bool:
    """Whether `ray.init()` would connect to a running cluster rather than start one."""
    from ray._private import services
    try:
        return services.canonicalize_bootstrap_address(None) is not None
    except Exception:  # noqa: BLE001 - a stale address file: ray.init will decide
        return False


class RayObjective(Objective):
    """A `RolloutObjective` evaluated by a pool of Ray actors; same numbers, same interface."""

    #: Test hook: called as `hook(objective, slots)` right after a phase's slices were
    #: submitted (slots[i] runs slice i), e.g. to kill an actor mid-phase.
    after_submit: ClassVar[Callable[["RayObjective", list[ActorSlot]], None] | None] = None

    def __init__(self, backend: RayBackend, local: RolloutObjective, task: dict[str, Any]) -> None:
        super().__init__(local.spec, local.family)
        self.backend, self.local, self.task = backend, local, dict(task)
        self.live: list[ActorSlot] = []
        self.starting: list[ActorSlot] = []
        self.calls = 0
        #: Bytes of tensor payload sent to and received from actors, and what sending the
        #: points as rows would have cost (`dense`), since creation.
        self.traffic = {"sent": 0, "received": 0, "dense": 0}
        #: Wall seconds of phases on the driver, and the actors' busy seconds in them.
        self.timing = {"phase_s": 0.0, "actor_s": 0.0, "actor_capacity_s": 0.0,
                       "actor_cpu_s": 0.0}
        self._spawned = 0
        self._remote_cls: Any = None

    @property
    def normalizer(self):
        return self.local.normalizer

    def counters(self) -> dict[str, float]:
        return {**self.traffic, **self.timing, "live_actors": len(self.live)}

    # -- one phase -----------------------------------------------------------------------
    def __call__(self, thetas: Tensor, tasks: Tensor, seeds: Tensor,
                 record: bool = False) -> Evaluation:
        if record:
            # Recorded trajectories (plots of 2-D test evaluations) come from the driver's
            # own engine: the same numbers, and positions need no merging across slices.
            return self.local(thetas, tasks, seeds, record=True)
        self.spec.check(thetas)
        tasks = torch.as_tensor(tasks, dtype=torch.int64).reshape(-1)
        n = thetas.shape[0]
        if len(tasks) != n:
            raise ValueError(f"got {n} parameter vectors but {len(tasks)} task ids; "
                             f"evaluate pairs them one to one")
        seeds = torch.arange(n) if seeds is None else \
            torch.as_tensor(seeds, dtype=torch.int64).reshape(-1)
        self._ensure_pool()
        recipe = recipe_of(thetas)
        norm = self.normalizer.state_dict()
        bounds = split_rows(n, len(self.live))
        jobs = [Job(recipe.slice(a, b), tasks[a:b].clone(), seeds[a:b].clone(), norm)
                for a, b in bounds]
        results = self._dispatch(jobs, bounds)
        values = torch.cat([r.values for r in results]).to(torch.float64)
        chunks = torch.cat([r.obs_chunks for r in results])
        return Evaluation(values, n, sum(r.env_steps for r in results), fold(chunks))

    def _dispatch(self, jobs: list, bounds: list[tuple[int, int]]) -> list:
        """Run one phase's slices (`_run`) and count its seconds and bytes."""
        start = time.perf_counter()
        results = self._run(jobs, bounds)
        elapsed = time.perf_counter() - start
        self.timing["phase_s"] += elapsed
        self.timing["actor_s"] += sum(r.seconds for r in results)
        self.timing["actor_cpu_s"] += sum(r.cpu_seconds for r in results)
        self.timing["actor_capacity_s"] += elapsed * len(self.live)
        self.calls += 1
        self.traffic["sent"] += sum(j.nbytes() for j in jobs)
        self.traffic["received"] += sum(r.nbytes() for r in results)
        self.traffic["dense"] += sum(j.nbytes(dense=True) for j in jobs)
        return results

    def _run(self, jobs: list[Job], bounds: list[tuple[int, int]]) -> list[SliceResult]:
        import ray
        from ray import exceptions as rex

        # what a dead actor or node looks like from here; anything else is a real error
        lost_types = (rex.RayActorError, rex.WorkerCrashedError, rex.NodeDiedError,
                      rex.ObjectLostError, rex.OutOfMemoryError)
        results: list[SliceResult | None] = [None] * len(jobs)
        pending: dict[Any, tuple[int, ActorSlot, int]] = {}
        slots = [self.live[i % len(self.live)] for i in range(len(jobs))]
        for i, (job, slot) in enumerate(zip(jobs, slots)):
            pending[slot.handle.evaluate.remote(job)] = (i, slot, 1)
        if RayObjective.after_submit is not None:
            RayObjective.after_submit(self, slots)
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            i, slot, tries = pending.pop(ref)
            try:
                result = ray.get(ref)
            except rex.RayTaskError as err:  # the worker raised: the caller's error
                raise err.as_instanceof_cause() from None
            except lost_types as err:
                new_loss = self._lose(slot)
                if tries >= MAX_TRIES:
                    raise RuntimeError(f"rows [{bounds[i][0]}, {bounds[i][1]}) of a phase lost "
                                       f"their Ray actor {tries} times; giving up "
                                       f"({type(err).__name__})") from None
                target = self._least_loaded(pending)
                pending[target.handle.evaluate.remote(jobs[i])] = (i, target, tries + 1)
                what = (f"{slot.describe()} died ({type(err).__name__})" if new_loss
                        else f"{slot.describe()} was already lost")
                self.backend.log(RESTART_KEY if new_loss else None,
                                 f"phase {self.calls}: {what}; its rows [{bounds[i][0]}, "
                                 f"{bounds[i][1]}) re-run on {target.describe()}"
                                 + ("; a replacement actor is starting" if new_loss else ""))
                continue
            if results[i] is None:  # a slice is counted once, whoever ran it
                results[i] = result
        return results  # type: ignore[return-value]

    # -- the actor pool ------------------------------------------------------------------
    def start(self) -> None:
        """Start the actor pool now rather than on the first phase."""
        self._ensure_pool()

    def _spawn(self) -> ActorSlot:
        import ray
        if self._remote_cls is None:
            self._remote_cls = ray.remote(num_cpus=self.backend.actor_cpus, max_restarts=0,
                                          max_task_retries=0)(RolloutWorker)
        handle = self._remote_cls.remote(self.task, self.spec, self.local.horizon,
                                         self.local.dtype, self.backend.actor_cpus)
        slot = ActorSlot(handle, self._spawned, handle.ready.remote())
        self._spawned += 1
        return slot

    def _promote(self, timeout: float = 0.0) -> None:
        """Move started actors into the live pool (waiting up to `timeout` seconds for at
        least one when none is live)."""
        import ray
        if not self.starting:
            return
        refs = [s.ready_ref for s in self.starting]
        want = len(refs) if timeout == 0 else 1
        ready, _ = ray.wait(refs, num_returns=want, timeout=timeout)
        for slot in [s for s in self.starting if s.ready_ref in ready]:
            info = ray.get(slot.ready_ref)  # raises if the actor could not start
            slot.pid, slot.host, slot.node = info["pid"], info["host"], info["node"]
            self.starting.remove(slot)
            self.live.append(slot)

    def _ensure_pool(self) -> None:
        import ray
        if not self.live and not self.starting:
            self.backend.connect()
            self.starting = [self._spawn() for _ in range(self.backend.num_actors())]
            # the first phase waits for the whole pool: an even split from the start
            ray.wait([s.ready_ref for s in self.starting], num_returns=len(self.starting),
                     timeout=START_TIMEOUT_S)
            self._promote()
            self.backend.log(None, f"{len(self.live)} actor(s) x {self.backend.actor_cpus} "
                                   f"CPU: " + ", ".join(s.describe() for s in self.live))
        self._require_live(f"no Ray actor started within {START_TIMEOUT_S:.0f} s; does the "
                           f"cluster have {self.backend.actor_cpus} free CPU(s)?")

    def _require_live(self, failure: str) -> None:
        """Promote started actors, waiting for one if none is live; else fail with `failure`."""
        self._promote()
        if not self.live:
            self._promote(timeout=START_TIMEOUT_S)
        if not self.live:
            raise RuntimeError(failure)

    def _lose(self, slot: ActorSlot) -> bool:
        """Drop a dead actor and start its replacement; False if it was already dropped."""
        if slot not in self.live:
            return False
        import ray
        self.live.remove(slot)
        try:  # unreachable rather than dead: make sure it stops using its CPUs
            ray.kill(slot.handle, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.backend.restarts += 1
        self.starting.append(self._spawn())
        return True

    def _least_loaded(self, pending: dict[Any, tuple[int, ActorSlot, int]]) -> ActorSlot:
        self._require_live(f"every Ray actor was lost and no replacement started within "
                           f"{START_TIMEOUT_S:.0f} s")
        load = {id(s): 0 for s in self.live}
        for _, slot, _ in pending.values():
            if id(slot) in load:
                load[id(slot)] += 1
        return min(self.live, key=lambda s: load[id(s)])

    def close(self) -> None:
        import ray
        for slot in self.live + self.starting:
            try:
                ray.kill(slot.handle, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone, or Ray already shut down
                pass
        self.live, self.starting = [], []


def split_tasks(n: int, parts: int) -> list[tuple[int, int]]:
    """`[0, n)` as at most `parts` contiguous, non-empty slices, as even as possible."""
    parts = max(1, min(parts, n))
    bounds = [i * n // parts for i in range(parts + 1)]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if a < b]


class RayTrajectorySampler(RayObjective):
    """The PG baselines' trajectory sampler on the actor pool of `RayObjective` (same
    actors, same fault handling): the tasks are cut into one contiguous slice per live
    actor; each actor gets its slice's per-task parameters and task ids, K, the call's one
    seed with the slice's first rollout index, and the normaliser's statistics, and returns
    its whole trajectory batch; `merge` (the sampler's `concat`) joins the slices into the
    batch one local call gives, bit for bit."""

    def __init__(self, backend: RayBackend, local: TrajectorySampler, merge: Callable[[list[Any]], Any],
                 task: dict[str, Any]) -> None:
        super().__init__(backend, RolloutObjective(local.spec, local.family, local.horizon,
                                                   dtype=local.dtype), task)
        self.sampler, self.merge = local, merge

    def __call__(self, params: Tensor, tasks: Tensor, seed: int,  # type: ignore[override]
                 normalizer: Any = None, record: bool = False) -> Any:
        if record:  # recorded positions (exploration pictures) come from the driver
            return self.sampler(params, tasks, seed, normalizer, record=True)
        tasks = torch.as_tensor(tasks, dtype=torch.int64).reshape(-1)
        params = params.detach()
        K = self.sampler.K
        self._ensure_pool()
        norm = (normalizer if normalizer is not None
                else Normalizer(self.family.obs_dim, enabled=False)).state_dict()
        bounds = split_tasks(len(tasks), len(self.live))
        jobs = [SampleJob(self.sampler.fn, params[a:b].clone(), tasks[a:b].clone(), K,
                          int(seed), a * K, norm) for a, b in bounds]
        results = self._dispatch(jobs, bounds)
        return self.merge([r.batch for r in results])
