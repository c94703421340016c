"""ES gradient / Hessian estimators and value normalisation.

On f(theta) = -||theta - c||^2 the Gaussian smoothing has gradient exactly -2 (theta - c) and
Hessian exactly -2 I, so the mean of many independent estimates must match them within
4 standard errors (computed from the spread of the estimates themselves).
"""

from __future__ import annotations

import math

import pytest
import torch

from es.estimators import KINDS, NORMALIZATIONS, es_gradient, es_hessian, normalize_values

DIM = 10
SIGMA = 0.1
THETA = torch.zeros(DIM, dtype=torch.float64)
CENTER = torch.linspace(-1.0, 1.5, DIM, dtype=torch.float64)
TRUE_GRAD = -2.0 * (THETA - CENTER)


def f(theta: torch.Tensor, shift: float = 0.0) -> torch.Tensor:
    return -(theta - CENTER).square().sum(-1) + shift


def _estimates(kind: str, reps: int = 4000, n: int = 10, shift: float = 0.0,
               seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    eps = torch.randn(reps, n, DIM, generator=g, dtype=torch.float64)
    values = f(THETA + SIGMA * eps, shift)
    return es_gradient(values, eps, SIGMA, kind, pivot=f(THETA, shift).expand(reps),
                       neg_values=f(THETA - SIGMA * eps, shift))


def _within_4_se(estimates: torch.Tensor, target: torch.Tensor) -> None:
    mean = estimates.mean(0)
    se = estimates.std(0) / math.sqrt(estimates.shape[0])
    z = (mean - target) / se
    assert (z.abs() < 4).all(), f"max |z| = {z.abs().max().item():.2f}"


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_is_unbiased_on_a_quadratic(kind):
    _within_4_se(_estimates(kind), TRUE_GRAD)


def test_control_variates_reduce_variance():
    # Per direction, vanilla's variance has a term f(theta)^2 / sigma^2 ~ 7^2 / 0.01 per
    # coordinate, the control variates' is about ||grad||^2 + grad_i^2 ~ 30: both remove
    # the f(theta) term, so the gap is two orders of magnitude.
    var = {kind: _estimates(kind).var(0).sum() for kind in KINDS}
    assert var["forward-fd"] < var["vanilla"]
    assert var["antithetic"] < var["vanilla"]


@pytest.mark.parametrize("kind", ["forward-fd", "antithetic"])
def test_control_variates_ignore_a_constant_shift(kind):
    torch.testing.assert_close(_estimates(kind, reps=50, shift=1000.0),
                               _estimates(kind, reps=50), rtol=1e-9, atol=1e-7)


def test_vanilla_moves_with_a_constant_shift():
    assert not torch.allclose(_estimates("vanilla", reps=50, shift=1000.0),
                              _estimates("vanilla", reps=50))


def test_hessian_is_unbiased_on_a_quadratic():
    # sigma = 0.5 and theta close to c keep the per-entry spread near 10, so with 20000
    # estimates the standard error (~0.03) is small next to the -2 being checked.
    sigma, reps, n = 0.5, 20000, 10
    theta = CENTER + 0.3
    g = torch.Generator().manual_seed(1)
    eps = torch.randn(reps, n, DIM, generator=g, dtype=torch.float64)
    hess = es_hessian(f(theta + sigma * eps), eps, sigma)
    assert hess.shape == (reps, DIM, DIM)
    mean = hess.mean(0)
    se = hess.std(0) / math.sqrt(reps)
    assert se.max() < 0.1
    z = (mean + 2.0 * torch.eye(DIM, dtype=torch.float64)) / se
    assert (z.abs() < 4).all(), f"max |z| = {z.abs().max().item():.2f}"


def test_formulas_on_a_tiny_hand_computed_case():
    dirs = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    vals = torch.tensor([3.0, 5.0], dtype=torch.float64)
    neg = torch.tensor([1.0, 4.0], dtype=torch.float64)
    s = 0.5
    torch.testing.assert_close(es_gradient(vals, dirs, s, "vanilla"),
                               torch.tensor([3.0, 10.0], dtype=torch.float64))
    torch.testing.assert_close(es_gradient(vals, dirs, s, "forward-fd", pivot=2.0),
                               torch.tensor([1.0, 6.0], dtype=torch.float64))
    torch.testing.assert_close(es_gradient(vals, dirs, s, "antithetic", neg_values=neg),
                               torch.tensor([1.0, 1.0], dtype=torch.float64))
    # mean f g g^T = diag(1.5, 10); mean f = 4; divided by s^2 = 0.25.
    torch.testing.assert_close(es_hessian(vals, dirs, s),
                               torch.tensor([[-10.0, 0.0], [0.0, 24.0]], dtype=torch.float64))


def test_batched_leading_dims_and_broadcast_directions():
    g = torch.Generator().manual_seed(3)
    vals = torch.randn(4, 3, 6, generator=g, dtype=torch.float64)
    pivot = torch.randn(4, 3, generator=g, dtype=torch.float64)
    dirs = torch.randn(6, 5, generator=g, dtype=torch.float64)  # shared by every row
    grad = es_gradient(vals, dirs, 0.2, "forward-fd", pivot=pivot)
    hess = es_hessian(vals, dirs, 0.2)
    assert grad.shape == (4, 3, 5) and hess.shape == (4, 3, 5, 5)
    torch.testing.assert_close(grad[2, 1], es_gradient(vals[2, 1], dirs, 0.2, "forward-fd",
                                                       pivot=pivot[2, 1]))
    torch.testing.assert_close(hess[3, 0], es_hessian(vals[3, 0], dirs, 0.2))


def test_gradient_argument_errors():
    vals, dirs = torch.zeros(4), torch.zeros(4, 3)
    with pytest.raises(ValueError, match="vanilla, forward-fd, antithetic"):
        es_gradient(vals, dirs, 0.1, "central")
    with pytest.raises(ValueError, match="pivot"):
        es_gradient(vals, dirs, 0.1, "forward-fd")
    with pytest.raises(ValueError, match="neg_values"):
        es_gradient(vals, dirs, 0.1, "antithetic")
    with pytest.raises(ValueError, match="entries"):
        es_gradient(torch.zeros(5), dirs, 0.1, "vanilla")


def test_zscore_including_pivot_and_constant_values_skip():
    vals = torch.tensor([[1.0, 2.0, 3.0, 6.0], [-4.0, -4.0, -4.0, -4.0]])
    z, skip = normalize_values(vals)  # zscore is the default
    assert skip.tolist() == [False, True]
    torch.testing.assert_close(z[0].mean(), torch.tensor(0.0))
    torch.testing.assert_close(z[0].std(correction=0), torch.tensor(1.0))
    assert torch.equal(z[1], torch.zeros(4))
    # Values whose float mean rounds are still recognised as constant.
    _, skip = normalize_values(torch.full((3, 151), 0.1))
    assert skip.all()


def test_ranks_are_centred_and_ties_share_a_rank():
    vals = torch.tensor([[10.0, -3.0, 7.0, 0.5, 2.0], [1.0, 1.0, 5.0, 1.0, 9.0]])
    r, skip = normalize_values(vals, "ranks")
    assert not skip.any()
    torch.testing.assert_close(r[0], torch.tensor([0.5, -0.5, 0.25, -0.25, 0.0]))
    torch.testing.assert_close(r.sum(-1), torch.zeros(2))
    assert r.min() >= -0.5 and r.max() <= 0.5
    assert r[1, 0] == r[1, 1] == r[1, 3]
    r, skip = normalize_values(torch.full((2, 4), 3.0), "ranks")
    assert skip.all() and torch.equal(r, torch.zeros(2, 4))


def test_ars_scales_without_centering_and_none_passes_through():
    vals = torch.tensor([2.0, 4.0, 6.0, 8.0], dtype=torch.float64)
    a, skip = normalize_values(vals, "ars")
    torch.testing.assert_close(a, vals / vals.std(correction=0))
    assert not skip
    a, skip = normalize_values(torch.full((4,), 5.0), "ars")
    assert skip and torch.equal(a, torch.zeros(4))
    same, skip = normalize_values(torch.full((2, 4), 5.0), "none")
    assert torch.equal(same, torch.full((2, 4), 5.0)) and not skip.any()


def test_unknown_normalization_lists_the_valid_ones():
    assert NORMALIZATIONS == ("zscore", "ranks", "ars", "none")
    with pytest.raises(ValueError, match="zscore, ranks, ars, none"):
        normalize_values(torch.zeros(3), "minmax")


def test_hessian_with_a_pivot_ignores_a_constant_shift_and_stays_unbiased():
    sigma, reps, n = 0.5, 20000, 10
    theta = CENTER + 0.3
    g = torch.Generator().manual_seed(5)
    eps = torch.randn(reps, n, DIM, generator=g, dtype=torch.float64)
    values, pivot = f(theta + sigma * eps), f(theta).expand(reps)
    plain = es_hessian(values, eps, sigma, pivot=pivot)
    shifted = es_hessian(values - 400.0, eps, sigma, pivot=pivot - 400.0)
    torch.testing.assert_close(shifted, plain, rtol=1e-9, atol=1e-6)
    assert not torch.allclose(es_hessian(values - 400.0, eps, sigma), es_hessian(values, eps, sigma))
    mean, se = plain.mean(0), plain.std(0) / math.sqrt(reps)
    z = (mean + 2.0 * torch.eye(DIM, dtype=torch.float64)) / se
    assert (z.abs() < 4).all(), f"max |z| = {z.abs().max().item():.2f}"
