"""TRPO's constrained step (Schulman et al. 2015): conjugate gradient on Fisher-vector
products, then a backtracking line search that accepts only a better surrogate inside the
trust region.

`trpo_step(theta, loss_and_kl)` minimises `loss(theta)` subject to `kl(theta) <= max_kl`:
1. g = grad loss at theta_0; F v = d/dtheta (grad kl . v) + damping v, the Hessian of the
   mean KL (zero with zero gradient at theta_0, so its Hessian is the Fisher matrix; for
   MAML-TRPO the KL is of the ADAPTED policies, so F includes the inner step's Jacobian);
2. s = CG(F, g) with `cg_iters` iterations (residual tolerance 1e-10);
3. full step beta s with beta = sqrt(2 max_kl / s^T F s) (the quadratic model's boundary);
4. try theta_0 - ratio^j beta s for j = 0 .. max_backtracks - 1; accept the first with a
   finite loss below the initial loss and kl <= max_kl; if none, keep theta_0.
Defaults are rllab's / ProMP's: max_kl 0.01, 10 CG iterations, damping 1e-5, ratio 0.8,
15 backtracks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

#: `loss_and_kl(theta, create_graph)` -> (loss, kl), scalars, differentiable in `theta` when
#: `create_graph` (first evaluation); plain values otherwise (line search).
LossAndKL = Callable[[Tensor, bool], tuple[Tensor, Tensor]]


@dataclass
class TRPOResult:
    theta: Tensor  # the new parameters (theta_0 when rejected)
    accepted: bool
    backtracks: int  # line-search steps tried before acceptance (max_backtracks if rejected)
    loss_before: float
    loss_after: float  # at the returned theta
    kl: float  # at the returned theta (0 when rejected)
    expected_improvement: float  # -g . (beta s), the linear model's predicted decrease
    step_norm: float  # |theta - theta_0|


def conjugate_gradient(avp: Callable[[Tensor], Tensor], b: Tensor, iters: int = 10,
                       residual_tol: float = 1e-10) -> Tensor:
    """Approximately solve A x = b for symmetric positive definite A given `avp(v) = A v`."""
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r.dot(r)
    for _ in range(iters):
        if rr <= residual_tol:
            break
        z = avp(p)
        alpha = rr / p.dot(z)
        x = x + alpha * p
        r = r - alpha * z
        rr_new = r.dot(r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def fisher_vector_product(kl: Tensor, theta: Tensor, damping: float) -> Callable[[Tensor], Tensor]:
    """`v -> (Hessian of kl at theta) v + damping v`, by double backward (graph kept)."""
    (grad_kl,) = torch.autograd.grad(kl, theta, create_graph=True)

    def fvp(v: Tensor) -> Tensor:
        (hv,) = torch.autograd.grad(grad_kl, theta, grad_outputs=v, retain_graph=True)
        return hv.detach() + damping * v

    return fvp


def trpo_step(theta: Tensor, loss_and_kl: LossAndKL, max_kl: float = 0.01,
              damping: float = 1e-5, cg_iters: int = 10, backtrack_ratio: float = 0.8,
              max_backtracks: int = 15) -> TRPOResult:
    """One TRPO update of `theta [P]` (see the module docstring)."""
    theta0 = theta.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss0, kl0 = loss_and_kl(theta0, True)
        (g,) = torch.autograd.grad(loss0, theta0, retain_graph=True)
        fvp = fisher_vector_product(kl0, theta0, damping)
        direction = conjugate_gradient(fvp, g.detach(), cg_iters)
        shs = direction.dot(fvp(direction))
    loss_before = float(loss0.detach())
    base = theta0.detach()
    rejected = TRPOResult(base.clone(), False, max_backtracks, loss_before, loss_before, 0.0,
                          0.0, 0.0)
    if not (torch.isfinite(shs) and shs > 0 and torch.isfinite(direction).all()):
        return rejected
    beta = math.sqrt(2.0 * max_kl / (float(shs) + 1e-8))
    full = beta * direction
    rejected.expected_improvement = float(g.dot(full))
    for j in range(max_backtracks):
        candidate = base - backtrack_ratio ** j * full
        loss, kl = loss_and_kl(candidate, False)
        loss, kl = float(loss), float(kl)
        if math.isfinite(loss) and math.isfinite(kl) and loss < loss_before and kl <= max_kl:
            return TRPOResult(candidate.detach(), True, j, loss_before, loss, kl,
                              rejected.expected_improvement,
                              float((candidate - base).norm()))
    return rejected
