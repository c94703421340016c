"""`python -m reproductions.worker RUN_DIR new|resume`: train one prepared run directory.

The runner writes a run's resolved `config.yaml` itself (so it can check a spec against an
existing run), then trains it here, in a process of its own when `--jobs` > 1.
"""

from __future__ import annotations

import sys

from workbench import config as cfg
from workbench import run as runmod


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("new", "resume"):
        print("usage: python -m reproductions.worker RUN_DIR new|resume", file=sys.stderr)
        return 2
    directory = runmod.RunDir(argv[0])
    summary = runmod.train(directory, cfg.load(directory.config), resume=argv[1] == "resume",
                           progress=False)
    return 3 if summary["stopped"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
