"""Sine models evaluated at other support sizes: trained at one K, adapted with another.

MAML's paper trains its sine model once, with K = 10, and fine-tunes it on K = 5, 10 and 20
points; the a6 runs train one model per K. This pilot loads each given run's last
checkpoint with K replaced (`workbench.app.run.load_run`), evaluates it on 1,000 test
adaptations (the 100 test tasks, 10 support sets each) and prints the held-out MSE after
1, 2 and 3 gradient steps. Works for `maml` and `es-maml` (exact-gradient) runs alike.

Run: `python -m pilots.sine_cross_k RUN_DIR [RUN_DIR ...]` (seconds each).
"""

from __future__ import annotations

import argparse

import torch

from workbench.metrics import post_after_steps
from workbench.app.run import load_run

K_EVAL = (5, 10, 20)


def cross(path: str, ks: tuple[int, ...] = K_EVAL, adaptations: int = 1000) -> dict:
    """(K at test, steps) -> mean held-out MSE of the run's last checkpoint."""
    out = {}
    for k in ks:
        algo, _, iteration, _ = load_run(path, K=k, eval_adaptations=adaptations)
        try:
            with torch.no_grad():
                result = algo.evaluate(max(iteration - 1, 0))
        finally:
            algo.close()
        for steps in (1, 2, 3):
            out[(k, steps)] = -result.extras[post_after_steps(steps)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("| run | " + " | ".join(f"K={k}, {s} step{'s' if s > 1 else ''}" for k in K_EVAL
                                   for s in (1, 2, 3)) + " |")
    print("|---" * (1 + 3 * len(K_EVAL)) + "|")
    for path in args.runs:
        row = cross(path)
        print(f"| {path} | " + " | ".join(f"{row[(k, s)]:.3f}" for k in K_EVAL
                                          for s in (1, 2, 3)) + " |")


if __name__ == "__main__":
    main()
