"""What MAML-TRPO, ProMP and DiCE share: sampling a meta-batch, differentiable inner steps,
test evaluation, Adam, checkpoints.

One iteration (Finn et al. 2017; ProMP's meta-sampler):
1. draw `meta_batch` training tasks;
2. for each of `inner_steps` steps: K stochastic rollouts per task with the task's current
   policy (all tasks in one batched simulator), returns / baseline / advantages per task,
   one inner gradient step per task (`inner_lr`), giving each task its own parameters;
3. K rollouts per task with the adapted policies (the "post-update" batch);
4. the algorithm's outer update, which rebuilds the inner steps from theta with
   `create_graph=True` so that the meta-gradient flows through them.

Parameters: one flat vector theta `[P]` = `PolicySpec` mean parameters then `act_dim`
log-stds (`GaussianPolicy.flat()` layout); per-task parameters are `[n, P]`.

Randomness of iteration i derives from `(seed, i)` through `workbench.seeding`, so
`state_dict` (theta, Adam moments, normaliser) is all a resume needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from baselines import surrogates
from baselines.advantages import BASELINES, Processed, process
from baselines.trajectories import Batch, concat, distribution, gaussian_kl, log_prob
from workbench.algorithm import Algorithm, EvalResult, IterationResult
from workbench.config import Section, option
from workbench.metrics import TEST_POST_STOCHASTIC, TEST_PRE_STOCHASTIC
from workbench.obs_normalization import Normalizer
from workbench.optim import Adam
from workbench.policies import GaussianPolicy, PolicySpec
from workbench.rollout import deterministic_rollouts
from workbench.seeding import derive, derive_many

INNER_LOSSES = ("vpg", "lvc", "dice")
# Keys separating an iteration's streams of randomness.
TASKS, ROLLOUTS, EVAL, DETERMINISTIC = 1, 2, 5, 6
DTYPE = torch.float32


@dataclass(frozen=True)
class PGConfig(Section):
    """Keys every PG-MAML baseline has (ProMP's defaults unless noted)."""

    meta_batch: int = option(40, "tasks per iteration", low=1)
    inner_lr: float = option(0.1, "inner (adaptation) step size", low=0.0)
    inner_steps: int = option(1, "inner gradient steps", low=1)
    gamma: float = option(0.99, "discount", low=0.0, high=1.0)
    gae_lambda: float = option(1.0, "GAE lambda", low=0.0, high=1.0)
    init_log_std: float = option(0.0, "initial log std of the Gaussian policy")
    baseline: str = option("linear", "value baseline: linear (features fitted per task) or zero",
                           choices=BASELINES)
    normalize_advantages: bool = option(True, "standardise advantages per task")
    state_normalization: bool = option(False, "running mean/std of observations")


# -- inner steps -------------------------------------------------------------------------
@dataclass
class Step:
    """One sampled phase: the batch and its fixed advantage data."""

    batch: Batch
    data: Processed


def inner_loss(spec: PolicySpec, params: Tensor, step: Step, kind: str,
               dice_mode: str = "adjusted") -> Tensor:
    """Per-task inner losses `[n]` of per-task parameters `params [n, P]` on a phase."""
    b, d = step.batch, step.data
    logp = log_prob(spec, params, b)
    if kind == "vpg":
        return surrogates.vpg(logp, d.advantages, b.mask, b.n)
    if kind == "lvc":
        return surrogates.lvc(logp, b.logp.to(logp.dtype), d.advantages, b.mask, b.n)
    if kind == "dice":
        return surrogates.dice(logp, d.disc_rewards, d.disc_values, b.mask, b.n, dice_mode)
    raise ValueError(f"unknown inner loss {kind!r}; valid: {', '.join(INNER_LOSSES)}")


def adapt(spec: PolicySpec, params: Tensor, step: Step, kind: str, lr: float,
          create_graph: bool, dice_mode: str = "adjusted") -> Tensor:
    """One inner gradient step per task: `params - lr * grad inner_loss`, `[n, P]`.

    With `create_graph` the result stays a differentiable function of `params` (second
    derivatives flow through it); otherwise it is detached.
    """
    with torch.enable_grad():
        if not create_graph:
            params = params.detach().requires_grad_(True)
        loss = inner_loss(spec, params, step, kind, dice_mode).sum()
        (grad,) = torch.autograd.grad(loss, params, create_graph=create_graph)
    out = params - lr * grad
    return out if create_graph else out.detach()


def adapted_chain(spec: PolicySpec, theta: Tensor, steps: list[Step], kind: str, lr: float,
                  create_graph: bool, dice_mode: str = "adjusted") -> list[Tensor]:
    """Per-task parameters before each inner step and after the last: `[Theta_0, ..., Theta_S]`,
    each `[n, P]`, rebuilt from `theta [P]` on the recorded phases."""
    n = steps[0].batch.n
    chain = [theta.unsqueeze(0).expand(n, -1)]
    for step in steps:
        chain.append(adapt(spec, chain[-1], step, kind, lr, create_graph, dice_mode))
    return chain


def mean_kl(spec: PolicySpec, params: Tensor, batch: Batch) -> Tensor:
    """Per-task mean KL(sampling policy || policy `params`) over the batch's valid steps: `[n]`."""
    mu, log_std = distribution(spec, params, batch)
    old_log_std = batch.log_std.repeat_interleave(batch.K, 0).unsqueeze(0).expand_as(mu)
    kl = gaussian_kl(batch.means.to(mu.dtype), old_log_std.to(mu.dtype), mu, log_std)
    return surrogates.kl_mean(kl, batch.mask.to(kl.dtype), batch.n)


# -- the shared algorithm ------------------------------------------------------------------
class PGMAML(Algorithm):
    """Sampling, inner steps, evaluation and checkpoints common to the PG-MAML baselines."""

    #: The inner loss the algorithm uses (`inner_loss` config key where configurable).
    INNER_LOSS: str = "vpg"
    Config = PGConfig

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        c = config
        if self.family.supervised:
            raise ValueError(f"{self.name} is a policy-gradient method and needs an RL task; "
                             f"{self.family.name!r} is supervised (use maml, exact MAML, or "
                             f"es-maml with adaptation=exact-gradient for it)")
        self.K = int(c["K"])
        self.meta_batch = int(c["meta_batch"])
        self.inner_steps = int(c["inner_steps"])
        self.inner_lr = float(c["inner_lr"])
        self.normalizer = Normalizer(self.family.obs_dim, enabled=bool(c["state_normalization"]))
        policy = GaussianPolicy(self.spec, float(c["init_log_std"]),
                                generator=torch.Generator().manual_seed(self.seed))
        self.theta = policy.flat().detach().to(DTYPE).clone()
        self.adam = Adam(self.theta)
        # rollouts in this process, or split by tasks over the backend's workers
        self.sampler = self.backend.sampler("baselines.trajectories:sample", concat, self.spec,
                                            self.family, self.horizon, self.K, DTYPE,
                                            self.config["task"])

    def backend_counters(self) -> dict[str, float]:
        return self.sampler.counters()

    # -- pieces the algorithms use ---------------------------------------------------------
    @property
    def inner_kind(self) -> str:
        return self.config.get("inner_loss", self.INNER_LOSS)

    @property
    def dice_mode(self) -> str:
        return "adjusted" if self.config["baseline"] != "zero" else "none"

    def _process(self, batch: Batch) -> Processed:
        c = self.config
        return process(batch, float(c["gamma"]), float(c["gae_lambda"]), c["baseline"],
                       bool(c["normalize_advantages"]))

    def exploration_samples(self, task: int, seed: int) -> Tensor:
        """K stochastic rollouts of the Gaussian meta-policy on `task`."""
        batch = self._sample(self.theta.unsqueeze(0), torch.tensor([task]), seed, record=True)
        return batch.positions

    def _sample(self, params: Tensor, tasks: Tensor, seed: int, record: bool = False) -> Batch:
        # rollout j's seed is derive_many(seed, j)
        return self.sampler(params, tasks, seed, self.normalizer, record=record)

    def collect(self, tasks: Tensor, seed: int) -> tuple[list[Step], Step, Tensor]:
        """Pre-update phases (one per inner step), the post-update phase, adapted params."""
        params = self.theta.unsqueeze(0).expand(len(tasks), -1)
        steps = []
        for i in range(self.inner_steps):
            batch = self._sample(params, tasks, derive(seed, ROLLOUTS, i))
            step = Step(batch, self._process(batch))
            steps.append(step)
            params = adapt(self.spec, params, step, self.inner_kind, self.inner_lr,
                           create_graph=False, dice_mode=self.dice_mode)
        post = self._sample(params, tasks, derive(seed, ROLLOUTS, self.inner_steps))
        return steps, Step(post, self._process(post)), params

    def chain(self, theta: Tensor, steps: list[Step], create_graph: bool = True) -> list[Tensor]:
        return adapted_chain(self.spec, theta, steps, self.inner_kind, self.inner_lr,
                             create_graph, self.dice_mode)

    def adam_step(self, grad: Tensor, lr: float) -> None:
        """Adam descent (torch.optim.Adam's defaults), state checkpointed."""
        self.theta = (self.theta - lr * self.adam.direction(grad)).detach()

    def check_finite(self, iteration: int, *values: Tensor) -> None:
        if not all(torch.isfinite(v).all() for v in (self.theta, *values)):
            raise ValueError(f"training diverged at iteration {iteration}: non-finite loss, "
                             f"gradient or parameters (try a smaller inner_lr or outer step); "
                             f"the last checkpoint is intact")

    # -- one training iteration ------------------------------------------------------------
    def outer_update(self, steps: list[Step], post: Step, iteration: int) -> dict[str, float]:
        """Update `self.theta` from the sampled phases; return TensorBoard extras."""
        raise NotImplementedError

    def train_iteration(self, iteration: int) -> IterationResult:
        s = derive(self.seed, iteration)
        tasks = self.family.sample_tasks(self.meta_batch,
                                         torch.Generator().manual_seed(derive(s, TASKS)))
        steps, post, _ = self.collect(tasks, s)
        extras = self.outer_update(steps, post, iteration)
        self.check_finite(iteration)
        batches = [st.batch for st in steps] + [post.batch]
        for b in batches:
            self.normalizer.update(b.obs_stats)
        extras.update({"pg/log_std_mean": float(self.theta[self.spec.num_params:].mean()),
                       "pg/theta_norm": float(self.theta.norm())})
        return IterationResult(
            pre_return=float(steps[0].batch.returns.mean()),
            post_return=float(post.batch.returns.mean()),
            rollouts=sum(b.B for b in batches),
            env_steps=sum(b.env_steps for b in batches),
            extras=extras)

    # -- test evaluation -------------------------------------------------------------------
    def evaluate(self, iteration: int, record: bool = False) -> EvalResult:
        """Adapt to test tasks from K stochastic rollouts each; score the MEAN policies.

        `test/pre` and `test/post` are deterministic returns of the pre-update and adapted
        mean networks (the workbench engine, as for ES-MAML); the stochastic returns of the
        K pre-update and K post-update rollouts go to `extras`.
        """
        n, D = int(self.config["eval_adaptations"]), self.spec.num_params
        s = derive(self.seed, EVAL, iteration)
        tasks = self.family.sample_tasks(n, torch.Generator().manual_seed(derive(s, TASKS)),
                                         split="test")
        steps, post, adapted = self.collect(tasks, s)
        seeds = derive_many(derive(s, DETERMINISTIC), torch.arange(n))
        two_d = record and self.family.has_positions
        pre = deterministic_rollouts(self.spec, self.family, self.theta[:D].expand(n, D), tasks,
                                     self.horizon, self.normalizer, seeds=seeds, dtype=DTYPE)
        det = deterministic_rollouts(self.spec, self.family, adapted[:, :D], tasks, self.horizon,
                                     self.normalizer, seeds=seeds, record=two_d, dtype=DTYPE)
        return EvalResult.of(tasks, pre.returns, det.returns,
                             det.positions if two_d else None, extras={
                                 TEST_PRE_STOCHASTIC: float(steps[0].batch.returns.mean()),
                                 TEST_POST_STOCHASTIC: float(post.batch.returns.mean())})

    # -- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"theta": self.theta.clone(), "normalizer": self.normalizer.state_dict(),
                "adam": self.adam.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        theta = state["theta"]
        if theta.shape != self.theta.shape:
            raise ValueError(f"checkpoint theta has {theta.numel()} parameters; the configured "
                             f"Gaussian policy {self.spec.describe()} has {self.theta.numel()} "
                             f"({self.spec.num_params} mean + {self.spec.act_dim} log-std)")
        self.theta = theta.to(DTYPE).clone()
        self.normalizer.load_state_dict(state["normalizer"])
        self.adam.load_state_dict(state["adam"])
