"""`mc`: one ES-gradient step, Alg. 3's U(theta, T) = theta + alpha * ESGrad(f_T, theta, K, sigma).

Forward-FD with the pivot f_T(theta) (A.7.2), values z-scored together with the pivot, and
no step where all K + 1 values are equal (as the reference: a flat Four-Corners landscape
carries no information). K + 1 rollouts per point, in one engine call.

`corrupt_fraction` > 0 adds N(0, corrupt_scale^2) to that fraction of each point's K raw
query values (the Fig. A3 robustness experiment; the same corruption `rbo` sees for the
same seeds, so the two operators are compared on identical data).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from es.adaptation.base import AdaptationOperator, Adapted, CorruptionOptions, sampled_values
from es.estimators import es_gradient
from es.directions import Sampler, make_sampler
from workbench.config import option
from workbench.objective import Objective


class MonteCarloStep(AdaptationOperator):
    name = "mc"
    Options = CorruptionOptions

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sampler = self.make_sampler()

    def make_sampler(self) -> Sampler:
        return make_sampler("gaussian", sigma=self.sigma)

    def __call__(self, objective: Objective, thetas: Tensor, tasks: Tensor,
                 seeds: Tensor) -> Adapted:
        dirs, pivot, z, skip, ev = sampled_values(self, objective, thetas, tasks, seeds)
        grad = es_gradient(z[:, 1:], dirs, self.sigma, "forward-fd", pivot=z[:, 0])
        grad = torch.where(skip.unsqueeze(1), torch.zeros_like(grad), grad)
        return Adapted(thetas + self.alpha * grad.to(thetas.dtype), pivot, [ev])


@dataclass(frozen=True)
class DPPOptions(CorruptionOptions):
    bandwidth: float = option(0.5, "RBF kernel bandwidth on the sigma-scaled candidates",
                              low=0.0, low_open=True)
    oversample: int = option(5, "candidates per direction drawn before the k-DPP picks K",
                             low=1)


class DPPStep(MonteCarloStep):
    """`dpp`: the same step with k-DPP directions (§3.3.1): diverse rather than i.i.d."""

    name = "dpp"
    Options = DPPOptions

    def make_sampler(self) -> Sampler:
        return make_sampler("dpp", sigma=self.sigma, bandwidth=self.options["bandwidth"],
                            oversample=self.options["oversample"])
