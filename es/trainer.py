"""ES-MAML trainers: zero-order (Alg. 2, with Alg. 3 = the `mc` operator) and first-order (Alg. 5).

Zero-order iteration (Alg. 2): draw n directions g_i and n + m tasks (without replacement);
adapt the n perturbed points theta + sigma g_i and m copies of theta (the "current
evaluations" whose mean is the forward-FD pivot, A.7.2) with the operator U, in one
batched call; score each adapted point by one rollout; z-score the n + m values together
and step theta += beta * ESGrad. Defaults are the A.7.2 table (docs/es-maml.md).

First-order iteration (Alg. 5, `fo-hessian` / `fo-nohessian`): for n tasks, d1 = ESGrad at
theta (K queries), theta_i = theta + alpha d1, d2 = ESGrad at theta_i, and
theta += beta * mean_i (I + alpha H_i) d2 with H_i from Alg. 4 on K queries of its own at
theta (applied as a Hessian-vector product, pivot subtracted), or H = 0. Each estimate
costs K + 1 rollouts per task: 2 (K + 1) for fo-nohessian, 3 (K + 1) for fo-hessian.
Values are z-scored per estimate, as in the zero-order path, so that alpha means the same
in both. With `normalization=none` the mean update is the exact MAML gradient of the
Gaussian smoothing on quadratics (tests/test_trainer_oracles.py).

All randomness of iteration i derives from (seed, i): resuming from a checkpoint replays
the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from es.adaptation import make_operator
from es.adaptation.base import query
from es.estimators import KINDS, NORMALIZATIONS, es_gradient, es_hessian_vector, normalize_values
from es.directions import SAMPLERS, make_sampler
from workbench import recipes as wp
from workbench.algorithm import Algorithm, EvalResult, IterationResult
from workbench.config import Section, option
from workbench.obs_normalization import Normalizer
from workbench.objective import Evaluation, make_objective
from workbench.metrics import post_after_steps
from workbench.optim import Adam
from workbench.rollout import deterministic_rollouts
from workbench.seeding import derive, derive_many

VARIANTS = ("zero-order", "fo-hessian", "fo-nohessian")
OPTIMIZERS = ("sgd", "adam")
# Keys separating an iteration's streams (5 is the test evaluations': workbench.algorithm.TEST).
DIRECTIONS, TASKS, POINTS, POST, FO_FIRST, FO_SECOND, FO_HESSIAN = 1, 2, 3, 4, 6, 7, 8


def _operators() -> tuple[str, ...]:
    from es.adaptation import available
    return tuple(sorted(available()))


@dataclass(frozen=True)
class ESMAMLConfig(Section):
    """ES-MAML's keys (A.7.2 defaults)."""

    variant: str = option("zero-order", "zero-order (Alg. 2/3), fo-hessian or fo-nohessian "
                          "(Alg. 5)", choices=VARIANTS)
    adaptation: str = option("mc", "adaptation operator U (adapt_options.* are its options)",
                             choices=_operators)
    num_perturbations: int = option(150, "outer directions per iteration (first-order: tasks)",
                                    low=1)
    num_current_evals: int = option(150, "evaluations of the current point (forward-FD pivot)",
                                    low=0)
    sigma: float = option(0.1, "outer smoothing precision", low=0.0, low_open=True)
    adapt_sigma: float = option(0.1, "adaptation operator's precision", low=0.0, low_open=True)
    alpha: float = option(0.05, "adaptation step size")
    beta: float = option(0.01, "meta step size (learning rate with optimizer=adam)", low=0.0,
                         low_open=True)
    estimator: str = option("forward-fd", "outer ES gradient estimator", choices=KINDS)
    normalization: str = option("zscore", "value normalisation before the outer estimate",
                                choices=NORMALIZATIONS)
    sampler: str = option("gaussian", "outer direction sampler", choices=tuple(SAMPLERS))
    optimizer: str = option("sgd", "sgd (the paper's plain ascent) or adam",
                            choices=OPTIMIZERS)
    state_normalization: bool = option(True, "running mean/std of observations (A.7.1)")
    task_batch: int = option(1, "tasks each point is adapted and scored on (averaged)", low=1)
    common_tasks: bool = option(False, "every point meets the same task_batch tasks and noise")

    def check(self) -> None:
        if self.estimator == "forward-fd" and self.num_current_evals < 1:
            raise ValueError("the forward-fd estimator needs num_current_evals >= 1 (its pivot)")
        if self.estimator == "antithetic" and self.num_perturbations % 2:
            raise ValueError("the antithetic estimator needs an even num_perturbations")


