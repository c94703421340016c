"""The adaptation-operator interface U(theta, T), batched over a whole population.

An operator takes P parameter vectors, their P task ids and P integer seeds, and returns
the P adapted vectors, the value f_T(theta) it measured at each starting point (the
pre-adaptation value), and what it cost. Each phase inside an operator is one call of the
objective over the whole population, so the engine steps every query in lockstep.

Seeds: point p's randomness (its directions, its rollouts' reset noise) derives from
`seeds[p]` alone, so a slice of the population computed elsewhere (a Ray actor) gives the
same numbers.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from es.adaptation.corruption import corrupt
from es.estimators import NORMALIZATIONS, normalize_values
from workbench import recipes as wp
from workbench.config import Section, option
from workbench.objective import Evaluation, Objective
from workbench.seeding import derive_many

# Keys that separate a point's independent streams of randomness.
PIVOT_KEY, DIRECTIONS_KEY, QUERY_KEY = 1, 2, 3


@dataclass(frozen=True)
class Options(Section):
    """`adapt_options.*`: an operator's own keys; each operator subclasses this."""

    prefix = "adapt_options."


@dataclass(frozen=True)
class NormalizedOptions(Options):
    normalization: str = option("zscore", "value normalisation of the K + 1 query values",
                                choices=NORMALIZATIONS)


@dataclass(frozen=True)
class CorruptionOptions(NormalizedOptions):
    corrupt_fraction: float = option(0.0, "share of each point's K query values corrupted "
                                     "(Fig. A3)", low=0.0, high=1.0)
    corrupt_scale: float = option(1e6, "std of the N(0, scale^2) corruption", low=0.0)


@dataclass
class Adapted:
    thetas: Tensor  # [P, D] adapted parameters
    pre_values: Tensor  # [P] f_T at the starting point
    evaluations: list[Evaluation]  # every objective call the operator made


class AdaptationOperator(abc.ABC):
    """U(theta, T) with K queries of precision sigma and step size alpha."""

    name: ClassVar[str] = ""
    #: Operator-specific options (`adapt_options.*` in configs): types, ranges, defaults.
    Options: ClassVar[type[Options]] = Options

    def __init__(self, K: int = 20, sigma: float = 0.1, alpha: float = 0.05,
                 **options: Any) -> None:
        if int(K) < 1:
            raise ValueError(f"K (adaptation queries) must be >= 1; got {K}")
        if sigma <= 0:
            raise ValueError(f"adapt_sigma must be > 0; got {sigma}")
        self.K, self.sigma, self.alpha = int(K), float(sigma), float(alpha)
        self.options = self.Options.build(options).to_dict()
        #: Operators with learned state update it only while training (never on test tasks).
        self.training = True

    @abc.abstractmethod
    def __call__(self, objective: Objective, thetas: Tensor, tasks: Tensor,
                 seeds: Tensor) -> Adapted:
        """Adapt `thetas [P, D]` to `tasks [P]`."""

    def state_dict(self) -> dict[str, Any]:
        """Learned state carried across iterations (checkpointed); none by default."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def query(objective: Objective, thetas: Tensor, directions: Tensor, sigma: float,
          tasks: Tensor, seeds: Tensor) -> tuple[Tensor, Tensor, Evaluation]:
    """Pivots f(theta_p) and queries f(theta_p + sigma g_pk) in ONE objective call.

    Returns `(pivot [P], values [P, K], evaluation)`.
    """
    p, k, d = directions.shape
    # Described (workbench.recipes) so a remote backend can send thetas' recipe and the
    # direction seeds rather than P (K + 1) rows.
    points = wp.concat([thetas, wp.perturb(thetas, sigma, directions)])
    all_tasks = torch.cat([tasks, tasks.repeat_interleave(k)])
    all_seeds = torch.cat([derive_many(seeds, PIVOT_KEY),
                           derive_many(seeds.repeat_interleave(k), QUERY_KEY,
                                       torch.arange(k).repeat(p))])
    ev = objective(points, all_tasks, all_seeds)
    return ev.values[:p], ev.values[p:].reshape(p, k), ev


def sampled_values(operator: "AdaptationOperator", objective: Objective, thetas: Tensor,
                   tasks: Tensor, seeds: Tensor
                   ) -> tuple[Tensor, Tensor, Tensor, Tensor, Evaluation]:
    """The sampled query MC and RBO share: K directions per point from `operator.sampler`
    (drawn from the point's seed), the pivot and the K queries (`query`), corrupted as
    `corrupt_fraction` / `corrupt_scale` say, then z-scored together with the pivot
    (`normalization`). Returns `(directions [P, K, D], pivot [P] (raw values), z [P, K + 1]
    (pivot first), skip [P] (rows z-scoring left alone), evaluation)`."""
    dirs = operator.sampler.sample(derive_many(seeds, DIRECTIONS_KEY), operator.K,
                                   thetas.shape[1], dtype=thetas.dtype)
    pivot, values, ev = query(objective, thetas, dirs, operator.sigma, tasks, seeds)
    values = corrupt(values, float(operator.options["corrupt_fraction"]),
                     float(operator.options["corrupt_scale"]), seeds)
    z, skip = normalize_values(torch.cat([pivot.unsqueeze(1), values], 1),
                               operator.options["normalization"])
    return dirs, pivot, z, skip, ev
