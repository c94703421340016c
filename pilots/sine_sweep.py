"""The sine sweep of docs/sine-sweep.md (issue 25): ES-MAML's sigma, perturbations and outer
optimiser for Fig. A6, each setting at the function-evaluation budget of 10,000 iterations
at n = 50, judged by the mean test MSE over its last 20% of iterations. The rule (in the
page, and in `RULE` below) was written before any of these runs.

`python -m pilots.sine_sweep --out DIR [--jobs 2] [--stage base|n|seeds]`:
`base` runs S1-S4 and A1-A4; `n` the best of them at n = 150; `beta` (stage B, added
after the base results and before its runs: the SGD curves looked like a step-size noise
floor) the best SGD sigma with beta / sigma = 0.03 and 0.01; `seeds` the winner and the
runner-up over every setting on seed 1. Runs resume or are reused when re-run; the table prints at the end.
"""

from __future__ import annotations

import argparse
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pilots import final_share, train

#: What every setting shares (the a6 spec's fixed keys, K = 5).
FIXED = {"K": 5, "adaptation": "exact-gradient", "alpha": 0.01, "estimator": "antithetic",
         "common_tasks": True, "task_batch": 5, "task.num_points": 50,
         "num_current_evals": 1, "init": "maml"}
#: Function evaluations per setting: 10,000 iterations x (50 + 1) points x 5 tasks.
EVALUATIONS = 10_000 * 51 * 5
SIGMAS = (0.003, 0.01, 0.03, 0.1)


def setting(optimizer: str, sigma: float, n: int, ratio: float = 0.1) -> dict:
    """`ratio`: beta / sigma for SGD (under z-scoring the step grows as beta / sigma)."""
    iterations = EVALUATIONS // ((n + 1) * 5)
    beta = round(sigma * ratio, 10) if optimizer == "sgd" else 1e-3
    return {**FIXED, "optimizer": optimizer, "sigma": sigma, "beta": beta,
            "num_perturbations": n, "iterations": iterations,
            "eval_every": max(1, iterations // 40), "checkpoint_every": 1000}


def name(s: dict) -> str:
    ratio = "" if s["optimizer"] != "sgd" or s["beta"] == round(s["sigma"] / 10, 10) else \
        f"_beta{s['beta']:g}"
    return f"{s['optimizer']}_sigma{s['sigma']}_n{s['num_perturbations']}{ratio}"


BASE = [setting(opt, sigma, 50) for opt in ("sgd", "adam") for sigma in SIGMAS]


def score(out: Path, s: dict, seed: int) -> float:
    path = out / name(s) / f"seed{seed}"
    try:
        return -final_share(path, 0.2)
    except (FileNotFoundError, ZeroDivisionError):
        return math.inf


def run_all(out: Path, pairs: list[tuple[dict, int]], jobs: int) -> None:
    def one(pair):
        s, seed = pair
        try:
            train(out / name(s), "es-maml", "sine", s, seed)
        except Exception as err:  # a diverged run scores infinity (the rule)
            print(f"{name(s)} seed {seed}: {err}")
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, pairs))


def ranked(out: Path, settings: list[dict]) -> list[tuple[float, dict]]:
    return sorted(((score(out, s, 0), s) for s in settings), key=lambda t: t[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--stage", choices=("base", "n", "beta", "seeds", "table"),
                    default="table")
    args = ap.parse_args()
    if args.stage == "base":
        run_all(args.out, [(s, 0) for s in BASE], args.jobs)
    best = ranked(args.out, BASE)[0][1]
    wide = setting(best["optimizer"], best["sigma"], 150)
    if args.stage == "n":
        run_all(args.out, [(wide, 0)], args.jobs)
    smaller = [setting("sgd", best["sigma"], 50, r) for r in (0.03, 0.01)] \
        if best["optimizer"] == "sgd" else []
    if args.stage == "beta":
        run_all(args.out, [(s, 0) for s in smaller], args.jobs)
    everything = ranked(args.out, BASE + [wide] + smaller)
    finalists = [s for _, s in everything[:2]]
    if args.stage == "seeds":
        run_all(args.out, [(s, 1) for s in finalists], args.jobs)
    print("| setting | optimizer | sigma | beta | n | iterations | final MSE seed 0 | seed 1 |")
    print("|---|---|---|---|---|---|---|---|")
    for value, s in everything:
        other = score(args.out, s, 1)
        print(f"| {name(s)} | {s['optimizer']} | {s['sigma']} | {s['beta']:g} | "
              f"{s['num_perturbations']} | {s['iterations']} | {value:.3f} | "
              f"{'' if math.isinf(other) else f'{other:.3f}'} |")
    means = {name(s): (score(args.out, s, 0) + score(args.out, s, 1)) / 2 for s in finalists}
    print("finalists' mean over seeds 0 and 1:", {k: round(v, 3) for k, v in means.items()})


if __name__ == "__main__":
    main()
