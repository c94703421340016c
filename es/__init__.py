"""ES-MAML (Song et al., ICLR 2020): samplers, ES estimators, adaptation operators, trainers.

Builds on `workbench` only; never imports `baselines`.
"""
