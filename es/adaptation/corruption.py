"""Gross corruption of adaptation queries, for the noise-robustness experiment (Fig. A3).

The paper corrupts 25% of the queries f_T(theta + sigma g) that feed the adaptation
operator with "an enormous additive noise" (as Choromanski et al. 2019c). `corrupt` does
that, deterministically: for point p, which of its K queries are hit and by how much is a
function of `seeds[p]` alone (through the counter-based generator of `workbench.seeding`),
so a slice of the population corrupted elsewhere gets the same numbers.

Exactly `floor(fraction * K + 1/2)` queries of each point are corrupted (chosen as a
uniformly random subset), each by an independent N(0, scale^2) value.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from workbench.seeding import derive_many, uniform

__all__ = ["CORRUPTION_KEY", "corrupt", "num_corrupted"]

#: Key of the corruption stream, distinct from the operators' PIVOT/DIRECTIONS/QUERY keys
#: (1, 2, 3 in `es.adaptation.base`) so corrupting leaves every other draw unchanged.
CORRUPTION_KEY = 0xC0


def num_corrupted(fraction: float, k: int) -> int:
    """How many of `k` queries `corrupt` hits: `fraction * k` rounded half up."""
    return int(math.floor(float(fraction) * int(k) + 0.5))


def corrupt(values: Tensor, fraction: float, scale: float, seeds: Tensor) -> Tensor:
    """`values [P, K]` with `num_corrupted(fraction, K)` entries per row plus N(0, scale^2).

    `seeds [P]` are the points' own seeds (the ones given to the operator); the corruption
    stream is derived from them under `CORRUPTION_KEY`. `fraction == 0` returns `values`
    itself, untouched.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"corrupt_fraction must be in [0, 1]; got {fraction}")
    if not scale >= 0.0:
        raise ValueError(f"corrupt_scale must be >= 0; got {scale}")
    if values.dim() != 2:
        raise ValueError(f"corrupt expects values [P, K]; got shape {tuple(values.shape)}")
    p, k = values.shape
    seeds = torch.as_tensor(seeds, dtype=torch.int64).reshape(-1)
    if seeds.numel() != p:
        raise ValueError(f"corrupt got {seeds.numel()} seeds for {p} rows of values")
    m = num_corrupted(fraction, k)
    if m == 0:
        return values
    u = uniform(derive_many(seeds, CORRUPTION_KEY), 3 * k)  # [P, 3K] float64 in [0, 1)
    # A uniformly random m-subset: the positions of the m smallest of K iid uniforms.
    hit = torch.zeros(p, k, dtype=torch.bool)
    hit.scatter_(1, torch.argsort(u[:, :k], dim=1, stable=True)[:, :m], True)
    # Box-Muller on the next 2K uniforms; 1 - u lies in (0, 1], so the log is finite.
    radius = torch.sqrt(-2.0 * torch.log1p(-u[:, k:2 * k]))
    noise = float(scale) * radius * torch.cos(2.0 * math.pi * u[:, 2 * k:])
    return values + torch.where(hit, noise, torch.zeros_like(noise)).to(values.dtype)
