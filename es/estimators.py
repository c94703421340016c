"""ES gradient and Hessian estimates from already-evaluated function values.

Pure estimators: the caller evaluates f at the perturbed points (and at the pivot), optionally
normalises the values with `normalize_values`, then calls `es_gradient` / `es_hessian`.
Everything is batched over arbitrary leading dimensions (tasks, perturbations, ...), with
broadcasting between `values` and `directions` so one set of directions can serve many rows.

- `es_gradient`: Alg. 1 of the paper (`vanilla`) and its control-variate forms from §3.1,
  `forward-fd` (subtract f(theta)) and `antithetic` (symmetric differences).
- `es_hessian`: Alg. 4 (appendix A.1), the Monte Carlo Hessian of the Gaussian smoothing.
- `normalize_values`: reward normalisation applied before estimating (docs/design.md §3).

With z-score normalisation and forward-FD, normalise the pivot together with the perturbed
values (as the reference does) and split it off again, e.g.::

    z, skip = normalize_values(torch.cat([pivot[..., None], values], -1), "zscore")
    grad = es_gradient(z[..., 1:], directions, sigma, "forward-fd", pivot=z[..., 0])
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["KINDS", "NORMALIZATIONS", "normalize_values", "es_gradient", "es_hessian",
           "es_hessian_vector"]

KINDS: tuple[str, ...] = ("vanilla", "forward-fd", "antithetic")
NORMALIZATIONS: tuple[str, ...] = ("zscore", "ranks", "ars", "none")


def _as_float(values: Tensor) -> Tensor:
    values = torch.as_tensor(values)
    return values if values.is_floating_point() else values.to(torch.get_default_dtype())


def normalize_values(values: Tensor, method: str = "zscore") -> tuple[Tensor, Tensor]:
    """Normalise `values` `[..., m]` along the last dimension.

    Returns `(normalised [..., m], skip bool [...])`. `skip` is True where all m values are
    equal: they carry no information about the gradient, the normalised values are returned as
    zeros, and the caller should skip the update (e.g. every Four-Corners rollout at -4 per
    step). `"none"` passes the values through and never skips.

    - `"zscore"`: `(v - mean) / std` (population std).
    - `"ranks"`: centred ranks in [-0.5, 0.5]; tied values share their average rank.
    - `"ars"`: `v / std`, no centering (Mania et al. 2018).
    - `"none"`: unchanged.
    """
    if method not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {method!r}; valid normalizations: "
                         f"{', '.join(NORMALIZATIONS)}")
    values = _as_float(values)
    if values.dim() == 0:
        raise ValueError("normalize_values needs values with a last dimension [..., m]")
    if method == "none":
        return values, torch.zeros(values.shape[:-1], dtype=torch.bool)
    # Constancy is tested exactly rather than via std == 0: the mean of identical floats can
    # round, leaving a spurious std of a few ulps whose z-scores would be pure noise.
    skip = values.amax(dim=-1) == values.amin(dim=-1)
    if method == "ranks":
        m = values.shape[-1]
        if m == 1:
            return torch.zeros_like(values), skip
        # Pairwise counting (O(m^2)) gives tie-averaged ranks directly; m is a population size.
        below = (values.unsqueeze(-1) > values.unsqueeze(-2)).sum(-1)
        equal = (values.unsqueeze(-1) == values.unsqueeze(-2)).sum(-1)
        rank = below.to(values.dtype) + (equal.to(values.dtype) - 1.0) / 2.0
        out = rank / (m - 1) - 0.5
    else:
        std = values.std(dim=-1, correction=0, keepdim=True)
        safe = torch.where(skip.unsqueeze(-1), torch.ones_like(std), std)
        centred = values - values.mean(dim=-1, keepdim=True) if method == "zscore" else values
        out = centred / safe
    return torch.where(skip.unsqueeze(-1), torch.zeros_like(out), out), skip


def es_gradient(values: Tensor, directions: Tensor, sigma: float, kind: str = "forward-fd",
                pivot: Tensor | float | None = None,
                neg_values: Tensor | None = None) -> Tensor:
    """ES estimate `[..., D]` of the gradient of the Gaussian smoothing of f at theta.

    `values[..., i] = f(theta + sigma * directions[..., i, :])`, n directions per estimate.

    - `"vanilla"`: `(1/(n sigma)) sum_i f(theta + sigma g_i) g_i` (Alg. 1).
    - `"forward-fd"`: as vanilla with `f(theta + sigma g_i) - f(theta)`; needs `pivot [...]`.
    - `"antithetic"`: `(1/(2 n sigma)) sum_i (f(theta + sigma g_i) - f(theta - sigma g_i)) g_i`;
      needs `neg_values[..., i] = f(theta - sigma g_i)`.

    Arguments a kind does not use are ignored. No normalisation is applied here.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown estimator kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    values = _as_float(values)
    _check_shapes(values, directions)
    n = values.shape[-1]
    if kind == "forward-fd":
        if pivot is None:
            raise ValueError("es_gradient(kind='forward-fd') needs pivot = f(theta), shape [...]")
        pivot = torch.as_tensor(pivot, dtype=values.dtype)
        weights = (values - pivot.unsqueeze(-1)) / (n * sigma)
    elif kind == "antithetic":
        if neg_values is None:
            raise ValueError("es_gradient(kind='antithetic') needs neg_values = "
                             "f(theta - sigma * directions), shape [..., n]")
        neg_values = _as_float(neg_values)
        if neg_values.shape[-1] != n:
            raise ValueError(f"neg_values has {neg_values.shape[-1]} entries in its last "
                             f"dimension, values has {n}")
        weights = (values - neg_values) / (2.0 * n * sigma)
    else:
        weights = values / (n * sigma)
    dtype = torch.promote_types(weights.dtype, directions.dtype)
    return (weights.to(dtype).unsqueeze(-2) @ directions.to(dtype)).squeeze(-2)


