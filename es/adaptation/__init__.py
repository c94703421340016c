"""The adaptation-operator registry: U(theta, T) by name.

Adding an operator is one file plus one line in `REGISTRY` (or, from another package, an
entry point in the group `es.adaptation` naming `module:Class`).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

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
    names = dict(REGISTRY)
    for ep in entry_points(group="es.adaptation"):
        names.setdefault(ep.name, ep.value)
    return names


def make_operator(name: str, **kwargs: Any) -> AdaptationOperator:
    """The operator `name` with K, sigma, alpha and its own options."""
    names = available()
    if name not in names:
        raise ValueError(f"unknown adaptation {name!r}; valid: {', '.join(sorted(names))}")
    module, cls = names[name].split(":")
    return getattr(importlib.import_module(module), cls)(**kwargs)


__all__ = ["AdaptationOperator", "Adapted", "REGISTRY", "available", "make_operator"]
