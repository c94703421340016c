"""`asebo`: an ES-gradient step with adaptive active-subspace sampling (A.3.1; ASEBO,
Choromanski et al., NeurIPS 2019).

The operator keeps, across ES-MAML iterations, an exponentially decayed second-moment
matrix of the gradient estimates it has produced,

    C <- decay * C + (1/P) sum_p g_p g_p^T        (once per call; a call is one iteration),

held as a truncated eigendecomposition (at most `max_rank` eigenpairs, so memory is
max_rank x dim rather than dim x dim). Every gradient estimate of the call is added, not
just their mean: in ES-MAML the population spans several tasks whose adaptation gradients
may cancel on average (e.g. forward vs backward) while spanning a low-dimensional subspace.
The matrix is uncentred (the active-subspace matrix E[grad grad^T]); a centred PCA, as in
the ASEBO reference release, would see no subspace at all if every estimate were equal.

For the first `warmup` calls (or while C is still zero) the operator is exactly `mc`:
Gaussian directions (same seeds, same draws), forward FD, normalised values.

Afterwards the active subspace U (dim x r) is spanned by the top r eigenvectors of C, r the
smallest number explaining `variance_explained` of its trace (at least `min_rank`). Each of
a point's K directions is, independently, with probability p a subspace direction
sqrt(dim / r) U U^T g, and otherwise a complement direction sqrt(dim / (dim - r)) (I - U U^T) g,
where g ~ N(0, I) are the very draws `mc` would use. The scalings give each direction
E||eps||^2 = dim as for N(0, I); their second moment is
Sigma = p (dim/r) U U^T + (1 - p) (dim/(dim - r)) (I - U U^T), trace dim. The gradient is the
same forward-FD estimate (1/(K sigma)) sum (z_k - z_0) eps_k as `mc`, which (as ASEBO's) has
mean ~ Sigma grad: the gradient preconditioned toward the subspace, not reweighted.

p adapts as in ASEBO: after each call, with G the call's estimates [P, dim],
q = ||G (I - U U^T)||_F / ||G U||_F clipped to [0.01, 0.99] is the complement probability
for the next call (p = 1 - q). Before the first measurement p = r / dim, for which
Sigma = I (isotropic in second moment).

Randomness: point p's directions derive from seeds[p] (and from the operator state, which
is fixed during a call). The state update uses the whole population, so the population must
be adapted by one operator instance per call (slicing a call across workers would need
the slices' estimates gathered before the update).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from es.adaptation.base import (DIRECTIONS_KEY, AdaptationOperator, Adapted, NormalizedOptions,
                                query)
from es.estimators import es_gradient, normalize_values
from workbench.config import option
from es.directions import make_sampler
from workbench.objective import Objective
from workbench.seeding import derive_many, uniform

__all__ = ["ActiveSubspaceStep"]

#: Sub-key (under DIRECTIONS_KEY) of the uniforms choosing subspace vs complement.
_CHOICE_KEY = 1
#: Clip range of the complement probability q (ASEBO).
Q_MIN, Q_MAX = 0.01, 0.99

_STATE_KEYS = ("calls", "eigenvalues", "eigenvectors", "complement_prob")


@dataclass(frozen=True)
class ActiveSubspaceOptions(NormalizedOptions):
    warmup: int = option(10, "calls with plain Gaussian directions before the subspace is "
                         "used", low=0)
    variance_explained: float = option(0.995, "share of gradient variance the subspace keeps",
                                       low=0.0, low_open=True, high=1.0)
    decay: float = option(0.99, "decay of the gradient covariance across calls", low=0.0,
                          low_open=True, high=1.0)
    min_rank: int = option(1, "smallest subspace rank", low=1)
    max_rank: int = option(200, "largest subspace rank", low=1)


class ActiveSubspaceStep(AdaptationOperator):
    name = "asebo"
    Options = ActiveSubspaceOptions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sampler = make_sampler("gaussian", sigma=self.sigma)
        self._reset_state()

    # ----------------------------------------------------------------- state
    def _reset_state(self) -> None:
        self.calls = torch.tensor(0, dtype=torch.int64)
        self.eigenvalues = torch.zeros(0, dtype=torch.float64)  # [m], descending
        self.eigenvectors = torch.zeros(0, 0, dtype=torch.float64)  # [m, dim], orthonormal rows
        self.complement_prob = torch.tensor(math.nan, dtype=torch.float64)  # nan: not measured

    def state_dict(self) -> dict[str, Any]:
        return {"calls": self.calls.clone(), "eigenvalues": self.eigenvalues.clone(),
                "eigenvectors": self.eigenvectors.clone(),
                "complement_prob": self.complement_prob.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = [k for k in _STATE_KEYS if k not in state]
        if missing:
            raise ValueError(f"asebo state lacks {', '.join(missing)}")
        vals = torch.as_tensor(state["eigenvalues"], dtype=torch.float64)
        vecs = torch.as_tensor(state["eigenvectors"], dtype=torch.float64)
        if vals.dim() != 1 or vecs.dim() != 2 or vecs.shape[0] != vals.shape[0]:
            raise ValueError(f"asebo state: eigenvalues [m] and eigenvectors [m, dim] expected; "
                             f"got {tuple(vals.shape)} and {tuple(vecs.shape)}")
        self.calls = torch.as_tensor(state["calls"], dtype=torch.int64).clone()
        self.eigenvalues, self.eigenvectors = vals.clone(), vecs.clone()
        self.complement_prob = torch.as_tensor(state["complement_prob"],
                                               dtype=torch.float64).clone()

    # ------------------------------------------------------------- subspace
    def active(self) -> bool:
        """Whether the next call samples from the subspace (warm and C nonzero)."""
        return (int(self.calls) >= int(self.options["warmup"]) and self.eigenvalues.numel() > 0
                and float(self.eigenvalues[0]) > 0.0)

    def rank(self) -> int:
        """r: the smallest number of top eigenpairs explaining `variance_explained` of C."""
        vals = self.eigenvalues.clamp(min=0.0)
        frac = torch.cumsum(vals, 0) / vals.sum()
        r = int((frac < float(self.options["variance_explained"])).sum()) + 1
        return max(min(r, vals.numel()), min(int(self.options["min_rank"]), vals.numel()))

    def subspace(self) -> Tensor:
        """U `[dim, r]`: an orthonormal basis of the active subspace."""
        return self.eigenvectors[:self.rank()].T

    def subspace_prob(self, dim: int) -> float:
        """p: the probability that a direction is drawn from the subspace."""
        r = self.rank()
        if r >= dim:
            return 1.0
        q = float(self.complement_prob)
        return r / dim if math.isnan(q) else 1.0 - q

    def directions(self, seeds: Tensor, dim: int, dtype: torch.dtype = torch.float64) -> Tensor:
        """The `[P, K, dim]` directions the next call would use for points with `seeds`."""
        g = self.sampler.sample(derive_many(seeds, DIRECTIONS_KEY), self.K, dim, dtype=dtype)
        if not self.active():
            return g
        if self.eigenvectors.shape[1] != dim:
            raise ValueError(f"asebo state is for dimension {self.eigenvectors.shape[1]}, "
                             f"parameters have {dim}")
        U = self.subspace().to(dtype)
        r = U.shape[1]
        inside = (g @ U) @ U.T
        if r >= dim:
            return inside
        choose = uniform(derive_many(seeds, DIRECTIONS_KEY, _CHOICE_KEY), self.K) \
            < self.subspace_prob(dim)
        return torch.where(choose.unsqueeze(-1), math.sqrt(dim / r) * inside,
                           math.sqrt(dim / (dim - r)) * (g - inside))

    # ---------------------------------------------------------------- update
    def _update(self, grads: Tensor, U: Tensor | None) -> None:
        """Fold one call's estimates `grads [P, dim]` into the state."""
        grads = grads.to(torch.float64)
        p, dim = grads.shape
        if U is not None:
            act = float((grads @ U).norm())
            perp = float((grads - (grads @ U) @ U.T).norm())
            if act > 0.0:
                q = min(max(perp / act, Q_MIN), Q_MAX)
            elif perp > 0.0:
                q = Q_MAX
            else:  # no information this call: keep the previous q
                q = float(self.complement_prob)
            self.complement_prob = torch.tensor(q, dtype=torch.float64)
        if self.eigenvectors.numel() and self.eigenvectors.shape[1] != dim:
            raise ValueError(f"asebo state is for dimension {self.eigenvectors.shape[1]}, "
                             f"parameters have {dim}")
        # C' = decay C + G'G / P = M'M with M = [sqrt(decay) L^(1/2) V; G / sqrt(P)].
        old = (math.sqrt(float(self.options["decay"])) * self.eigenvalues.clamp(min=0.0).sqrt()
               ).unsqueeze(1) * self.eigenvectors
        m = torch.cat([old.reshape(-1, dim), grads / math.sqrt(p)])
        # Right singular vectors of M, computed from the tall orientation (the wide one is
        # pathologically slow in some LAPACK builds).
        if m.shape[0] >= dim:
            _, s, vh = torch.linalg.svd(m, full_matrices=False)
        else:
            u, s, _ = torch.linalg.svd(m.T, full_matrices=False)
            vh = u.T
        keep = min(int(self.options["max_rank"]), int((s > 0).sum()))
        self.eigenvalues, self.eigenvectors = s[:keep].square(), vh[:keep].clone()
        self.calls = self.calls + 1

    def __call__(self, objective: Objective, thetas: Tensor, tasks: Tensor,
                 seeds: Tensor) -> Adapted:
        U = self.subspace() if self.active() else None
        dirs = self.directions(seeds, thetas.shape[1], dtype=thetas.dtype)
        pivot, values, ev = query(objective, thetas, dirs, self.sigma, tasks, seeds)
        z, skip = normalize_values(torch.cat([pivot.unsqueeze(1), values], 1),
                                   self.options["normalization"])
        grad = es_gradient(z[:, 1:], dirs, self.sigma, "forward-fd", pivot=z[:, 0])
        grad = torch.where(skip.unsqueeze(1), torch.zeros_like(grad), grad)
        if self.training:
            self._update(grad, U)
        return Adapted(thetas + self.alpha * grad.to(thetas.dtype), pivot, [ev])
