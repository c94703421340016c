"""Populations described by how to rebuild them, so a remote worker can regenerate its rows.

An ES phase evaluates points such as `theta + sigma * g_i`, whose directions `g_i` are a
pure function of integer seeds (`es.directions`). Shipping such a population to a Ray actor as
an `[N, D]` tensor costs `8 N D` bytes; shipping `theta`, `sigma` and the seeds costs
`8 D + 8 N`, and the actor regenerates the directions itself. A `Points` is that small
recipe: a tree of row-wise nodes (`Dense` rows, `Repeat`ed rows, `Seeded` noise, `Add`,
`Cat`) whose `slice(a, b)` keeps only what rows `[a, b)` need, and whose `materialize()`
gives rows bitwise equal to the same rows of the whole population (every node works row by
row with elementwise arithmetic: nothing is reduced across rows).

Tensors carry their recipe as an attribute: the helpers below (`perturb`, `concat`,
`repeat_rows`, `broadcast`) compute a tensor with the same torch operations as the plain
expression AND attach the recipe, and `recipe_of(t)` reads it back (falling back on
`Dense(t)`), so callers keep passing plain tensors and the local backend never looks at
recipes. A tensor changed in place after its recipe was attached (its `_version` moved) is
treated as dense; a tensor a recipe was built FROM that changed in place since makes
`slice` fail rather than send a stale population.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor

_ATTR = "_workbench_points"


class Points(abc.ABC):
    """`rows` parameter vectors of dimension `dim`, described rather than stored."""

    rows: int
    dim: int

    @abc.abstractmethod
    def materialize(self) -> Tensor:
        """The rows as a `[rows, dim]` tensor."""

    @abc.abstractmethod
    def slice(self, start: int, stop: int) -> "Points":
        """A recipe for rows `[start, stop)` that carries only what those rows need."""

    @abc.abstractmethod
    def nbytes(self) -> int:
        """Bytes of tensor payload the recipe carries (what it costs to send)."""

    def _check(self, start: int, stop: int) -> None:
        if not 0 <= start <= stop <= self.rows:
            raise ValueError(f"rows [{start}, {stop}) out of range for {self.rows} rows")


@dataclass(eq=False)
class Dense(Points):
    """Rows given explicitly."""

    data: Tensor  # [rows, dim]

    def __post_init__(self) -> None:
        self.rows, self.dim = self.data.shape
        self._version = self.data._version

    def __setstate__(self, state: dict) -> None:  # unpickled: a fresh tensor, version 0
        self.__dict__.update(state)
        self._version = self.data._version

    def materialize(self) -> Tensor:
        return self.data

    def slice(self, start: int, stop: int) -> "Dense":
        self._check(start, stop)
        if self.data._version != self._version:
            raise RuntimeError("a tensor was changed in place after a population was built "
                               "from it; its recipe no longer describes the population")
        # clone: a view would pickle its whole storage
        return Dense(self.data[start:stop].clone())

    def nbytes(self) -> int:
        return self.data.numel() * self.data.element_size()


@dataclass(eq=False)
class Repeat(Points):
    """Each row of `base` repeated `times` times (`repeat_interleave`), then rows
    `[offset, offset + count)` of that."""

    base: Points
    times: int
    offset: int = 0
    count: int | None = None

    def __post_init__(self) -> None:
        full = self.base.rows * self.times
        self.rows = full - self.offset if self.count is None else self.count
        self.dim = self.base.dim

    def materialize(self) -> Tensor:
        rows = self.base.materialize().repeat_interleave(self.times, 0)
        return rows[self.offset:self.offset + self.rows]

    def slice(self, start: int, stop: int) -> Points:
        self._check(start, stop)
        a, b = self.offset + start, self.offset + stop
        lo, hi = a // self.times, -(-b // self.times)
        return Repeat(self.base.slice(lo, max(lo, hi)), self.times, a - lo * self.times,
                      stop - start)

    def nbytes(self) -> int:
        return self.base.nbytes()


@dataclass(eq=False)
class Seeded(Points):
    """Noise regenerated from seeds: `sampler.sample(seeds, k, dim, dtype=...)` is
    `[B, k, dim]` with row b a function of `seeds[b]` alone (the `es.directions` contract);
    its `B k` rows flattened, then rows `[offset, offset + count)`. The sampler must be
    picklable and importable where the recipe is materialised."""

    sampler: Any = field(repr=False)
    seeds: Tensor  # [B] int64
    k: int
    dim: int
    dtype: torch.dtype
    offset: int = 0
    count: int | None = None

    def __post_init__(self) -> None:
        full = len(self.seeds) * self.k
        self.rows = full - self.offset if self.count is None else self.count

    def materialize(self) -> Tensor:
        noise = self.sampler.sample(self.seeds, self.k, self.dim, dtype=self.dtype)
        return noise.reshape(-1, self.dim)[self.offset:self.offset + self.rows]

    def slice(self, start: int, stop: int) -> "Seeded":
        self._check(start, stop)
        a, b = self.offset + start, self.offset + stop
        lo, hi = a // self.k, -(-b // self.k)
        return Seeded(self.sampler, self.seeds[lo:max(lo, hi)].clone(), self.k, self.dim,
                      self.dtype, a - lo * self.k, stop - start)

    def nbytes(self) -> int:
        return self.seeds.numel() * 8


@dataclass(eq=False)
class Add(Points):
    """`base + scale * noise`, row by row (the same two elementwise operations, in the same
    order, as the tensor expression it describes)."""

    base: Points
    scale: float
    noise: Points

    def __post_init__(self) -> None:
        if self.base.rows != self.noise.rows or self.base.dim != self.noise.dim:
            raise ValueError(f"cannot add {self.noise.rows}x{self.noise.dim} noise to "
                             f"{self.base.rows}x{self.base.dim} points")
        self.rows, self.dim = self.base.rows, self.base.dim

    def materialize(self) -> Tensor:
        return self.base.materialize() + self.scale * self.noise.materialize()

    def slice(self, start: int, stop: int) -> "Add":
        self._check(start, stop)
        return Add(self.base.slice(start, stop), self.scale, self.noise.slice(start, stop))

    def nbytes(self) -> int:
        return self.base.nbytes() + self.noise.nbytes() + 8


@dataclass(eq=False)
class Cat(Points):
    """Parts stacked along rows."""

    parts: list[Points]

    def __post_init__(self) -> None:
        if not self.parts:
            raise ValueError("Cat needs at least one part")
        self.rows = sum(p.rows for p in self.parts)
        self.dim = self.parts[0].dim

    def materialize(self) -> Tensor:
        return torch.cat([p.materialize() for p in self.parts])

    def slice(self, start: int, stop: int) -> Points:
        self._check(start, stop)
        kept, at = [], 0
        for p in self.parts:
            lo, hi = max(start, at), min(stop, at + p.rows)
            if lo < hi:
                kept.append(p.slice(lo - at, hi - at))
            at += p.rows
        if not kept:
            return Dense(torch.empty(0, self.dim, dtype=torch.float64))
        return kept[0] if len(kept) == 1 else Cat(kept)

    def nbytes(self) -> int:
        return sum(p.nbytes() for p in self.parts)


# -- tensors that carry their recipe ---------------------------------------------------
def describe(t: Tensor, recipe: Points) -> Tensor:
    """Attach `recipe` to `t` (which it must describe row for row) and return `t`.

    A recipe no smaller than the rows themselves is not attached: sending rows is simpler.
    """
    if recipe.rows != t.reshape(-1, t.shape[-1]).shape[0] or recipe.dim != t.shape[-1]:
        raise ValueError(f"a recipe of {recipe.rows}x{recipe.dim} cannot describe a tensor "
                         f"of shape {tuple(t.shape)}")
    if recipe.nbytes() < t.numel() * t.element_size():
        setattr(t, _ATTR, (recipe, t._version))
    return t


def recipe_of(t: Tensor) -> Points:
    """The recipe attached to `t` (rows of `t.reshape(-1, dim)`), else `Dense(t)`."""
    found: Any = getattr(t, _ATTR, None)
    if found is not None and found[1] == t._version:
        return found[0]
    return Dense(t.reshape(-1, t.shape[-1]))


def perturb(bases: Tensor, scale: float, noise: Tensor) -> Tensor:
    """`bases [P, D] + scale * noise [P, k, D]`, flattened to `[P k, D]`, described."""
    p, k, d = noise.shape
    out = (bases.unsqueeze(1) + scale * noise).reshape(p * k, d)
    return describe(out, Add(Repeat(recipe_of(bases), k), float(scale), recipe_of(noise)))


def concat(tensors: Sequence[Tensor]) -> Tensor:
    """`torch.cat` along rows, described by the parts' recipes."""
    return describe(torch.cat(list(tensors)), Cat([recipe_of(t) for t in tensors]))


def repeat_rows(t: Tensor, times: int) -> Tensor:
    """`t.repeat_interleave(times, 0)`, described."""
    return describe(t.repeat_interleave(times, 0), Repeat(recipe_of(t), int(times)))


def broadcast(vector: Tensor, n: int) -> Tensor:
    """`n` copies of `vector [D]` as a fresh `[n, D]` tensor, described by one row."""
    one = vector.reshape(1, -1)
    return describe(one.expand(n, -1).clone(), Repeat(Dense(one.clone()), int(n)))
