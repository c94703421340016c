"""`workbench compare`: several algorithms, same task, seeds and budget."""

from __future__ import annotations

import argparse
import sys

from workbench.app.commands.common import add_backend_flags, backend_flags


def _compare(args: argparse.Namespace) -> int:
    from workbench.app.compare import compare
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    try:
        sets = [*args.set, *(f"{k}={v}" for k, v in backend_flags(args).items())]
        result = compare(args.task, algos, args.seeds, args.budget_rollouts, args.out,
                         sets, jobs=args.jobs, progress=not args.quiet)
    except KeyboardInterrupt:  # between runs, before the runner took over the signal
        result = {"interrupted": True}
    if result["interrupted"]:
        print("compare: interrupted; no report written. Run the same command again to "
              "resume.", file=sys.stderr)
        return 130
    print(result["markdown"])
    print(f"CSV: {result['csv']}")
    for png in result["pngs"]:
        print(f"plot: {png}")
    print(f"table: {result['table']}")
    return 0


def register(sub) -> None:
    comp = sub.add_parser("compare", help="several algorithms, same task, seeds and budget")
    comp.add_argument("--task", required=True, help="task family, or gym:ID / gym:module:Class (docs/own-task.md)")
    comp.add_argument("--algos", required=True, help="comma-separated, e.g. es-maml,promp")
    comp.add_argument("--seeds", type=int, default=3)
    comp.add_argument("--budget-rollouts", type=int, required=True,
                      help="training rollouts each run may spend")
    comp.add_argument("--out", required=True)
    comp.add_argument("--set", action="append", default=[], metavar="[ALGO:]KEY=VALUE",
                      help="config override for every algorithm that has KEY, or for ALGO "
                           "only (not iterations: the budget is --budget-rollouts)")
    comp.add_argument("--jobs", type=int, default=1,
                      help="runs trained in parallel, each in its own one-thread process")
    comp.add_argument("--quiet", action="store_true", help="no progress display")
    add_backend_flags(comp, " for every run, ES-MAML and PG-MAML alike")
    comp.set_defaults(func=_compare)
