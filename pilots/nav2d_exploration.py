"""Why do ES-MAML's exploration rollouts collapse on Navigation-2D (issue 24, Fig. A4)?

Trains ES-MAML (MC, K = 20, a4's settings) with one factor changed at a time from a4's
setting (policy H, adapt_sigma 0.1, state normalisation on, actions clipped to +-0.1), then
measures on the final meta-policy: the exploration spread (RMS distance of the K
exploration rollouts' end points from their centroid, `Algorithm.exploration_spread`), the
share of action components at their limit along the exploration rollouts (clip: |tanh z| >=
0.1, where the clip takes over; scale: |tanh z| >= 0.9, tanh's flat ends), the
median |pre-tanh output| there, and the post-adaptation test return.

    python -m pilots.nav2d_exploration --out DIR [--iterations 150] [--seeds 2]

Runs resume; a finished run is reused. One process, one thread per run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pilots import final, train
from workbench.metrics import TEST_PRE
from workbench.policies import PolicySpec
from workbench.app.run import load_run

#: a4's ES-MAML setting, then one factor changed at a time.
BASE = {"adaptation": "mc", "K": 20, "policy": "H"}
FACTORS = {
    "a4": {},
    "policy-L": {"policy": "L"},
    "adapt_sigma-0.3": {"adapt_sigma": 0.3},
    "adapt_sigma-1.0": {"adapt_sigma": 1.0},
    "no-state-norm": {"state_normalization": False},
    "actions-scale": {"task.actions": "scale"},
}
PICTURE_SEED = 20200426


def train_factor(out: Path, name: str, seed: int, iterations: int) -> Path:
    sets = {**BASE, **FACTORS[name], "iterations": iterations, "eval_every": 25}
    return train(out / name, "es-maml", "nav2d", sets, seed)


def measure(path: Path) -> dict[str, float]:
    algo, config, iteration, _ = load_run(path)
    tasks = algo.family.test_ids[:4]
    spread = algo.exploration_spread(tasks, PICTURE_SEED)
    # pre-tanh outputs of the K perturbed policies along their own exploration paths
    K, sigma = int(config["K"]), float(config["adapt_sigma"])
    linear = PolicySpec(algo.spec.obs_dim, algo.spec.act_dim, algo.spec.hidden,
                        algo.spec.activation, "linear", algo.spec.init_scheme)
    g = torch.Generator().manual_seed(PICTURE_SEED)
    z_all = []
    for task in tasks.tolist():
        paths = algo.exploration_samples(int(task), PICTURE_SEED + int(task))  # [T + 1, K, 2]
        thetas = algo.theta + sigma * torch.randn(K, algo.theta.numel(), generator=g,
                                                  dtype=algo.theta.dtype)
        obs = algo.normalizer(paths[:-1].permute(1, 0, 2).double())  # [K, T, 2]
        z_all.append(linear.forward(thetas, obs).reshape(-1))
    z = torch.cat(z_all).abs()
    # clip: an output is graded only inside +-0.1; scale: only away from tanh's flat ends
    at_limit = 0.1 if config["task"]["actions"] == "clip" else 0.9
    return {"iteration": iteration, "spread": spread,
            "saturated": float((torch.tanh(z) >= at_limit).double().mean()),
            "median_abs_z": float(z.median()),
            "post": final(path, last=1), "pre": final(path, TEST_PRE, last=1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--iterations", type=int, default=150)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--factors", default=",".join(FACTORS))
    args = p.parse_args()
    torch.set_num_threads(1)
    print("factor | seed | spread | saturated | median |z| | pre | post", flush=True)
    for name in args.factors.split(","):
        for seed in range(args.seeds):
            m = measure(train_factor(args.out, name, seed, args.iterations))
            print(f"{name} | {seed} | {m['spread']:.3f} | {m['saturated']:.2f} | "
                  f"{m['median_abs_z']:.3f} | {m['pre']:.1f} | {m['post']:.1f}", flush=True)


if __name__ == "__main__":
    main()
