"""Calibration bounds for an RL task family and policy class: what adapting can gain.

Two numbers bracket every post-adaptation return a meta-learner can reach on a task family
with a given policy class (L, H, HH):

- the **task-blind ceiling**: the best single policy for the mean return over the family's
  training tasks (what a learner scores without identifying the task);
- the **per-task oracle**: for each of a few tasks, the best policy optimised on that task
  alone (what perfect identification and adaptation would score), and their mean.

A run's **share of the adaptation gap closed** is `(final - blind) / (oracle - blind)`.

Both are found by direct optimisation with the workbench's own rollout engine and the
same policies as the meta-learners: antithetic ES (z-scored values) with Adam on the flat
parameters, a running observation normaliser as ES-MAML's (updated from every iteration's
rollouts, frozen for scoring), `restarts` independent starts (the first at the zero policy
with `zero_start`), each scored at its start and every `check_every` iterations, and the
best kept. Each iteration's population meets
`episodes` rollouts: for the ceiling, `episodes` training tasks drawn afresh (the same for
every direction: common random numbers), one reset each; for an oracle, its task with
`episodes` reset seeds. The kept policies are scored on fresh reset seeds (`score_seeds`
per task; for the ceiling every training task), so the selection does not inflate them.

Results are cached as JSON (`cache_path`) with the command, the commit, the budget and the
seconds it took; `workbench calibrate` writes them and the figures read them.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor

from es.estimators import es_gradient, normalize_values
from workbench.obs_normalization import Normalizer
from workbench.optim import Adam
from workbench.policies import PolicySpec
from workbench.rollout import deterministic_rollouts
from workbench.seeding import derive, derive_many
from workbench.tasks import TaskFamily, make_family

#: Where `workbench calibrate` caches its results by default (committed).
DEFAULT_CACHE = Path(__file__).parents[1] / "docs" / "calibration"
# Keys separating the streams of randomness.
DIRECTIONS, TASKS, RESETS, CHECK, SCORE = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class Budget:
    """The stated budget of one calibration (every optimisation gets the same)."""

    iterations: int = 200
    directions: int = 16  # antithetic pairs per iteration
    sigma: float = 0.5  # perturbation scale in parameter space at the first iteration
    lr: float = 0.1  # Adam step at the first iteration
    #: sigma and the Adam step shrink geometrically by this factor over the iterations
    #: (1: constant), so that a sharp optimum found wide is then approached closely
    anneal: float = 1.0
    episodes: int = 8  # rollouts each population member meets per iteration
    restarts: int = 3  # independent starts; the best scored one is kept
    check_every: int = 20  # score the current parameters this often (and at the end)
    score_seeds: int = 8  # reset seeds per task when scoring
    #: 1: the first start is the zero policy (tanh(0) = 0: stay put, push nothing), the
    #: others random; 0: every start random. Where any move risks a large penalty (Six
    #: Circles) the zero policy is the safe start a random one may never get back to.
    zero_start: int = 0

    def check(self) -> None:
        if self.zero_start not in (0, 1):
            raise ValueError(f"calibration budget zero_start must be 0 or 1; got "
                             f"{self.zero_start}")
        for name, value in asdict(self).items():
            if name != "zero_start" and value <= 0:
                raise ValueError(f"calibration budget {name} must be positive; got {value}")

    def rollouts(self, optimisations: int) -> int:
        """Rollouts the optimisation phase spends for `optimisations` optimisations."""
        return optimisations * self.restarts * self.iterations * (2 * self.directions) * \
            self.episodes


@dataclass
class Found:
    """One optimisation's outcome: its kept parameters, normaliser and score."""

    theta: Tensor
    normalizer: Normalizer
    score: float


def policy_spec(family: TaskFamily, policy: str, width: int = 32) -> PolicySpec:
    return PolicySpec.from_name(policy, family.obs_dim, family.act_dim, width)


