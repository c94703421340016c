"""Any gymnasium environment with a task hook as a task family (`--task gym:...`).

Names (`workbench.tasks.family_class` routes them here):
- `gym:PKG.MODULE:CALLABLE`: a callable (usually an `Env` class) that builds one
  environment; its keyword arguments with scalar defaults become `task.*` keys.
- `gym:ID`: an environment registered with gymnasium (`gym.make(ID, **task.*)`); its
  entry point's keyword arguments become `task.*` keys, its `max_episode_steps` the horizon.
- an entry point of the group `workbench.tasks` whose target is such a callable rather than
  a `TaskFamily`: a package registers its task by name.
A module is imported from `sys.path`, and from the working directory when it is not found
there (as `python -m` would), so a file beside the user's shell works.

Tasks. The environment's own `sample_tasks(n)` (learn2learn's MetaEnv convention) draws
them, or the function named by `task.sampler` (`module:function`, called as `f(n)`). Either
gets `seed=` when it takes a `seed` argument, `rng=` (a NumPy Generator) when it takes an
`rng`; otherwise NumPy's and Python's global generators are seeded for the call and restored
after (and the environment's own `np_random` is seeded before its `sample_tasks`). The draw
is made twice and must give the same tasks. `num_train + num_test` tasks (default 50 + 5)
are drawn once from `task.split_seed`, as for every family, and travel as integer ids. A
task reaches an environment through its `set_task(task)`; an environment without one takes
tasks that are dicts of attributes, set on `env.unwrapped` (e.g. `{"g": 12.0}` on
gymnasium's Pendulum).

Simulation. `GymSim` is a `BatchedSim` over B environments stepped in lockstep in Python,
one environment per rollout; it resets rollout i with `env.reset(seed=seeds[i])`, so every
rollout is a function of its seed (local, Ray and resume agree). The policy's output in
(-1, 1) is mapped affinely onto a bounded action Box (passed through where a bound is
infinite) and handed over in float64, as the native MuJoCo engine does; `terminated or
truncated` is done, and a done environment is not stepped again. Environments are kept in
a pool per family and reused by the next simulator.

Checks, each a one-line ValueError before a run is created: the import, the gymnasium id,
1-D Box observation and action spaces, a task source, the sampler's count, the task's form,
and one probe rollout of the first training task at mid-range actions for the default
horizon (an exception in `step` names the task and the step).

Horizon: the registered `max_episode_steps`, else the environment's `max_episode_steps`
attribute, else 200. docs/own-task.md walks through an example.
"""

from __future__ import annotations

import functools
import inspect
import random
import typing
import weakref
from dataclasses import dataclass, make_dataclass
from typing import Any, Callable, ClassVar

import numpy as np
import torch
from torch import Tensor

from workbench.config import option
from workbench.registry import import_attr
from workbench.tasks.base import BatchedSim, TaskFamily, TaskParams

PREFIX = "gym:"
DEFAULT_HORIZON = 200
#: What the adapter uses of an environment; an object without one of them is refused.
ENV_ATTRIBUTES = ("observation_space", "action_space", "reset", "step")


@dataclass(frozen=True)
class GymParams(TaskParams):
    """Keys of every adapted family; the environment's constructor adds its own."""

    sampler: str | None = option(None, "module:function(n) returning n tasks (default: the "
                                 "environment's own sample_tasks)")


class TaskError(ValueError):
    """Bad input in a user's task: one line (the command prints it and exits with 2)."""


def _scalar_type(default: Any, annotation: Any) -> type | None:
    """The config type of a constructor argument, or None when it is not a scalar."""
    for kind in (bool, int, float, str):  # bool first: True is an int too
        if type(default) is kind:
            return kind
    if default is None and annotation is not inspect.Parameter.empty:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and args[0] in (bool, int, float, str):
            return args[0]
    return None


def constructor_options(ctor: Callable, overrides: dict[str, Any] | None = None,
                        owner: str = "") -> list[tuple[str, Any, Any]]:
    """`(name, type, field)` for each keyword argument of `ctor` with a scalar default
    (`overrides`: a registered spec's kwargs, which replace the signature's defaults)."""
    try:
        params = inspect.signature(ctor).parameters.values()
    except (TypeError, ValueError):
        return []
    try:
        hints = typing.get_type_hints(ctor.__init__ if inspect.isclass(ctor) else ctor)
    except Exception:  # unresolvable annotations: fall back to the defaults' types
        hints = {}
    overrides = overrides or {}
    out = []
    for p in params:
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) or p.name == "self":
            continue
        default = overrides.get(p.name, p.default)
        if default is inspect.Parameter.empty:
            continue
        kind = _scalar_type(default, hints.get(p.name, p.annotation))
        if kind is None:
            continue
        if p.name in GymParams.keys():
            raise TaskError(f"{owner}: constructor argument {p.name!r} clashes with the "
                            f"adapter's own task.{p.name}; rename it")
        out.append((p.name, kind | None if default is None else kind,
                    option(default, f"constructor argument of {owner}")))
    return out