class ESMAML(Algorithm):
    name = "es-maml"
    backends = ("local", "ray")
    Config = ESMAMLConfig
    section_keys = ("adapt_options",)

    @classmethod
    def nested_sections(cls, config: dict[str, Any]) -> dict[str, type[Section]]:
        from es.adaptation import operator_class
        return {"adapt_options": operator_class(config["adaptation"]).Options}

    @classmethod
    def documented_sections(cls) -> dict[str, type[Section]]:
        from es.adaptation import operator_class
        return {"es-maml": cls.Config, **{f"es-maml, adaptation={name}":
                                          operator_class(name).Options
                                          for name in _operators()}}

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        c = config
        # Every sampler is built with the configured sigma (dpp's kernel depends on it).
        self.outer_sampler = make_sampler("antithetic" if c["estimator"] == "antithetic"
                                          else c["sampler"], sigma=float(c["sigma"]))
        self.normalizer = Normalizer(self.family.obs_dim, enabled=bool(c["state_normalization"]))
        self.objective = self.backend.objective(
            make_objective(self.family, self.spec, self.horizon, self.normalizer),
            self.config["task"])
        self.operator = make_operator(c["adaptation"], K=int(c["K"]), sigma=float(c["adapt_sigma"]),
                                      alpha=float(c["alpha"]), **(c["adapt_options"] or {}))
        self.theta = self.spec.init(torch.Generator().manual_seed(self.seed), dtype=torch.float64)
        self.adam = Adam(self.theta)

    # -- one training iteration ------------------------------------------------------
    def train_iteration(self, iteration: int) -> IterationResult:
        s = derive(self.seed, iteration)
        if self.config["variant"] == "zero-order":
            grad, skipped, pre, post, evaluations = self._zero_order(s)
        else:
            grad, skipped, pre, post, evaluations = self._first_order(s)
        if not torch.isfinite(grad).all():
            raise ValueError(f"training diverged at iteration {iteration}: non-finite values "
                             f"or gradient (try a smaller beta or alpha, or "
                             f"normalization=zscore); the last checkpoint is intact")
        if not skipped:
            self._step(grad)
        rollouts, env_steps, stats = Evaluation.cost_of(evaluations)
        if stats is not None:
            self.normalizer.update(stats)
        return IterationResult(pre, post, rollouts, env_steps, extras={
            "es/grad_norm": float(grad.norm()), "es/update_skipped": float(skipped),
            "es/theta_norm": float(self.theta.norm())})

    def _zero_order(self, s: int):
        c = self.config
        n, m, tb = int(c["num_perturbations"]), int(c["num_current_evals"]), int(c["task_batch"])
        sigma, d = float(c["sigma"]), self.spec.num_params
        outer = self.outer_sampler.sample(torch.tensor([derive(s, DIRECTIONS)]), n, d,
                                          dtype=torch.float64)
        dirs = outer[0]
        # theta + sigma g_i, then m copies of theta, each repeated tb times; described
        # (workbench.recipes) so a remote backend sends theta and one seed, not the rows.
        points = wp.concat([wp.perturb(self.theta.unsqueeze(0), sigma, outer),
                            wp.broadcast(self.theta, m)])
        points = wp.repeat_rows(points, tb)
        if c["common_tasks"]:
            # Every point meets the same tb tasks with the same noise (the reference's
            # workers on a finite family): values then differ only through the points.
            tasks = self.family.sample_tasks(tb, torch.Generator().manual_seed(derive(s, TASKS)))
            seeds = derive_many(derive(s, POINTS), torch.arange(tb))
            tasks, seeds = tasks.repeat(n + m), seeds.repeat(n + m)
        else:
            tasks = self.family.sample_tasks((n + m) * tb,
                                             torch.Generator().manual_seed(derive(s, TASKS)))
            seeds = derive_many(derive(s, POINTS), torch.arange((n + m) * tb))
        if c["estimator"] == "antithetic":
            # Common random numbers: theta + sigma g and theta - sigma g meet the same tasks
            # and the same noise, so their difference measures g's effect, not the tasks'.
            h = (n // 2) * tb
            tasks[h:2 * h], seeds[h:2 * h] = tasks[:h], seeds[:h]
        adapted = self.operator(self.objective, points, tasks, seeds)
        post = self.objective(adapted.thetas, tasks, derive_many(seeds, POST))
        values = post.values.reshape(n + m, tb).mean(1)
        pre_values = adapted.pre_values.reshape(n + m, tb).mean(1)
        z, skip = normalize_values(values, c["normalization"])
        kind = c["estimator"]
        if kind == "antithetic":
            h = n // 2
            grad = es_gradient(z[:h], dirs[:h], sigma, kind, neg_values=z[h:n])
        else:
            grad = es_gradient(z[:n], dirs, sigma, kind, pivot=z[n:].mean() if m else None)
        current = slice(n, n + m) if m else slice(0, n)
        return (grad, bool(skip), float(pre_values[current].mean()),
                float(values[current].mean()), adapted.evaluations + [post])

    def _first_order(self, s: int):
        c = self.config
        n, d, K = int(c["num_perturbations"]), self.spec.num_params, int(c["K"])
        sigma, alpha = float(c["adapt_sigma"]), float(c["alpha"])
        tasks = self.family.sample_tasks(n, torch.Generator().manual_seed(derive(s, TASKS)))
        seeds = derive_many(derive(s, POINTS), torch.arange(n))
        sampler = make_sampler("gaussian", sigma=sigma)

        def measure(thetas: Tensor, key: int):
            """K fresh queries and the pivot at each row of `thetas`, values normalised."""
            dirs = sampler.sample(derive_many(seeds, key, DIRECTIONS), K, d, dtype=torch.float64)
            pivot, values, ev = query(self.objective, thetas, dirs, sigma, tasks,
                                      derive_many(seeds, key))
            z, skip = normalize_values(torch.cat([pivot.unsqueeze(1), values], 1),
                                       c["normalization"])
            return z, skip, dirs, pivot, ev

        def gradient(thetas: Tensor, key: int):
            z, skip, dirs, pivot, ev = measure(thetas, key)
            grad = es_gradient(z[:, 1:], dirs, sigma, "forward-fd", pivot=z[:, 0])
            return torch.where(skip.unsqueeze(1), torch.zeros_like(grad), grad), pivot, ev

        d1, pre, ev1 = gradient(wp.broadcast(self.theta, n), FO_FIRST)
        d2, post, ev2 = gradient(self.theta + alpha * d1, FO_SECOND)
        evaluations = [ev1, ev2]
        if c["variant"] == "fo-hessian":
            # Alg. 5 calls ESHESS as an estimator of its own: fresh queries at theta, so that
            # H is independent of d1 and hence of d2 = ESGrad(theta + alpha d1). Reusing d1's
            # queries correlates H with d2 and biases the update (by a factor that grows
            # with any constant offset of the rewards). The pivot makes H offset-invariant.
            z, _, dirs, _, ev = measure(wp.broadcast(self.theta, n), FO_HESSIAN)
            d2 = d2 + alpha * es_hessian_vector(z[:, 1:], dirs, sigma, d2, pivot=z[:, 0])
            evaluations.append(ev)
        grad = d2.mean(0)
        return grad, False, float(pre.mean()), float(post.mean()), evaluations

    def _step(self, grad: Tensor) -> None:
        beta = float(self.config["beta"])
        if self.config["optimizer"] == "sgd":
            self.theta = self.theta + beta * grad
        else:
            self.theta = self.theta + beta * self.adam.direction(grad)

    # -- test evaluation -------------------------------------------------------------
    def evaluate(self, iteration: int, record: bool = False) -> EvalResult:
        n = int(self.config["eval_adaptations"])
        tasks, seeds = self.test_batch(iteration, n)
        self.operator.training = False  # learned operators do not learn from test tasks
        try:
            adapted = self.operator(self.objective, wp.broadcast(self.theta, n), tasks, seeds)
        finally:
            self.operator.training = True
        two_d = record and self.family.has_positions
        # supervised objectives score on held-out points; rollouts are scored as in training
        post = self.objective.held_out(adapted.thetas, tasks, derive_many(seeds, POST),
                                       record=two_d)
        result = EvalResult.of(tasks, adapted.pre_values, post.values,
                               post.positions if two_d else None)
        if hasattr(self.operator, "further_steps"):  # exact-gradient: Fig. A6's 1-3 steps
            for steps, thetas in self.operator.further_steps(self.objective, wp.broadcast(
                    self.theta, n), tasks, seeds).items():
                values = self.objective.held_out(thetas, tasks, derive_many(seeds, POST)).values
                result.extras[post_after_steps(steps)] = float(values.mean())
        return result

    def backend_counters(self) -> dict[str, float]:
        return self.objective.counters()

    def exploration_samples(self, task: int, seed: int) -> Tensor:
        """The K perturbed policies theta + adapt_sigma g_k, rolled out deterministically."""
        K = int(self.config["K"])
        g = torch.Generator().manual_seed(seed)
        seeds = torch.randint(0, 2**62, (K,), generator=g)
        thetas = self.theta + float(self.config["adapt_sigma"]) * torch.randn(
            K, self.theta.numel(), generator=g, dtype=self.theta.dtype)
        out = deterministic_rollouts(self.spec, self.family, thetas, torch.full((K,), task), self.horizon,
                       self.normalizer, seeds=seeds, record=True)
        return out.positions

    # -- checkpoints -----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"theta": self.theta.clone(), "normalizer": self.normalizer.state_dict(),
                "operator": self.operator.state_dict(), "adam": self.adam.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        theta = state["theta"]
        if theta.shape != self.theta.shape:
            raise ValueError(f"checkpoint theta has {theta.numel()} parameters; the configured "
                             f"policy {self.spec.describe()} has {self.theta.numel()}")
        self.theta = theta.to(torch.float64).clone()
        self.normalizer.load_state_dict(state["normalizer"])
        self.operator.load_state_dict(state["operator"])
        self.adam.load_state_dict(state["adam"])
