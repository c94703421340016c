"""`python -m reproductions.worker RUN_DIR new|resume`: train one prepared run directory.

Kept for scripts that call it; the worker is `workbench.experiment.worker_main`, which the
experiment runner starts as `python -m workbench.experiment` for `--jobs` > 1.
"""

from __future__ import annotations

import sys

from workbench.experiment import worker_main as main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
