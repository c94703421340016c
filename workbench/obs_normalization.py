"""Global observation normalisation (ES-MAML A.7.1; ARS, Mania et al. 2018).

Statistics travel as one vector `[T, sum s, sum s^2]` (count, then per-dimension sums), so
workers' contributions merge by addition, and a Ray actor returns a few numbers instead of
its observations. Kept in float64: `sum s^2 / T - mean^2` loses too much in float32 over
millions of steps.

Float addition is not associative, and the normaliser feeds back into training, so the
rollout engine sums in one canonical order that does not depend on how a population is
split into batches (`chunk_stats`, `fold`): each rollout keeps its own running sums over
time; rollouts are grouped into chunks of `STATS_CHUNK` consecutive rows (aligned to the
population's row 0), each chunk summed row by row in order; then the chunks are summed in
order. A worker that evaluates whole chunks returns their sums, and the driver's `fold`
gives bitwise the number one process would have computed.
"""

from __future__ import annotations

import torch
from torch import Tensor

MIN_STD = 1e-8
#: Rows per chunk of the canonical reduction; backends split populations at multiples of it.
STATS_CHUNK = 64


def stats_of(obs: Tensor) -> Tensor:
    """`[T, sum s, sum s^2]` of observations `[..., obs_dim]`."""
    flat = obs.reshape(-1, obs.shape[-1]).to(torch.float64)
    count = torch.tensor([float(flat.shape[0])], dtype=torch.float64)
    return torch.cat([count, flat.sum(0), flat.square().sum(0)])


def chunk_stats(per_row: Tensor) -> Tensor:
    """Per-rollout statistics `[N, W]` -> chunk sums `[ceil(N / STATS_CHUNK), W]`.

    Row j of a chunk is added after row j - 1, elementwise, so a chunk's sum is the same
    whatever else is in the batch.
    """
    n, w = per_row.shape
    chunks = -(-n // STATS_CHUNK)
    padded = torch.zeros(chunks * STATS_CHUNK, w, dtype=torch.float64)
    padded[:n] = per_row
    padded = padded.reshape(chunks, STATS_CHUNK, w)
    total = padded[:, 0].clone()
    for j in range(1, STATS_CHUNK):
        total += padded[:, j]
    return total


def fold(chunks: Tensor) -> Tensor:
    """Chunk sums `[C, W]` -> one statistics vector `[W]`, summed in chunk order."""
    total = torch.zeros(chunks.shape[1], dtype=torch.float64)
    for row in chunks:
        total += row
    return total


class Normalizer:
    """A running mean/std of observations; `(s - mean) / std` with a zero std read as 1."""

    def __init__(self, obs_dim: int, enabled: bool = True) -> None:
        self.obs_dim = obs_dim
        self.enabled = enabled
        self.stats = torch.zeros(1 + 2 * obs_dim, dtype=torch.float64)

    def update(self, stats: Tensor) -> None:
        if stats.shape != self.stats.shape:
            raise ValueError(f"statistics have shape {tuple(stats.shape)}; expected "
                             f"[{self.stats.shape[0]}] = [T, sum s ({self.obs_dim}), "
                             f"sum s^2 ({self.obs_dim})]")
        self.stats = self.stats + stats.to(torch.float64)

    @property
    def count(self) -> float:
        return float(self.stats[0])

    @property
    def mean(self) -> Tensor:
        if self.count == 0:
            return torch.zeros(self.obs_dim, dtype=torch.float64)
        return self.stats[1:1 + self.obs_dim] / self.count

    @property
    def std(self) -> Tensor:
        if self.count == 0:
            return torch.ones(self.obs_dim, dtype=torch.float64)
        var = self.stats[1 + self.obs_dim:] / self.count - self.mean.square()
        std = var.clamp(min=0.0).sqrt()
        return torch.where(std < MIN_STD, torch.ones_like(std), std)

    def transform(self) -> tuple[Tensor, Tensor]:
        """`(mean, 1/std)` to apply as `(s - mean) * inv_std`; identity when disabled."""
        if not self.enabled:
            return torch.zeros(self.obs_dim, dtype=torch.float64), \
                torch.ones(self.obs_dim, dtype=torch.float64)
        return self.mean, 1.0 / self.std

    def __call__(self, obs: Tensor) -> Tensor:
        mean, inv_std = self.transform()
        return (obs - mean.to(obs.dtype)) * inv_std.to(obs.dtype)

    def state_dict(self) -> dict:
        return {"obs_dim": self.obs_dim, "enabled": self.enabled, "stats": self.stats.clone()}

    def load_state_dict(self, state: dict) -> None:
        if int(state["obs_dim"]) != self.obs_dim:
            raise ValueError(f"normaliser state is for obs_dim {state['obs_dim']}; "
                             f"this task has {self.obs_dim}")
        self.enabled = bool(state["enabled"])
        self.stats = state["stats"].to(torch.float64).clone()
