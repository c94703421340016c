"""`hc`: hill climbing (§3.3.2), a monotone local search around theta.

Start from the incumbent theta with its value f_T(theta); for K iterations perturb the
incumbent by sigma * N(0, I) and keep the candidate only if it is strictly better. The
returned policy is never worse than the start (on a deterministic task). Modes, as the
reference: `batch` draws `population` candidates per iteration and keeps the best;
`average` draws one and scores it by the mean of `population` rollouts (for noisy tasks).
In both modes the starting value is the mean of `population` rollouts of theta, as the
reference scores its starting point over the whole population.
Cost: population * (1 + K) rollouts per point in both modes; each iteration is one engine
call.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dataclasses import dataclass

from es.adaptation.base import (DIRECTIONS_KEY, PIVOT_KEY, QUERY_KEY, AdaptationOperator,
                                Adapted, Options)
from workbench.config import option
from es.directions import make_sampler
from workbench import recipes as wp
from workbench.objective import Objective
from workbench.seeding import derive_many

MODES = ("batch", "average")


@dataclass(frozen=True)
class HillClimbOptions(Options):
    mode: str = option("batch", "batch: best of `population` candidates per iteration; "
                       "average: one candidate scored by `population` rollouts", choices=MODES)
    population: int = option(1, "candidates (batch) or rollouts per score (average)", low=1)


class HillClimb(AdaptationOperator):
    name = "hc"
    Options = HillClimbOptions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sampler = make_sampler("gaussian", sigma=self.sigma)

    def _score(self, objective: Objective, points: Tensor, tasks: Tensor, seeds: Tensor,
               repeats: int, evaluations: list) -> Tensor:
        """Mean value over `repeats` rollouts of each point: `[P]`."""
        p = points.shape[0]
        ev = objective(wp.repeat_rows(points, repeats), tasks.repeat_interleave(repeats),
                       derive_many(seeds.repeat_interleave(repeats), torch.arange(repeats).repeat(p)))
        evaluations.append(ev)
        return ev.values.reshape(p, repeats).mean(1)

    def __call__(self, objective: Objective, thetas: Tensor, tasks: Tensor,
                 seeds: Tensor) -> Adapted:
        p, d = thetas.shape
        b = int(self.options["population"])
        average = self.options["mode"] == "average"
        evaluations: list = []
        best = thetas  # replaced, never written in place; keeps thetas' recipe
        best_value = self._score(objective, best, tasks, derive_many(seeds, PIVOT_KEY), b,
                                 evaluations)
        pre_value = best_value.clone()
        for it in range(self.K):
            it_seeds = derive_many(seeds, QUERY_KEY, it)
            dirs = self.sampler.sample(derive_many(it_seeds, DIRECTIONS_KEY), 1 if average else b,
                                       d, dtype=thetas.dtype)
            # [P, c, D]: best travels as rows (it depends on earlier values), dirs as seeds
            flat = wp.perturb(best, self.sigma, dirs)
            cands = flat.reshape(p, -1, d)
            if average:
                values = self._score(objective, flat, tasks, it_seeds, b, evaluations)
                pick = cands[:, 0]
            else:
                ev = objective(flat, tasks.repeat_interleave(b),
                               derive_many(it_seeds.repeat_interleave(b), torch.arange(b).repeat(p)))
                evaluations.append(ev)
                values, j = ev.values.reshape(p, b).max(1)
                pick = cands[torch.arange(p), j]
            better = values > best_value
            best = torch.where(better.unsqueeze(1), pick, best)
            best_value = torch.where(better, values, best_value)
        return Adapted(best, pre_value, evaluations)
