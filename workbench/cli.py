"""The `workbench` command line (also `python -m workbench`).

Sub-commands that belong to the algorithm packages (`train`, `evaluate`, `compare`,
`reproduce`) are found through the entry-point group `workbench.commands`, so this package
never imports `es`, `baselines` or `reproductions`. Each entry point names a function
`register(subparsers)` that adds its parser and sets `func`.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import entry_points

from workbench import __version__
from workbench.tasks import available


def _bench(args: argparse.Namespace) -> int:
    from workbench.bench import bench_rollouts
    if args.what != "rollouts":
        raise ValueError(f"unknown benchmark {args.what!r}")
    result = bench_rollouts(args.task, rollouts=args.rollouts, horizon=args.horizon,
                            policy=args.policy, threads=args.threads,
                            loop_rollouts=args.loop_rollouts, progress=not args.json)
    if not args.json:
        print(f"task {result['task']}: {result['rollouts']} rollouts x horizon "
              f"{result['horizon']}, policy {result['policy']}, {result['threads']} thread(s)")
        print(f"  batched engine   {result['engine_steps_per_s']:14,.0f} env-steps/s")
        print(f"  per-rollout loop {result['loop_steps_per_s']:14,.0f} env-steps/s "
              f"(first {result['loop_rollouts']} rollouts)")
        print(f"  engine / loop    {result['engine_over_loop']:14.1f}x")
    print(json.dumps(result))
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from workbench.tasks import family_class
    for name in sorted(available()):
        cls = family_class(name)
        params = ", ".join(f"{k}={v}" for k, v in cls.PARAMS.items()) or "-"
        print(f"{name:22s} obs {cls.obs_dim:3d}  act {cls.act_dim:2d}  horizon "
              f"{cls.default_horizon:4d}  task.* {params}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tasks = sub.add_parser("tasks", help="list the task families and their parameters")
    tasks.set_defaults(func=_tasks)

    bench = sub.add_parser("bench", help="throughput benchmarks, reported as ratios")
    bench.add_argument("what", choices=["rollouts"], help="what to benchmark")
    bench.add_argument("--task", required=True, choices=sorted(available()), metavar="TASK",
                       help="one of: " + ", ".join(sorted(available())))
    bench.add_argument("--rollouts", type=int, default=3000)
    bench.add_argument("--horizon", type=int, default=None, help="default: the task's")
    bench.add_argument("--policy", default="L", choices=["L", "H", "HH"])
    bench.add_argument("--threads", type=int, default=None, help="default: all cores")
    bench.add_argument("--loop-rollouts", type=int, default=300,
                       help="how many of the rollouts the per-rollout loop replays")
    bench.add_argument("--json", action="store_true", help="print only the JSON line")
    bench.set_defaults(func=_bench)

    for ep in entry_points(group="workbench.commands"):
        ep.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"workbench: error: {err}", file=sys.stderr)
        return 2
