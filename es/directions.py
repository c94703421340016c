"""Perturbation directions for ES gradient estimates, regenerated from integer seeds.

Workers exchange integer seeds, never direction vectors: the directions of row `i` are a
deterministic function of `seeds[i]` (and of `k`, `dim`) alone, so any slicing of the seed
array across workers, batches or resumed runs reproduces exactly the same rows.

Samplers (all on the N(0, I) scale, so the estimators in `es.estimators` use them unchanged):

- `GaussianSampler`: iid N(0, I) (Alg. 1 of the paper).
- `AntitheticSampler`: k/2 Gaussian directions followed by their negations.
- `OrthogonalSampler`: orthogonal Monte Carlo (Choromanski et al. 2018): blocks of up to
  `dim` exactly orthogonal directions whose norms are chi(dim)-distributed.
- `DPPSampler`: DPP-ES (paper §3.3.1): a size-k DPP (Kulesza & Taskar 2012) over
  `oversample * k` Gaussian candidates with an RBF kernel, which favours diverse directions.
"""

from __future__ import annotations


import numpy as np
import torch
from torch import Tensor

from workbench import recipes
from workbench.registry import Registry

__all__ = [
    "Sampler",
    "GaussianSampler",
    "AntitheticSampler",
    "OrthogonalSampler",
    "DPPSampler",
    "SAMPLERS",
    "make_sampler",
]