def mean_returns(spec: PolicySpec, family: TaskFamily, thetas: Tensor, tasks: Tensor,
                 seeds: Tensor, horizon: int, normalizer: Normalizer) -> tuple[Tensor, Tensor]:
    """Each of `thetas [P, D]` on every (task, seed) pair of `tasks [E]`, `seeds [E]`:
    mean returns `[P]` and the observation statistics of all rollouts."""
    P, E = thetas.shape[0], len(tasks)
    out = deterministic_rollouts(spec, family, thetas.repeat_interleave(E, 0), tasks.repeat(P), horizon,
                   normalizer, seeds=seeds.repeat(P), dtype=torch.float64)
    return out.returns.reshape(P, E).mean(1), out.obs_stats


def optimise(spec: PolicySpec, family: TaskFamily, horizon: int, budget: Budget, seed: int,
             episodes: Callable[[int], tuple[Tensor, Tensor]],
             checks: tuple[Tensor, Tensor]) -> Found:
    """Maximise the mean return over `episodes(i)` (tasks, reset seeds of iteration i) with
    antithetic ES and Adam; the best of `restarts` starts, each scored on `checks`."""
    best: Found | None = None
    for r in range(budget.restarts):
        s = derive(seed, r)
        theta = spec.init(torch.Generator().manual_seed(s), dtype=torch.float64,
                          scheme="zeros" if r == 0 and budget.zero_start else None)
        normalizer = Normalizer(family.obs_dim)
        adam = Adam(theta)
        # the start itself is a candidate (the zero policy may be the best there is)
        kept = Found(theta.clone(), Normalizer(family.obs_dim), float(mean_returns(
            spec, family, theta.unsqueeze(0), *checks, horizon, normalizer)[0][0]))
        for i in range(budget.iterations):
            shrink = budget.anneal ** (i / max(budget.iterations - 1, 1))
            sigma, lr = budget.sigma * shrink, budget.lr * shrink
            g = torch.randn(budget.directions, theta.numel(), dtype=torch.float64,
                            generator=torch.Generator().manual_seed(derive(s, DIRECTIONS, i)))
            pop = torch.cat([theta + sigma * g, theta - sigma * g])
            tasks, seeds = episodes(derive(s, TASKS, i))
            values, stats = mean_returns(spec, family, pop, tasks, seeds, horizon, normalizer)
            z, skip = normalize_values(values.unsqueeze(0), "zscore")
            if not bool(skip[0]):
                n = budget.directions
                grad = es_gradient(z[0, :n], g, sigma, "antithetic", neg_values=z[0, n:])
                theta = theta + lr * adam.direction(grad)
            normalizer.update(stats)
            if (i + 1) % budget.check_every == 0 or i + 1 == budget.iterations:
                frozen = Normalizer(family.obs_dim)
                frozen.load_state_dict(normalizer.state_dict())
                score = float(mean_returns(spec, family, theta.unsqueeze(0), *checks, horizon,
                                           frozen)[0][0])
                if score > kept.score:
                    kept = Found(theta.clone(), frozen, score)
        if best is None or kept.score > best.score:
            best = kept
    assert best is not None
    return best


def _pairs(tasks: Tensor, seeds_per_task: int, seed: int) -> tuple[Tensor, Tensor]:
    """Every task with `seeds_per_task` reset seeds drawn from `seed`: (tasks, seeds)."""
    tasks = tasks.repeat_interleave(seeds_per_task)
    return tasks, derive_many(seed, torch.arange(len(tasks)))


def oracle_tasks(family: TaskFamily, n: int) -> Tensor:
    """The tasks the oracle is computed on: the test split first, then training tasks, up
    to `n` distinct ones (every task of a family with fewer)."""
    ids = list(dict.fromkeys([*family.test_ids.tolist(), *family.train_ids.tolist()]))
    return torch.tensor(ids[:n], dtype=torch.int64)


