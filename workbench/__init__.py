"""Shared foundation of the ES-MAML workbench.

Policies, task families with batched simulators, the rollout engine, observation
normalisation and the command line. The algorithm packages (`es`, `baselines`) build on
this one; it never imports them (the CLI finds them through entry points).
"""

__version__ = "0.1.0"
