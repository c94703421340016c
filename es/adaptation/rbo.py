"""`rbo`: Regression-Based Optimisation (A.3.2; Choromanski et al. 2019c, "Provably robust
blackbox optimization for reinforcement learning").

Instead of the Monte Carlo average of Alg. 1, recover the gradient by regression. With
perturbations d_k = sigma g_k (Gaussian, the same directions as `mc`) and finite
differences y_k = f(theta + d_k) - f(theta) = grad . d_k + O(||d_k||^2), solve for x in
D x ~ y (D = [d_1; ...; d_K], K x dim) with a decoder:

- `"l1"`: least absolute deviations, min_x ||D x - y||_1, an exact linear program (HiGHS);
  unregularised (`reg` is not used), as the reference's l1 decoder. It recovers the
  gradient exactly even when a fraction of the y_k are grossly corrupted (the LP-decoding
  argument of Candes & Tao 2005), which is RBO's selling point.
- `"ridge"`: min ||D x - y||^2 + reg ||x||^2, closed form, batched in torch.
- `"lasso"`: min ||D x - y||^2 / (2K) + reg ||x||_1 (scikit-learn's scaling), by FISTA,
  finished exactly on the support once it has settled.

When K < dim the l1 and reg = 0 ridge problems have a whole affine space of minimisers;
both then return the one in the span of the directions (for l1: the LP is solved over
x = V w with V an orthonormal basis of the row space of D, which loses no minimiser's
objective value since D x only sees that component). With K >= dim and D of full rank
this restriction is vacuous.

The values are normalised like `mc` (z-score with the pivot by default; the reference's
regression optimiser does the same), so y is in normalised units, and no step is taken
where all K + 1 values are equal. `corrupt_fraction` > 0 adds N(0, corrupt_scale^2) noise to
that fraction of each point's K raw query values before anything else (Fig. A3), chosen
from the point's seed (`es.adaptation.corruption`). The step is theta + alpha * x.
K + 1 rollouts per point, in one engine call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linprog
from torch import Tensor

from es.adaptation.base import AdaptationOperator, Adapted, CorruptionOptions, sampled_values
from es.directions import make_sampler
from workbench.config import option
from workbench.objective import Objective

__all__ = ["DECODERS", "RegressionStep", "decode", "decode_many"]

DECODERS: tuple[str, ...] = ("l1", "ridge", "lasso")

# FISTA stopping rule for the lasso: max |x_{t+1} - x_t| <= _LASSO_TOL * max(1, max |x|).
_LASSO_TOL = 1e-12
_LASSO_MAX_ITER = 20000
_LASSO_POLISH = 25  # FISTA iterations between attempts to finish on the support


def _check_decoder(decoder: str, reg: float) -> None:
    if decoder not in DECODERS:
        raise ValueError(f"unknown rbo decoder {decoder!r}; valid: {', '.join(DECODERS)}")
    if not float(reg) >= 0.0:
        raise ValueError(f"rbo reg must be >= 0; got {reg}")


def decode(D: Tensor, y: Tensor, decoder: str = "l1", reg: float = 1e-3) -> Tensor:
    """The gradient x `[dim]` (float64) recovered from `D [K, dim]` and `y [K]` (D x ~ y)."""
    D = torch.as_tensor(D, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64)
    if D.dim() != 2 or y.dim() != 1 or y.shape[0] != D.shape[0]:
        raise ValueError(f"decode expects D [K, dim] and y [K]; got shapes {tuple(D.shape)} "
                         f"and {tuple(y.shape)}")
    return decode_many(D.unsqueeze(0), y.unsqueeze(0), decoder, reg)[0]


def decode_many(D: Tensor, y: Tensor, decoder: str = "l1", reg: float = 1e-3) -> Tensor:
    """`decode` for a batch: `D [P, K, dim]`, `y [P, K]` -> `x [P, dim]` (float64).

    Row p of the result depends on `D[p]`, `y[p]` only: ridge is one batched solve, l1 and
    lasso solve each row on its own.
    """
    _check_decoder(decoder, reg)
    D = torch.as_tensor(D, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64)
    if decoder == "ridge":
        return _ridge(D, y, float(reg))
    solve = _l1 if decoder == "l1" else _lasso
    out = torch.zeros(D.shape[0], D.shape[2], dtype=torch.float64)
    for i in range(D.shape[0]):
        out[i] = solve(D[i], y[i], float(reg))
    return out


def _svd_tall(D: Tensor) -> tuple[Tensor, Tensor]:
    """Singular values `[n]` and right singular vectors `[n, dim]` of `D [K, dim]`.

    LAPACK is given the tall orientation: the wide one is pathologically slow in some
    builds (seconds for 20 x 1800), and numpy's threaded LAPACK is avoided entirely.
    """
    if D.shape[0] >= D.shape[1]:
        _, s, vh = torch.linalg.svd(D, full_matrices=False)
        return s, vh
    u, s, _ = torch.linalg.svd(D.T, full_matrices=False)
    return s, u.T


def _ridge(D: Tensor, y: Tensor, reg: float) -> Tensor:
    k, dim = D.shape[1], D.shape[2]
    Dt = D.transpose(1, 2)
    if k < dim:  # push-through identity: (D'D + rI)^-1 D' = D' (DD' + rI)^-1, a K x K solve
        gram = D @ Dt + reg * torch.eye(k, dtype=D.dtype)
        return (Dt @ torch.linalg.solve(gram, y.unsqueeze(-1))).squeeze(-1)
    gram = Dt @ D + reg * torch.eye(dim, dtype=D.dtype)
    return torch.linalg.solve(gram, Dt @ y.unsqueeze(-1)).squeeze(-1)


def _l1(D: Tensor, y: Tensor, reg: float) -> Tensor:
    """min ||D x - y||_1 over x in the row space of D, as an LP in (w, e+, e-)."""
    k, dim = D.shape
    s, vh = _svd_tall(D)
    if s.numel() == 0 or float(s[0]) == 0.0:
        return torch.zeros(dim, dtype=torch.float64)
    rank = int((s > s[0] * max(k, dim) * torch.finfo(torch.float64).eps).sum())
    basis = vh[:rank]  # [rank, dim], orthonormal rows spanning the row space
    B = (D @ basis.T).numpy()  # [K, rank]
    yn = y.numpy()
    # The LP is scale-equivariant (x(c y) = c x(y)); solving with y / median|y| keeps the
    # clean values O(1) for HiGHS' absolute tolerances even when the corrupted ones are huge.
    scale = float(np.median(np.abs(yn))) or float(np.max(np.abs(yn)))
    if scale == 0.0:
        return torch.zeros(dim, dtype=torch.float64)
    # variables: w (free, rank), e+ (K, >= 0), e- (K, >= 0); B w - e+ + e- = y / scale
    c = np.concatenate([np.zeros(rank), np.ones(2 * k)])
    a_eq = np.hstack([B, -np.eye(k), np.eye(k)])
    bounds = [(None, None)] * rank + [(0.0, None)] * (2 * k)
    res = linprog(c, A_eq=a_eq, b_eq=yn / scale, bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"rbo l1 decoder: linear program failed ({res.message})")
    return scale * (basis.T @ torch.from_numpy(res.x[:rank]))


def _lasso(D: Tensor, y: Tensor, reg: float) -> Tensor:
    """min ||D x - y||^2 / (2K) + reg ||x||_1 by FISTA (gradient-based restart).

    Every `_LASSO_POLISH` iterations the current support and signs are tried as the exact
    answer: x_S solving the optimality equations on the support, accepted only if it keeps
    those signs and satisfies the optimality conditions off the support, which makes it
    the lasso solution itself (FISTA alone needs thousands of iterations when K < dim).
    """
    k, dim = D.shape
    lip = float(_svd_tall(D)[0][0]) ** 2 / k  # Lipschitz constant of the smooth part
    if lip == 0.0:
        return torch.zeros(dim, dtype=torch.float64)
    Dn, yn = D.numpy(), y.numpy()
    step, thresh = 1.0 / lip, reg / lip
    x = np.zeros(dim)
    z, t = x.copy(), 1.0
    for it in range(1, _LASSO_MAX_ITER + 1):
        v = z - step * (Dn.T @ (Dn @ z - yn) / k)
        x_new = np.sign(v) * np.maximum(np.abs(v) - thresh, 0.0)
        delta = x_new - x
        if np.max(np.abs(delta)) <= _LASSO_TOL * max(1.0, float(np.max(np.abs(x_new)))):
            return torch.from_numpy(x_new)
        if it % _LASSO_POLISH == 0:
            exact = _lasso_on_support(Dn, yn, reg, x_new)
            if exact is not None:
                return torch.from_numpy(exact)
        if float(np.dot(z - x_new, delta)) > 0.0:  # momentum points uphill: restart
            t = 1.0
        t_new = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        z = x_new + ((t - 1.0) / t_new) * delta
        x, t = x_new, t_new
    return torch.from_numpy(x)


def _lasso_on_support(D: np.ndarray, y: np.ndarray, reg: float,
                      x: np.ndarray) -> np.ndarray | None:
    """The lasso solution with the support and signs of `x`, if those are the right ones."""
    k, dim = D.shape
    support = np.flatnonzero(x)
    if support.size == 0 or support.size > k:
        return None
    sign = np.sign(x[support])
    Ds = D[:, support]
    try:
        xs = np.linalg.solve(Ds.T @ Ds / k, Ds.T @ y / k - reg * sign)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.sign(xs) == sign):
        return None
    out = np.zeros(dim)
    out[support] = xs
    grad = D.T @ (D @ out - y) / k
    off = np.ones(dim, dtype=bool)
    off[support] = False
    if np.any(np.abs(grad[off]) > reg):
        return None
    return out


@dataclass(frozen=True)
class RegressionOptions(CorruptionOptions):
    decoder: str = option("l1", "regression decoder: l1, ridge or lasso", choices=DECODERS)
    reg: float = option(1e-3, "regularisation weight of the decoder", low=0.0)


class RegressionStep(AdaptationOperator):
    name = "rbo"
    Options = RegressionOptions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _check_decoder(self.options["decoder"], self.options["reg"])
        self.sampler = make_sampler("gaussian", sigma=self.sigma)

    def __call__(self, objective: Objective, thetas: Tensor, tasks: Tensor,
                 seeds: Tensor) -> Adapted:
        dirs, pivot, z, skip, ev = sampled_values(self, objective, thetas, tasks, seeds)
        y = z[:, 1:] - z[:, :1]
        x = torch.zeros(thetas.shape, dtype=torch.float64)
        live = (~skip).nonzero().squeeze(1)
        if live.numel():
            x[live] = decode_many(self.sigma * dirs[live].to(torch.float64), y[live],
                                  self.options["decoder"], float(self.options["reg"]))
        return Adapted(thetas + self.alpha * x.to(thetas.dtype), pivot, [ev])
