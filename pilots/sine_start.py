"""Why one inner step blows up the sine network's start, and what MAML's initialisation does.

For each initialisation and seed, the ES-MAML trainer of Fig. A6 (exact-gradient
adaptation, alpha = 0.01, K = 5) is built and evaluated at iteration 0 exactly as a run's
first test evaluation: support-set MSE before the step, held-out MSE before and after it.

The cause is read off the curvature. On the K support points the MSE is
L(theta) = (1/K) |r|^2 with residuals r = f_theta(x) - y, and one step moves the
predictions by about -alpha (2/K) J J^T r (J the K x D Jacobian of the predictions): the
linearised residual after the step is (I - alpha G) r with G = (2/K) J J^T, the
Gauss-Newton curvature seen in function space. Along G's top eigenvector the residual is
multiplied by |1 - alpha lambda_max|; gradient descent is stable only where
alpha lambda_max < 2. The table gives alpha lambda_max (median over the test adaptations),
the share above 2, and the support-set MSE after the step as measured and as the
linearisation predicts it.

Run: `python -m pilots.sine_start [--K 5] [--seeds 3]` (seconds).
"""

from __future__ import annotations

import argparse

import torch

from es.sine_diagnostics import SETS, start
from es.trainer import ESMAML
from workbench.app.jobs import resolved_config


def trainer(init: str, seed: int, K: int) -> ESMAML:
    config = resolved_config("es-maml", "sine", [*SETS, f"K={K}", f"init={init}"], seed, "local")
    return ESMAML(config)

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--K", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"K = {args.K}, alpha = 0.01, iteration 0's test evaluation (200 adaptations); "
          f"MSEs are means over the adaptations, alpha lambda_max the median")
    rows = [(init, seed, start(trainer(init, seed, args.K)))
            for init in ("normal", "maml") for seed in range(args.seeds)]
    keys = list(rows[0][2])
    print("| init | seed | " + " | ".join(keys) + " | held-out after / before |")
    print("|---" * (len(keys) + 3) + "|")
    for init, seed, row in rows:
        ratio = row["held-out after"] / row["held-out before"]
        print(f"| {init} | {seed} | " + " | ".join(f"{v:.3g}" for v in row.values())
              + f" | {ratio:.3g} |")


if __name__ == "__main__":
    main()