def es_hessian(values: Tensor, directions: Tensor, sigma: float,
               pivot: Tensor | float | None = None) -> Tensor:
    """Alg. 4: `(1/sigma^2) (mean_i f_i g_i g_i^T - mean_i f_i * I)`, shape `[..., D, D]`.

    `values[..., i] = f(theta + sigma * directions[..., i, :])`. Unbiased for the Hessian of
    the Gaussian smoothing (Stein's identity) but high-variance, as the paper notes. Alg. 4
    as printed moves with a constant added to f (its terms cancel only in expectation); with
    `pivot [...]` = f(theta) the values are taken as `f_i - pivot`, which keeps it unbiased
    (E[g g^T - I] = 0) and makes it invariant to such an offset.
    """
    values = _centre(_as_float(values), pivot)
    _check_shapes(values, directions)
    n, dim = values.shape[-1], directions.shape[-1]
    dtype = torch.promote_types(values.dtype, directions.dtype)
    weights, directions = values.to(dtype), directions.to(dtype)
    second = (directions.transpose(-1, -2) * weights.unsqueeze(-2)) @ directions / n
    mean = weights.mean(dim=-1)[..., None, None]
    eye = torch.eye(dim, dtype=directions.dtype)
    return (second - mean * eye) / sigma ** 2


def es_hessian_vector(values: Tensor, directions: Tensor, sigma: float, vector: Tensor,
                      pivot: Tensor | float | None = None) -> Tensor:
    """`es_hessian(values, directions, sigma, pivot) @ vector` without the D x D matrix.

    Alg. 5 needs only `H d2`; for a policy with thousands of parameters the matrix itself
    would cost gigabytes per task.
    """
    values = _centre(_as_float(values), pivot)
    _check_shapes(values, directions)
    n = values.shape[-1]
    dtype = torch.promote_types(values.dtype, directions.dtype)
    values, directions, vector = values.to(dtype), directions.to(dtype), vector.to(dtype)
    proj = (directions @ vector.unsqueeze(-1)).squeeze(-1)  # [..., n]: g_i . v
    second = ((values * proj).unsqueeze(-2) @ directions).squeeze(-2) / n
    return (second - values.mean(-1, keepdim=True) * vector) / sigma ** 2


def _centre(values: Tensor, pivot: Tensor | float | None) -> Tensor:
    if pivot is None:
        return values
    return values - torch.as_tensor(pivot, dtype=values.dtype).unsqueeze(-1)


def _check_shapes(values: Tensor, directions: Tensor) -> None:
    if values.dim() < 1 or directions.dim() < 2:
        raise ValueError(f"expected values [..., n] and directions [..., n, D], got shapes "
                         f"{tuple(values.shape)} and {tuple(directions.shape)}")
    if values.shape[-1] != directions.shape[-2]:
        raise ValueError(f"values has {values.shape[-1]} entries per estimate but directions "
                         f"has {directions.shape[-2]} (shapes {tuple(values.shape)} and "
                         f"{tuple(directions.shape)})")
