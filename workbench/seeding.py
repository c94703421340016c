"""Counter-based random numbers: the same seed gives the same draws however rollouts are batched.

A rollout's reset noise must not depend on which other rollouts share its batch (or which
Ray actor runs it), so it is a pure function of the rollout's own integer seed. This is the
SplitMix64 generator (Steele, Lea & Flood 2014) vectorised over int64 tensors: seed `s`
gives the stream `mix(mix(s) + (j + 1) * GOLDEN)`, j = 0, 1, ...
"""

from __future__ import annotations

import torch
from torch import Tensor


def _signed(c: int) -> int:
    return c - (1 << 64) if c >= (1 << 63) else c


GOLDEN = _signed(0x9E3779B97F4A7C15)
_M1 = _signed(0xBF58476D1CE4E5B9)
_M2 = _signed(0x94D049BB133111EB)


def _shr(z: Tensor, k: int) -> Tensor:
    """Logical right shift of int64 (torch's `>>` is arithmetic)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def mix64(z: Tensor) -> Tensor:
    """SplitMix64's finaliser; int64 arithmetic wraps modulo 2**64."""
    z = (z ^ _shr(z, 30)) * _M1
    z = (z ^ _shr(z, 27)) * _M2
    return z ^ _shr(z, 31)


def uniform(seeds: Tensor, n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """`[B, n]` uniform numbers in [0, 1), row b a function of `seeds[b]` alone."""
    seeds = torch.as_tensor(seeds, dtype=torch.int64).reshape(-1, 1)
    steps = (torch.arange(1, n + 1, dtype=torch.int64) * GOLDEN).unsqueeze(0)
    bits = _shr(mix64(mix64(seeds) + steps), 11)
    return (bits.to(torch.float64) * 2.0 ** -53).to(dtype)


def derive(seed: int, *keys: int) -> int:
    """A child seed for `(seed, *keys)`, e.g. an iteration's seed from the run's seed."""
    return int(derive_many(torch.tensor([seed]), *keys)[0])


def derive_many(seeds: Tensor | int, *keys: Tensor | int) -> Tensor:
    """Vectorised `derive`: child seeds (non-negative int64), keys broadcast against seeds."""
    z = torch.as_tensor(seeds, dtype=torch.int64).clone()
    for k in keys:
        z = mix64(mix64(z) + torch.as_tensor(k, dtype=torch.int64))
    return _shr(z, 1)