class Sampler:
    """Base class: `sample(seeds, k, dim)` -> `[n, k, dim]`, row i a function of seeds[i]."""

    name: str = "base"
    #: Whether a remote worker may regenerate rows from the seeds (`workbench.recipes`)
    #: bit for bit: true for plain `randn` draws; samplers built on LAPACK factorisations
    #: (QR, eigh) are not, since their last bits may depend on the BLAS thread count.
    regenerable: bool = False

    def __init__(self, sigma: float = 0.1) -> None:
        """`sigma`: the precision the directions will be used with (theta + sigma g).

        Every sampler takes it so that a caller can always pass the configured value; the
        i.i.d. and orthogonal samplers are scale-free and only record it, while `dpp` builds
        its kernel on the scaled candidates and so depends on it.
        """
        if not sigma > 0:
            raise ValueError(f"{type(self).__name__} sigma must be > 0, got {sigma}")
        self.sigma = float(sigma)

    def sample(self, seeds: Tensor, k: int, dim: int, dtype: torch.dtype = torch.float32) -> Tensor:
        """`k` directions in R^`dim` per seed, as a `[len(seeds), k, dim]` tensor of `dtype`."""
        seeds = torch.as_tensor(seeds, dtype=torch.int64).reshape(-1)
        k, dim = int(k), int(dim)
        if k < 1 or dim < 1:
            raise ValueError(f"k and dim must be >= 1, got k={k}, dim={dim}")
        self._check_k(k)
        out = torch.empty(seeds.numel(), k, dim, dtype=dtype)
        for i, seed in enumerate(seeds.tolist()):
            # A fresh generator per row is what makes a row independent of its neighbours;
            # rows are drawn in float64 so that the same seed gives the same directions
            # (up to rounding) whatever output dtype is requested.
            gen = torch.Generator().manual_seed(int(seed))
            out[i] = self._row(gen, k, dim)
        if self.regenerable:
            # The recipe lets a Ray actor redraw its rows instead of receiving them.
            recipes.describe(out, recipes.Seeded(self, seeds.clone(), k, dim, dtype))
        return out

    def _check_k(self, k: int) -> None:
        """Hook for samplers with constraints on `k`."""

    def _row(self, gen: torch.Generator, k: int, dim: int) -> Tensor:
        """`[k, dim]` float64 directions drawn from `gen` only."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class GaussianSampler(Sampler):
    """iid N(0, I) directions."""

    name = "gaussian"
    regenerable = True

    def _row(self, gen: torch.Generator, k: int, dim: int) -> Tensor:
        return torch.randn(k, dim, generator=gen, dtype=torch.float64)


class AntitheticSampler(Sampler):
    """k/2 iid N(0, I) directions followed by their negations (k must be even)."""

    name = "antithetic"
    regenerable = True

    def _check_k(self, k: int) -> None:
        if k % 2:
            raise ValueError(f"AntitheticSampler needs an even number of directions k, got k={k}")

    def _row(self, gen: torch.Generator, k: int, dim: int) -> Tensor:
        half = torch.randn(k // 2, dim, generator=gen, dtype=torch.float64)
        return torch.cat([half, -half], dim=0)


class OrthogonalSampler(Sampler):
    """Orthogonal Monte Carlo directions (Choromanski et al. 2018).

    Directions come in blocks of up to `dim`; within a block they are exactly orthogonal.
    Each direction is a uniformly random unit vector scaled by the norm of an independent
    N(0, I_dim) vector, so every single direction is still marginally N(0, I) and the
    estimators stay unbiased while the block's directions cannot be redundant.
    """

    name = "orthogonal"

    def _row(self, gen: torch.Generator, k: int, dim: int) -> Tensor:
        blocks = []
        remaining = k
        while remaining > 0:
            b = min(dim, remaining)
            g = torch.randn(dim, b, generator=gen, dtype=torch.float64)
            q, r = torch.linalg.qr(g)
            # QR's sign convention is not random; flipping by sign(diag R) makes the
            # orthonormal frame Haar-distributed (Mezzadri 2007).
            sign = torch.sign(torch.diagonal(r))
            sign[sign == 0] = 1.0
            q = q * sign
            norms = torch.randn(b, dim, generator=gen, dtype=torch.float64).norm(dim=1)
            blocks.append(q.T * norms.unsqueeze(1))
            remaining -= b
        return torch.cat(blocks, dim=0)


class DPPSampler(Sampler):
    """DPP-ES directions (paper §3.3.1): a size-k DPP over Gaussian candidates.

    Per row: draw `oversample * k` candidates `sigma * N(0, I)`, build the RBF kernel
    `exp(-||x - y||^2 / (2 bandwidth^2))` on these scaled candidates, and sample exactly `k`
    of them from the k-DPP with that L-ensemble (Kulesza & Taskar 2012, Alg. 8 then Alg. 1).
    The chosen candidates are returned divided by `sigma`, i.e. on the N(0, I) scale.
    """

    name = "dpp"

    # Relative eigenvalue floor, i.e. L + eps * lambda_max * I: with few dimensions and many
    # candidates the RBF kernel is numerically rank-deficient, and a k-DPP needs k strictly
    # positive eigenvalues to be defined. Adding a multiple of I keeps the eigenvectors.
    _JITTER = 1e-10

    def __init__(self, sigma: float = 0.1, bandwidth: float = 0.5, oversample: int = 5) -> None:
        super().__init__(sigma)
        if not bandwidth > 0:
            raise ValueError(f"DPPSampler bandwidth must be > 0, got {bandwidth}")
        if int(oversample) != oversample or oversample < 1:
            raise ValueError(f"DPPSampler oversample must be an integer >= 1, got {oversample}")
        self.bandwidth = float(bandwidth)
        self.oversample = int(oversample)

    def __repr__(self) -> str:
        return (f"DPPSampler(sigma={self.sigma}, bandwidth={self.bandwidth}, "
                f"oversample={self.oversample})")

    def kernel(self, candidates: Tensor) -> Tensor:
        """RBF L-ensemble `[m, m]` (float64) on the candidates exactly as given."""
        x = candidates.to(torch.float64)
        sq = torch.cdist(x, x).square()
        return torch.exp(-sq / (2.0 * self.bandwidth ** 2))

    def _row(self, gen: torch.Generator, k: int, dim: int) -> Tensor:
        g = torch.randn(self.oversample * k, dim, generator=gen, dtype=torch.float64)
        idx = self.select(self.sigma * g, k, gen)
        # Indexing the unscaled draws is the same as dividing by sigma, without the rounding.
        return g[idx]

    def select(self, candidates: Tensor, k: int, generator: torch.Generator) -> Tensor:
        """Indices `LongTensor[k]` of a k-DPP sample over `candidates` `[m, dim]`."""
        m = candidates.shape[0]
        if not 1 <= k <= m:
            raise ValueError(f"k-DPP needs 1 <= k <= number of candidates, got k={k}, m={m}")
        lam, vecs = torch.linalg.eigh(self.kernel(candidates))
        lam = lam.clamp(min=0.0)
        lam = lam + self._JITTER * max(float(lam.max()), 1e-300)
        chosen = _choose_eigenvectors(lam, k, generator)
        return _sample_from_basis(vecs[:, chosen], generator)


def _choose_eigenvectors(lam: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """Kulesza & Taskar Alg. 8: pick k eigen-indices with P proportional to prod(lam_J).

    Scalar recursions, so they run on numpy arrays and Python floats (a tenth of the time
    of the same loops over torch tensors); the uniforms come from the torch generator."""
    log_lam = np.log(lam.numpy())
    n_items = len(log_lam)
    # Elementary symmetric polynomials e_l(lam_1..lam_n) in log space: they span hundreds of
    # orders of magnitude (near-zero RBF eigenvalues, binomial growth in n), and the sampling
    # step only needs their ratios.
    log_e = np.full((k + 1, n_items + 1), -np.inf)
    log_e[0, :] = 0.0
    for n in range(1, n_items + 1):
        log_e[1:, n] = np.logaddexp(log_e[1:, n - 1], log_lam[n - 1] + log_e[:-1, n - 1])
    u = np.log(torch.rand(n_items, generator=generator, dtype=torch.float64).numpy())
    picked = []
    remaining = k
    for n in range(n_items, 0, -1):
        if remaining == 0:
            break
        log_p = log_lam[n - 1] + log_e[remaining - 1, n - 1] - log_e[remaining, n]
        if u[n - 1] < log_p:
            picked.append(n - 1)
            remaining -= 1
    if remaining != 0:  # only reachable if e_k underflowed to zero despite the jitter
        raise RuntimeError("k-DPP eigenvector selection failed: kernel has fewer than k "
                           "numerically positive eigenvalues")
    return torch.tensor(picked, dtype=torch.long)


def _sample_from_basis(v: Tensor, generator: torch.Generator) -> Tensor:
    """Kulesza & Taskar Alg. 1, phase 2: sample the k items of the elementary (projection)
    DPP with kernel K = v v^T, `v` [m, k] orthonormal.

    By the chain rule, after picking the set S the next item is i with probability
    proportional to K_ii - K_iS K_SS^-1 K_Si, the squared norm of v's row i projected off
    the rows picked so far: the same distribution as the algorithm's re-orthonormalised
    basis, computed with one incremental Cholesky column per pick instead of a QR per
    pick. Numpy arrays; the uniforms come from the torch generator."""
    v = v.numpy()
    m, k = v.shape
    K = v @ v.T
    residual = np.diag(K).copy()
    chol = np.zeros((k, m))
    uniforms = torch.rand(k, generator=generator, dtype=torch.float64).numpy()
    items: list[int] = []
    for step in range(k):
        probs = np.maximum(residual, 0.0)
        # Picked items have zero residual in exact arithmetic; forcing it keeps the sample
        # a set even when rounding leaves a tiny residue.
        probs[items] = 0.0
        cdf = np.cumsum(probs)
        # the first i with cdf[i] > u * total: item i with probability probs[i] / total
        i = int(min(np.searchsorted(cdf, uniforms[step] * cdf[-1], side="right"), m - 1))
        items.append(i)
        column = (K[i] - chol[:step].T @ chol[:step, i]) / np.sqrt(residual[i])
        chol[step] = column
        residual -= np.square(column)
    return torch.tensor(items, dtype=torch.long)


SAMPLERS = Registry("sampler", "es.directions", {
    "gaussian": "es.directions:GaussianSampler",
    "antithetic": "es.directions:AntitheticSampler",
    "orthogonal": "es.directions:OrthogonalSampler",
    "dpp": "es.directions:DPPSampler",
})


def make_sampler(name: str, **kwargs: float) -> Sampler:
    """The sampler registered as `name`, constructed with `kwargs`."""
    return SAMPLERS.load(name)(**kwargs)