def calibrate(task: str, policy: str, budget: Budget, task_params: dict[str, Any] | None = None,
              horizon: int | None = None, oracle_count: int = 8, seed: int = 0,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Both bounds for `task` (with `task_params`) and `policy`, as a JSON-ready dict."""
    budget.check()
    family = make_family(task, **(task_params or {}))
    if family.supervised:
        raise ValueError(f"calibrate bounds RL returns; {task!r} is supervised")
    horizon = int(horizon or family.default_horizon)
    spec = policy_spec(family, policy)
    say = progress or (lambda text: None)
    start = time.perf_counter()
    train = family.train_ids
    gen_seed = derive(seed, 1000)

    def blind_episodes(s: int) -> tuple[Tensor, Tensor]:
        g = torch.Generator().manual_seed(s)
        tasks = train[torch.randint(len(train), (budget.episodes,), generator=g)]
        return tasks, derive_many(derive(s, RESETS), torch.arange(budget.episodes))

    say(f"task-blind ceiling over {len(train)} training tasks")
    # checks on score_seeds resets per task, as the oracles': a one-reset check let a
    # running HalfCheetah, +-v on the two directions, beat standing still by luck
    blind = optimise(spec, family, horizon, budget, derive(gen_seed, 0), blind_episodes,
                     _pairs(train, budget.score_seeds, derive(seed, CHECK)))
    blind_score = mean_returns(spec, family, blind.theta.unsqueeze(0),
                               *_pairs(train, budget.score_seeds, derive(seed, SCORE)), horizon,
                               blind.normalizer)[0][0]
    chosen = oracle_tasks(family, oracle_count)
    oracle_values, blind_on_chosen = [], []
    for j, t in enumerate(chosen.tolist()):
        say(f"oracle {j + 1}/{len(chosen)}: task {t} {family.table[t].tolist()}")
        one = torch.tensor([t])

        def task_episodes(s: int, one: Tensor = one) -> tuple[Tensor, Tensor]:
            return _pairs(one, budget.episodes, derive(s, RESETS))

        found = optimise(spec, family, horizon, budget, derive(gen_seed, 1, j), task_episodes,
                         _pairs(one, budget.score_seeds, derive(seed, CHECK, j)))
        fresh = _pairs(one, budget.score_seeds, derive(seed, SCORE, j))
        oracle_values.append(float(mean_returns(spec, family, found.theta.unsqueeze(0), *fresh,
                                                horizon, found.normalizer)[0][0]))
        blind_on_chosen.append(float(mean_returns(spec, family, blind.theta.unsqueeze(0),
                                                  *fresh, horizon, blind.normalizer)[0][0]))
    oracle_mean = sum(oracle_values) / len(oracle_values)
    return {"task": task, "task_params": dict(family.params), "policy": spec.describe(),
            "policy_name": policy, "horizon": horizon, "seed": seed, "budget": asdict(budget),
            "optimisation_rollouts": budget.rollouts(1 + len(chosen)),
            "blind": {"value": float(blind_score), "tasks": f"all {len(train)} training tasks",
                      "on_oracle_tasks": blind_on_chosen},
            "oracle": {"tasks": chosen.tolist(),
                       "task_values": [family.table[t].tolist() for t in chosen.tolist()],
                       "values": oracle_values, "mean": oracle_mean},
            "gap": oracle_mean - float(blind_score),
            "seconds": time.perf_counter() - start}


#: Task parameters that choose how a simulation runs, not what it computes (MuJoCo's engine
#: and threads): they do not name a different calibration.
EXECUTION_ONLY = ("engine", "nthread")


def distinct_params(task: str, task_params: dict[str, Any] | None) -> dict[str, Any]:
    """The task parameters that differ from the family's defaults, resolved (so that
    `observation=full` and nothing name the same calibration), execution-only ones left
    out."""
    given = make_family(task, **(task_params or {})).params
    default = make_family(task).params
    return {k: v for k, v in given.items()
            if v != default.get(k) and k not in EXECUTION_ONLY}


def cache_name(task: str, policy: str, task_params: dict[str, Any] | None = None) -> str:
    """`<task>[_<key>-<value>...]_<policy>.json`: the task parameters that differ from the
    family's defaults, sorted."""
    extra = "".join(f"_{k}-{v}" for k, v in sorted(distinct_params(task, task_params).items()))
    return f"{task}{extra}_{policy}.json"


