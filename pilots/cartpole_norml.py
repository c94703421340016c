"""Why does ES-MAML close so little of CartPole's adaptation gap under NoRML's view (issue 24)?

Under `task.observation=norml` (no velocities) the per-task optimum holds 500 and the
task-blind ceiling is near 100 (docs/calibration), yet ES-MAML (MC, K = 20, policy L) ends
near 130. This pilot trains ES-MAML with one factor changed at a time from fig4's setting
(MC, K = 20, L, adapt_sigma 0.1, alpha 0.05, z-scored adaptation values, state
normalisation on; fig4's 500 iterations: at 200 the runs have barely started) and prints each run's final pre- and post-adaptation test returns (mean
of the last 3 evaluations).

    python -m pilots.cartpole_norml --out DIR [--iterations 500] [--seeds 2]

`--operator-sweep RUN_DIR [RUN_DIR ...]` separates the operator from meta-training: it
takes each finished run's meta-policy as it is and evaluates one adaptation step on the
test tasks with other adapt_sigma, alpha (alpha / sigma kept, or the step scaled) and K.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pilots import final, train
from workbench.metrics import TEST_PRE
from workbench.app.run import load_run

#: Operator settings evaluated on a fixed meta-policy: (adapt_sigma, alpha, K).
SWEEP = [(0.1, 0.05, 20), (0.03, 0.015, 20), (0.01, 0.005, 20), (0.003, 0.0015, 20),
         (0.1, 0.2, 20), (0.1, 0.0125, 20), (0.1, 0.05, 100), (0.01, 0.005, 100)]


def operator_sweep(run_dirs: list[Path]) -> None:
    print("run | adapt_sigma | alpha | K | pre | post", flush=True)
    for path in run_dirs:
        for sigma, alpha, k in SWEEP:
            algo, _, iteration, _ = load_run(path, adapt_sigma=sigma, alpha=alpha, K=k)
            with torch.no_grad():
                result = algo.evaluate(iteration)
            print(f"{path} | {sigma} | {alpha} | {k} | {result.pre_return:.1f} | "
                  f"{result.post_return:.1f}", flush=True)

BASE = {"adaptation": "mc", "K": 20, "policy": "L", "task.observation": "norml",
        "eval_every": 20}
#: One factor at a time. With z-scored values the MC step's length is set by alpha / sigma
#: (the z-scores have unit spread whatever the landscape), so the sigma factors keep
#: alpha / sigma fixed: they change only how wide the K queries look.
FACTORS = {
    "fig4": {},
    "adapt_sigma-0.01": {"adapt_sigma": 0.01, "alpha": 0.005},
    "adapt_sigma-0.03": {"adapt_sigma": 0.03, "alpha": 0.015},
    "alpha-0.2": {"alpha": 0.2},
    "alpha-0.0125": {"alpha": 0.0125},
    "adapt-values-ranks": {"adapt_options.normalization": "ranks"},
    "no-state-norm": {"state_normalization": False},
    "K-100": {"K": 100},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--iterations", type=int, default=500)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--factors", default=",".join(FACTORS))
    p.add_argument("--operator-sweep", nargs="+", type=Path, default=None, metavar="RUN_DIR")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.operator_sweep:
        operator_sweep(args.operator_sweep)
        return
    print("factor | seed | pre | post", flush=True)
    for name in args.factors.split(","):
        for seed in range(args.seeds):
            path = train(args.out / name, "es-maml", "cartpole-biased",
                         {**BASE, **FACTORS[name], "iterations": args.iterations}, seed)
            print(f"{name} | {seed} | {final(path, TEST_PRE):.1f} | {final(path):.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
