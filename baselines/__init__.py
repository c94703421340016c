"""Policy-gradient MAML baselines (MAML-TRPO, ProMP, DiCE) on the workbench's policies and tasks.

Builds on `workbench` only; never imports `es`.
"""