def cache_path(task: str, policy: str, task_params: dict[str, Any] | None = None,
               root: Path = DEFAULT_CACHE) -> Path:
    return Path(root) / cache_name(task, policy, task_params)


def load_bounds(task: str, policy: str, task_params: dict[str, Any] | None = None,
                root: Path = DEFAULT_CACHE) -> dict[str, Any] | None:
    """A cached calibration, or None when there is none."""
    path = cache_path(task, policy, task_params, root)
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def run_bounds(run, root: Path = DEFAULT_CACHE) -> dict[str, Any] | None:
    """The cached calibration that fits a figure run (`reproductions.spec.Run`): its task,
    task parameters, policy and horizon; None if there is none (or the task is not RL)."""
    from workbench.tasks import family_class
    params = {k[len("task."):]: v for k, v in run.sets.items() if k.startswith("task.")}
    try:
        policy = run.sets.get("policy") or family_class(run.task).POLICY_DEFAULTS.get("policy",
                                                                                      "H")
        bounds = load_bounds(run.task, policy, params, root)
    except (KeyError, ValueError):
        return None
    horizon = run.sets.get("horizon")
    if bounds is None or (horizon is not None and int(horizon) != bounds["horizon"]):
        return None
    return bounds


def on_test_tasks(bounds: dict[str, Any], run) -> tuple[float, float] | None:
    """(task-blind, oracle) on the run's test tasks, the tasks its finals are scored on:
    the blind policy's and the oracles' values on the oracle tasks that are in the test
    split, when those cover the whole split; None otherwise. A ceiling scored on the
    training tasks compares unlike things where the two splits differ (CartPole's
    NoRML view: 154.6 on the 50 training biases, 21.5 on the 5 test biases)."""
    params = {k[len("task."):]: v for k, v in run.sets.items() if k.startswith("task.")}
    test = set(make_family(run.task, **params).test_ids.tolist())
    pairs = [(b, o) for t, b, o in zip(bounds["oracle"]["tasks"],
                                       bounds["blind"].get("on_oracle_tasks", []),
                                       bounds["oracle"]["values"]) if t in test]
    if len(pairs) != len(test) or not pairs:
        return None
    return (sum(b for b, _ in pairs) / len(pairs), sum(o for _, o in pairs) / len(pairs))


def gap_share(final: float, bounds: dict[str, Any]) -> float:
    """`(final - blind) / (oracle - blind)`; nan when the bounds leave no gap."""
    blind, oracle = bounds["blind"]["value"], bounds["oracle"]["mean"]
    return (final - blind) / (oracle - blind) if oracle - blind > 1e-9 else math.nan


def summary(result: dict[str, Any]) -> str:
    """A few lines for the terminal: both bounds, the gap and the budget."""
    params = ", ".join(f"{k}={v}" for k, v in result["task_params"].items()
                       if k not in ("num_train", "num_test", "split_seed") and v is not None)
    oracle = result["oracle"]
    b = result["budget"]
    return "\n".join([
        f"{result['task']} ({params}), policy {result['policy_name']} "
        f"({result['policy']}), horizon {result['horizon']}",
        f"task-blind ceiling  {result['blind']['value']:.4g}  ({result['blind']['tasks']})",
        f"per-task oracle     {oracle['mean']:.4g}  (mean of {len(oracle['values'])} tasks: "
        + ", ".join(f"{v:.4g}" for v in oracle["values"]) + ")",
        f"adaptation gap      {result['gap']:.4g}",
        f"budget: {b['restarts']} starts x {b['iterations']} iterations x "
        f"{2 * b['directions']} perturbations x {b['episodes']} rollouts, sigma {b['sigma']}, "
        f"Adam {b['lr']}" + (f", both shrinking {b['anneal']:g}x" if b.get("anneal", 1) != 1
                             else "") + f"; {result['optimisation_rollouts']:,} rollouts, "
        f"{result['seconds']:.0f} s"])
