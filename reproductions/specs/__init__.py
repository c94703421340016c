"""One module per paper figure; each defines `FIGURE`, registered in setup.cfg under the
entry-point group `workbench.figures` (a user's package can add figures the same way)."""
