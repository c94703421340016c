"""The adaptation-operator registry: U(theta, T) by name.

Adding an operator is one file plus one line in `REGISTRY` (or, from another package, an
entry point in the group `es.adaptation` naming `module:Class`).
"""

from __future__ import annotations

from typing import Any

from workbench import registry
from es.adaptation.base import AdaptationOperator, Adapted

REGISTRY: dict[str, str] = {
    "mc": "es.adaptation.mc:MonteCarloStep",
    "dpp": "es.adaptation.mc:DPPStep",
    "hc": "es.adaptation.hc:HillClimb",
    "exact-gradient": "es.adaptation.exact:ExactGradientStep",
    "rbo": "es.adaptation.rbo:RegressionStep",
    "asebo": "es.adaptation.asebo:ActiveSubspaceStep",
}


def available() -> dict[str, str]:
    return registry.merged(REGISTRY, "es.adaptation")


def make_operator(name: str, **kwargs: Any) -> AdaptationOperator:
    """The operator `name` with K, sigma, alpha and its own options."""
    return registry.load(REGISTRY, "es.adaptation", name, "adaptation")(**kwargs)


__all__ = ["AdaptationOperator", "Adapted", "REGISTRY", "available", "make_operator"]
