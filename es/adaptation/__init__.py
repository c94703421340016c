"""The adaptation-operator registry: U(theta, T) by name.

Adding an operator is one file plus one line in `REGISTRY` (or, from another package, an
entry point in the group `es.adaptation` naming `module:Class`).
"""

from __future__ import annotations

from typing import Any

from es.adaptation.base import AdaptationOperator, Adapted
from workbench.registry import Registry

REGISTRY = Registry("adaptation", "es.adaptation", {
    "mc": "es.adaptation.mc:MonteCarloStep",
    "dpp": "es.adaptation.mc:DPPStep",
    "hc": "es.adaptation.hc:HillClimb",
    "exact-gradient": "es.adaptation.exact:ExactGradientStep",
    "rbo": "es.adaptation.rbo:RegressionStep",
    "asebo": "es.adaptation.asebo:ActiveSubspaceStep",
})


def available() -> dict[str, str]:
    return REGISTRY.names()


def operator_class(name: str) -> type[AdaptationOperator]:
    return REGISTRY.load(name)


def make_operator(name: str, **kwargs: Any) -> AdaptationOperator:
    """The operator `name` with K, sigma, alpha and its own options."""
    return operator_class(name)(**kwargs)


__all__ = ["AdaptationOperator", "Adapted", "REGISTRY", "available", "make_operator",
           "operator_class"]
