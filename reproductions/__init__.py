"""One spec per figure of the ES-MAML paper, the runner that executes them, plots and reports.

Imports `es` and `baselines`, which import `workbench`; nothing imports this package.
"""
