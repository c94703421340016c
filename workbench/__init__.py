"""Shared foundation of the ES-MAML workbench.

The library: policies, task families with batched simulators, the rollout engine,
observation normalisation, seeding, config primitives, backends and the algorithm
contract; the application that drives it (the command line, runs, jobs, reports) is
`workbench.app`. The algorithm packages (`es`, `baselines`) build on this one; it never
imports them (the command finds them through entry points).
"""

__version__ = "0.1.0"
