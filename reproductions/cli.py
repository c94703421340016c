"""`workbench reproduce FIGURE|all --scale smoke|local|paper --out DIR`, added to the
workbench CLI through the `workbench.commands` entry point."""

from __future__ import annotations

import argparse
import sys

from reproductions.spec import SCALES


def register(sub) -> None:
    from reproductions.runner import order
    names = order()
    p = sub.add_parser("reproduce", help="regenerate a paper figure and check its claim")
    p.add_argument("figure", metavar="FIGURE", help="one of: " + ", ".join(names) + ", all")
    p.add_argument("--scale", default="smoke", choices=SCALES,
                   help="smoke: about a minute per figure; local: the budget that settles the "
                        "figure's claims on 2 cores (hours); paper: the paper's budget (or "
                        "the largest this machine runs, see docs/reproductions.md)")
    p.add_argument("--seeds", type=int, default=None, help="default: the scale's")
    p.add_argument("--backend", default="local",
                   help="local (default) or ray: every run's rollouts on Ray actors "
                        "(ES-MAML and PG-MAML alike); see docs/distributed.md")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs trained in parallel, each in its own one-thread process")
    p.add_argument("--panel", action="append", default=None, metavar="NAME",
                   help="only the runs of this panel (repeatable), e.g. fig4 --panel cartpole")
    p.add_argument("--out", required=True, help="output directory (reused runs live here)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--time-at-scale", action="store_true",
                   help="train nothing: print the scale's expected wall time on 2, 16 and 64 "
                        "cores and on Ray clusters, from measured seconds per iteration "
                        "(cached in --out's seconds_per_iteration.json; see --measure)")
    p.add_argument("--measure", action="store_true",
                   help="with --time-at-scale: time one iteration of every configuration "
                        "not in the cache yet (one thread; minutes for MuJoCo at paper scale)")
    p.set_defaults(func=_reproduce)


def _reproduce(args: argparse.Namespace) -> int:
    from reproductions.runner import complete, load_figure, order, prepare
    from workbench.backends import check_backend
    from workbench.run import check_out_dir
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1; got {args.jobs}")
    if args.seeds is not None and args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1 (default: the scale's); got {args.seeds}")
    check_backend(args.backend)  # one line naming the valid backends, before any work
    check_out_dir(args.out)
    if args.figure == "all":
        names = order()
        if args.panel:
            raise ValueError("--panel selects panels of one figure; name the figure")
    else:
        load_figure(args.figure)  # an unknown name fails before anything runs
        names = [args.figure]
    for name in names:
        load_figure(name).scale(args.scale)  # every figure must have the scale
    if args.time_at_scale:
        return _time_at_scale([load_figure(n) for n in names], args)
    if args.measure:
        raise ValueError("--measure goes with --time-at-scale")
    try:
        # every run of every figure is resolved and checked before the first one trains
        prepared = [prepare(name, args.scale, args.out, args.seeds, args.backend, args.panel)
                    for name in names]
        for p in prepared:
            result = complete(p, args.jobs, progress=not args.quiet)
            if result["interrupted"]:
                break
            print(f"{p.figure.name}: {result['verdict']} ({result['trained']} runs trained, "
                  f"{result['reused']} reused) -> {result['report']}")
    except KeyboardInterrupt:  # between runs, before the runner took over the signal
        result = {"interrupted": True}
    if result["interrupted"]:
        print("reproduce: interrupted; no report written for unfinished figures. Run the "
              "same command again to resume.", file=sys.stderr)
        return 130
    return 0


def _time_at_scale(figures: list, args: argparse.Namespace) -> int:
    from pathlib import Path

    from reproductions import timing
    from workbench.run import git_commit
    per, source = timing.measured(figures, args.scale, Path(args.out), args.measure,
                                  git_commit(),
                                  log=lambda text: print(text, file=sys.stderr, flush=True))
    print(timing.table(figures, args.scale, per, source))
    return 0