# -- the family class for a name -----------------------------------------------------------
@functools.lru_cache(maxsize=None)
def family_for(name: str) -> type["GymFamily"]:
    """The adapted family class for `gym:ID` or `gym:module:callable` (one per name)."""
    if not name.startswith(PREFIX) or len(name) == len(PREFIX):
        raise TaskError(f"task {name!r}: expected gym:ID or gym:module:Callable")
    body = name[len(PREFIX):]
    if ":" in body:
        return adapt(import_attr(body, "task"), name)
    return _registered(body, name)


def _registered(env_id: str, name: str) -> type["GymFamily"]:
    import gymnasium as gym
    from gymnasium.envs.registration import registry
    if env_id not in registry:
        import difflib
        close = difflib.get_close_matches(env_id, list(registry), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TaskError(f"unknown gymnasium id {env_id!r} (not in gymnasium's registry{hint}); "
                        f"for your own class use gym:module:Class")
    spec = registry[env_id]
    entry = spec.entry_point
    if isinstance(entry, str):
        entry = import_attr(entry, f"gymnasium id {env_id!r}'s entry point")

    def make(**kwargs: Any):
        return gym.make(env_id, disable_env_checker=True, **kwargs)

    return adapt(make, name, signature_of=entry, defaults=dict(spec.kwargs),
                 horizon=spec.max_episode_steps)


@functools.lru_cache(maxsize=None)
def adapt_entry(ctor: Any, name: str) -> type["GymFamily"]:
    """The adapted family of an entry point that names an environment class (one per name)."""
    return adapt(ctor, name)


def adapt(ctor: Any, name: str, signature_of: Callable | None = None,
          defaults: dict[str, Any] | None = None, horizon: int | None = None) -> type["GymFamily"]:
    """A `GymFamily` subclass named `name` whose environments `ctor(**task keys)` builds."""
    if not callable(ctor):
        raise TaskError(f"task {name!r}: {ctor!r} is not callable (expected an Env class or "
                        f"a function that returns an environment)")
    source = signature_of or ctor
    fields = constructor_options(source, defaults, name)
    params = make_dataclass("Params", fields, bases=(GymParams,), frozen=True)
    horizon = horizon or getattr(source, "max_episode_steps", None) or DEFAULT_HORIZON
    return type(f"Adapted[{name}]", (GymFamily,), {
        "name": name, "Params": params, "default_horizon": int(horizon),
        "env_keys": tuple(f[0] for f in fields), "build": staticmethod(ctor),
        "__module__": __name__})


# -- the family ------------------------------------------------------------------------
class GymFamily(TaskFamily):
    """Tasks of a gymnasium environment; see the module docstring."""

    simulator = "gym"
    DEFAULT_SPLIT = (50, 5)
    bench_rollouts = 300
    obs_dim: int | None = None  # known once an environment is built
    act_dim: int | None = None
    env_keys: ClassVar[tuple[str, ...]] = ()
    build: ClassVar[Callable[..., Any]]

    def __init__(self, **params: Any) -> None:
        self._pool: list[Any] = []
        self._lender: Any = None
        self.tasks: list[Any] = []
        super().__init__(**params)  # checks the keys, then draws the tasks (draw_tasks)
        self._probe()

    # -- environments ------------------------------------------------------------------
    def new_env(self) -> Any:
        kwargs = {k: self.params[k] for k in self.env_keys if self.params[k] is not None}
        try:
            env = self.build(**kwargs)
        except Exception as err:
            raise TaskError(f"{self.name}: building the environment raised "
                            f"{type(err).__name__}: {err}") from None
        missing = [a for a in ENV_ATTRIBUTES if not hasattr(env, a)]
        if missing:
            raise TaskError(f"{self.name}: the task's constructor returned "
                            f"{type(env).__name__} {_short(env)}, which is not an environment "
                            f"(no {missing[0]}); name an Env class or a function that "
                            f"returns an environment")
        if self.obs_dim is None:
            self._read_spaces(env)
        return env

    def _read_spaces(self, env: Any) -> None:
        import gymnasium as gym
        for what, space in (("observation", env.observation_space),
                            ("action", env.action_space)):
            if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
                raise TaskError(f"{self.name}: the {what} space is {space}; the workbench "
                                f"needs a 1-D gymnasium.spaces.Box (flatten or wrap it)")
        self.obs_dim = int(env.observation_space.shape[0])
        self.act_dim = int(env.action_space.shape[0])
        low = np.asarray(env.action_space.low, dtype=np.float64)
        high = np.asarray(env.action_space.high, dtype=np.float64)
        bounded = np.isfinite(low) & np.isfinite(high)
        self.action_center = np.where(bounded, (low + high) / 2.0, 0.0)
        self.action_half = np.where(bounded, (high - low) / 2.0, 1.0)

    def envs(self, n: int, borrower: Any) -> list[Any]:
        """`n` environments for `borrower` (a simulator): the pool's when no other live
        simulator holds it, else fresh ones (correct either way, pooled in the usual case)."""
        if self._lender is not None and self._lender() is not None:
            return [self.new_env() for _ in range(n)]
        while len(self._pool) < n:
            self._pool.append(self.new_env())
        self._lender = weakref.ref(borrower)
        return self._pool[:n]

    def apply_task(self, env: Any, task_id: int) -> None:
        task = self.tasks[task_id]
        hook = getattr(env, "set_task", None) or getattr(env.unwrapped, "set_task", None)
        if hook is not None:
            hook(task)
            return
        for key, value in task.items():  # dict form, checked when drawn
            setattr(env.unwrapped, key, value)

    # -- tasks -------------------------------------------------------------------------
    def draw_tasks(self, n: int, generator: torch.Generator) -> Tensor:
        env = self.new_env()
        self._pool.append(env)
        sampler_name = self.params["sampler"]
        if sampler_name:
            sampler = import_attr(sampler_name, "task.sampler")
            what = f"task.sampler {sampler_name!r}"
        else:
            sampler = (getattr(env, "sample_tasks", None)
                       or getattr(env.unwrapped, "sample_tasks", None))
            what = "the environment's sample_tasks"
            if sampler is None:
                raise TaskError(f"{self.name}: the environment has no sample_tasks and no "
                                f"task.sampler is given; add sample_tasks(n) to the "
                                f"environment or --set task.sampler=module:function")
        has_hook = hasattr(env, "set_task") or hasattr(env.unwrapped, "set_task")
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        draws = []
        for _ in range(2):  # twice: the draw must be a function of the seed
            if not sampler_name:  # the environment's own generator too (Meta-World style)
                env.unwrapped.np_random = np.random.default_rng(seed)
            try:
                tasks = seeded_call(sampler, n, seed)
            except Exception as err:
                raise TaskError(f"{self.name}: {what} raised {type(err).__name__}: "
                                f"{err}") from None
            try:
                draws.append(list(tasks))
            except TypeError:
                raise TaskError(f"{self.name}: {what} returned {type(tasks).__name__}, not a "
                                f"list of tasks") from None
        tasks = draws[0]
        if repr(_plain(draws[1])) != repr(_plain(tasks)):
            raise TaskError(f"{self.name}: {what} gave different tasks for the same seed; draw "
                            f"them from its seed or rng argument, numpy.random, random or the "
                            f"environment's np_random, so that every process, and a resumed "
                            f"run, sees the same tasks")
        if len(tasks) != n:
            raise TaskError(f"{self.name}: {what} returned {len(tasks)} tasks when asked for "
                            f"{n} (num_train + num_test)")
        if not has_hook:
            for task in tasks:
                if not isinstance(task, dict):
                    raise TaskError(f"{self.name}: the environment has no set_task, so tasks "
                                    f"must be dicts of attributes to set; {what} gave "
                                    f"{type(task).__name__} {task!r}")
                missing = [k for k in task if not hasattr(env.unwrapped, k)]
                if missing:
                    raise TaskError(f"{self.name}: the environment has no set_task and no "
                                    f"attribute {missing[0]!r} that task {task!r} would set")
        self.tasks = tasks
        return torch.arange(n, dtype=torch.float64).unsqueeze(1)

    def get_task(self, task: int) -> dict[str, Any]:
        return {"id": int(task), "task": _plain(self.tasks[int(task)])}

    def describe(self, task: int) -> str:
        return f"task {int(task)} ({_plain(self.tasks[int(task)])!r})"

    # -- simulators --------------------------------------------------------------------
    def make_sim(self, tasks: Tensor, dtype: torch.dtype = torch.float32) -> "GymSim":
        return GymSim(self, tasks, dtype)

    def _probe(self) -> None:
        """One rollout of the first training task at mid-range actions: a step that raises,
        or an observation of the wrong shape, is reported before any run is created."""
        sim = self.make_sim(self.train_ids[:1], torch.float64)
        sim.reset(torch.zeros(1, dtype=torch.int64))
        zeros = torch.zeros(1, self.act_dim, dtype=torch.float64)
        for _ in range(self.default_horizon):
            if bool(sim.step(zeros)[2][0]):
                break


def seeded_call(fn: Callable, n: int, seed: int) -> Any:
    """`fn(n)` with `seed=` or `rng=` when it takes one, else under seeded global RNGs."""
    try:
        names = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        names = {}
    if "seed" in names:
        return fn(n, seed=seed)
    if "rng" in names:
        return fn(n, rng=np.random.default_rng(seed))
    np_state, py_state = np.random.get_state(), random.getstate()
    np.random.seed(seed)
    random.seed(seed)
    try:
        return fn(n)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def _short(value: Any, width: int = 60) -> str:
    """`repr(value)` on one line, cut to `width` characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _plain(task: Any) -> Any:
    """A task as plain Python (for configs, logs and messages)."""
    if isinstance(task, np.ndarray):
        return task.tolist()
    if isinstance(task, np.generic):
        return task.item()
    if isinstance(task, dict):
        return {k: _plain(v) for k, v in task.items()}
    if isinstance(task, (list, tuple)):
        return [_plain(v) for v in task]
    return task


class GymSim(BatchedSim):
    """B gymnasium environments in lockstep, one per rollout (module docstring)."""

    family: GymFamily

    def __init__(self, family: GymFamily, tasks: Tensor, dtype: torch.dtype) -> None:
        self.envs: list[Any] = []
        self.t = 0
        super().__init__(family, tasks, dtype)  # set_task allocates the environments

    def set_task(self, tasks: Tensor) -> None:
        super().set_task(tasks)
        if len(self.envs) != self.batch_size:
            self.envs = self.family.envs(self.batch_size, self)
            self.alive = np.zeros(self.batch_size, dtype=bool)
            self.obs = np.zeros((self.batch_size, self.family.obs_dim))

    def _fault(self, i: int, when: str, what: str) -> TaskError:
        """One line naming the rollout, its task and the step (`when`) that went wrong."""
        return TaskError(f"{self.family.name}: {when} of rollout {i} on "
                         f"{self.family.describe(self.tasks[i])} {what}")

    def _observation(self, i: int, obs: Any, when: str) -> np.ndarray:
        try:
            arr = np.asarray(obs, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise self._fault(i, when, f"returned the observation {_short(obs)}, which is "
                                       f"not an array of numbers") from None
        if arr.shape[0] != self.family.obs_dim:
            raise self._fault(i, when, f"returned an observation of {arr.shape[0]} values; "
                                       f"the observation space has {self.family.obs_dim}")
        return arr

    def reset(self, seeds: Tensor | None = None) -> Tensor:
        seeds = self.reset_seeds(seeds)
        for i, env in enumerate(self.envs):
            try:
                self.family.apply_task(env, int(self.tasks[i]))
                obs, _ = env.reset(seed=int(seeds[i]) & 0xFFFFFFFFFFFFFFFF)
            except Exception as err:
                raise self._fault(i, "set_task/reset", f"raised {type(err).__name__}: "
                                                       f"{err}") from None
            self.obs[i] = self._observation(i, obs, "reset")
        self.alive[:] = True
        self.t = 0
        return torch.from_numpy(self.obs.copy()).to(self.dtype)

    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        a = self.check_actions(actions).detach().to(torch.float64).numpy()
        a = self.family.action_center + self.family.action_half * a  # float64
        reward = np.zeros(self.batch_size)
        done = ~self.alive
        when = f"step {self.t}"
        for i in np.flatnonzero(self.alive):
            try:
                obs, r, terminated, truncated, _ = self.envs[i].step(a[i])
            except Exception as err:
                raise self._fault(i, when, f"raised {type(err).__name__}: {err}") from None
            self.obs[i] = self._observation(i, obs, when)
            try:
                reward[i] = float(r)
                done[i] = bool(terminated) or bool(truncated)
            except (TypeError, ValueError):
                raise self._fault(i, when, f"returned the reward {_short(r)} and flags "
                                           f"{_short(terminated)}, {_short(truncated)}; "
                                           f"expected a number and two booleans") from None
        self.alive &= ~done
        self.t += 1
        return (torch.from_numpy(self.obs.copy()).to(self.dtype),
                torch.from_numpy(reward).to(self.dtype), torch.from_numpy(done.copy()))
