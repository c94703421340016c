"""ES-MAML's outer updates, through the trainer's own code path, against closed forms.

A quadratic task family f_T(theta) = -||theta - c_T||^2 + offset replaces the rollouts (the
trainer only ever sees an `Objective`), so the expected update of every variant has a closed
form; autograd differentiates that closed form and each test checks that the mean of many
independent updates lies within 4 standard errors of it, coordinate by coordinate. The
standard error is measured from the same updates, so the tolerance follows the estimator's
variance rather than a tuned constant. Values are not normalised (normalization=none) so
that the estimators are unbiased by construction; any bias is the code's.
"""

from __future__ import annotations

import math

import pytest
import torch

from es.trainer import ESMAML
from workbench.app import runconfig as cfg
from workbench.objective import Evaluation, Objective

D = 6  # policy L on nav2d: 2 x 2 weights + 2 biases
NUM_TASKS = 50  # nav2d's default train split


class Quadratic(Objective):
    """f_T(theta) = -||theta - c_T||^2 + offset, one value per row; counts its calls."""

    def __init__(self, inner: Objective, offset: float = 0.0) -> None:
        super().__init__(inner.spec, inner.family)
        g = torch.Generator().manual_seed(123)
        self.centers = 0.5 * torch.randn(inner.family.num_tasks, D, generator=g,
                                          dtype=torch.float64)
        self.offset = offset

    def __call__(self, thetas, tasks, seeds, record=False):
        thetas = torch.as_tensor(thetas, dtype=torch.float64)
        values = -(thetas - self.centers[tasks]).square().sum(1) + self.offset
        return Evaluation(values, len(values), len(values))


def trainer(*sets: str, offset: float = 0.0, seed: int = 0) -> ESMAML:
    config = cfg.resolve(ESMAML, sets=[
        "task.name=nav2d", "policy=L", "normalization=none", "adapt_options.normalization=none",
        "optimizer=sgd", "beta=1.0", "state_normalization=false", f"seed={seed}", *sets])
    algo = ESMAML(config)
    algo.objective = Quadratic(algo.objective, offset)
    assert algo.spec.num_params == D
    return algo


def updates(algo: ESMAML, reps: int) -> torch.Tensor:
    """`reps` independent outer updates (beta = 1, so the update is the gradient estimate)."""
    start = algo.theta.clone()
    out = []
    for i in range(reps):
        algo.theta = start.clone()
        algo.train_iteration(i)
        out.append(algo.theta - start)
    algo.theta = start
    return torch.stack(out)


def smoothed_gradient(closed_form, theta: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Autograd of the task-averaged closed form at theta."""
    theta = theta.clone().requires_grad_(True)
    value = torch.stack([closed_form(theta, c) for c in centers]).mean()
    (grad,) = torch.autograd.grad(value, theta)
    return grad


def assert_within_4_se(samples: torch.Tensor, expected: torch.Tensor, max_rel_se: float) -> None:
    mean = samples.mean(0)
    se = samples.std(0) / math.sqrt(len(samples))
    # The test can only catch a bias that is large next to its standard error: demand that
    # the error bars be a small fraction of the expected update's size.
    assert se.max() < max_rel_se * expected.norm(), (se, expected)
    z = (mean - expected) / se
    assert (z.abs() < 4).all(), f"mean {mean.tolist()} vs exact {expected.tolist()}, z {z.tolist()}"


def f_smooth(theta: torch.Tensor, c: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian smoothing of -||theta - c||^2 at precision sigma (offset dropped)."""
    return -(theta - c).square().sum() - sigma ** 2 * D


@pytest.mark.parametrize("variant", ["fo-hessian", "fo-nohessian"])
@pytest.mark.parametrize("offset", [0.0, -400.0])
def test_first_order_update_matches_the_exact_maml_gradient(variant, offset):
    alpha, sigma, K = 0.05, 0.5, 20
    algo = trainer(f"variant={variant}", f"alpha={alpha}", f"adapt_sigma={sigma}", f"K={K}",
                   f"num_perturbations={NUM_TASKS}", offset=offset)
    centers = algo.objective.centers[algo.family.train_ids]

    def grad(fn, x):
        x = x.detach().clone().requires_grad_(True)
        return torch.autograd.grad(fn(x), x, create_graph=True)[0]

    def maml(theta, c):  # f~(theta + alpha grad f~(theta)), differentiated through
        (g,) = torch.autograd.grad(f_smooth(theta, c, sigma), theta, create_graph=True)
        return f_smooth(theta + alpha * g, c, sigma)

    if variant == "fo-hessian":
        expected = smoothed_gradient(maml, algo.theta, centers)
    else:  # FO-NoHessian: grad f~ at the adapted point, without the adaptation's Jacobian
        expected = torch.stack([
            grad(lambda x: f_smooth(x, c, sigma),
                 algo.theta + alpha * grad(lambda x: f_smooth(x, c, sigma), algo.theta))
            for c in centers]).mean(0).detach()
    samples = updates(algo, 600 if offset == 0 else 3000)
    assert_within_4_se(samples, expected, max_rel_se=0.05)


def test_hessian_queries_are_their_own_and_counted():
    K, n = 4, 3
    fo = trainer("variant=fo-hessian", f"K={K}", f"num_perturbations={n}")
    no = trainer("variant=fo-nohessian", f"K={K}", f"num_perturbations={n}")
    assert fo.train_iteration(0).rollouts == 3 * n * (K + 1)
    assert no.train_iteration(0).rollouts == 2 * n * (K + 1)


@pytest.mark.parametrize("estimator", ["vanilla", "forward-fd", "antithetic"])
def test_zero_order_update_matches_its_closed_form(estimator):
    # U = mc: theta + alpha d with d the forward-FD ES gradient from K queries. On a
    # quadratic, d = -2 A (theta - c) - sigma_a b with A = (1/K) sum g g^T, b = (1/K) sum |g|^2 g,
    # so E f(U(theta)) = -c0 ||theta - c||^2 + const with
    # c0 = E||(I - 2 alpha A) u||^2 / ||u||^2 = 1 - 4 alpha + 4 alpha^2 (1 + (D + 1) / K).
    # The outer Gaussian smoothing only adds a constant, so E[update] = grad of the mean of
    # -c0 ||theta - c_T||^2 over the train tasks.
    alpha, K, sigma = 0.05, 5, 0.5
    algo = trainer(f"estimator={estimator}", "adaptation=mc", f"alpha={alpha}", f"K={K}",
                   f"sigma={sigma}", "adapt_sigma=0.3", "num_perturbations=200",
                   "num_current_evals=10")
    c0 = 1 - 4 * alpha + 4 * alpha ** 2 * (1 + (D + 1) / K)
    centers = algo.objective.centers[algo.family.train_ids]
    expected = smoothed_gradient(lambda th, c: -c0 * (th - c).square().sum(), algo.theta,
                                 centers)
    assert_within_4_se(updates(algo, 400), expected, max_rel_se=0.05)
