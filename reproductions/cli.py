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
                        "the largest this machine runs, see docs/reproductions/README.md)")
    p.add_argument("--seeds", default=None, metavar="N|FIRST-LAST",
                   help="N: seeds 0 to N-1; FIRST-LAST: those seeds (e.g. 5-14, new seeds "
                        "beside published ones); default: the scale's count")
    p.add_argument("--backend", default="local",
                   help="local (default) or ray: every run's rollouts on Ray actors "
                        "(ES-MAML and PG-MAML alike); see docs/distributed.md")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs trained in parallel, each in its own one-thread process")
    p.add_argument("--panel", action="append", default=None, metavar="NAME",
                   help="only the runs of this panel (repeatable), e.g. fig4 --panel cartpole")
    p.add_argument("--run", action="append", default=None, metavar="NAME", dest="runs",
                   help="only this run (repeatable; after --panel), e.g. fig1 --run dpp-K10")
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
    from workbench.app.rundir import check_out_dir
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1; got {args.jobs}")
    from reproductions.runner import parse_seeds
    parse_seeds(args.seeds, 1)  # one line on a bad --seeds, before any work
    check_backend(args.backend)  # one line naming the valid backends, before any work
    check_out_dir(args.out)
    if args.figure == "all":
        names = order()
        if args.panel or args.runs:
            raise ValueError("--panel and --run select from one figure; name the figure")
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
        prepared = [prepare(name, args.scale, args.out, args.seeds, args.backend, args.panel,
                            args.runs)
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
    from workbench.app.rundir import git_commit
    per, source = timing.measured(figures, args.scale, Path(args.out), args.measure,
                                  git_commit(),
                                  log=lambda text: print(text, file=sys.stderr, flush=True))
    print(timing.table(figures, args.scale, per, source))
    return 0


def register_report(sub) -> None:
    p = sub.add_parser("report", help="rebuild docs/reproductions (verdicts, figure pages, "
                                      "pictures, the results table) from the committed CSVs")
    p.add_argument("--docs", default=None, metavar="DIR",
                   help="the record's folder (default: docs/reproductions of this checkout)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 naming every file that differs from what the "
                        "CSVs give")
    p.add_argument("--figure", action="append", default=None, metavar="NAME",
                   help="only this figure's page and pictures (repeatable; the results "
                        "table still counts every figure)")
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from reproductions import rebuild
    from reproductions.runner import load_figure, order
    docs = Path(args.docs) if args.docs else Path(__file__).resolve().parents[1] / rebuild.DOCS
    if not (docs / "README.md").is_file():
        raise ValueError(f"--docs {docs}: no README.md with the results markers there")
    figures = [load_figure(n) for n in order()]
    files = rebuild.rebuild(figures, docs, docs)
    if args.figure:
        keep = [docs / f"{n}.md" for n in args.figure] + [docs / "README.md"]
        files = {p: c for p, c in files.items() if p in keep or any(
            p.name.startswith(f"{n}-") for n in args.figure)}
    generated = [] if args.figure else [docs / rebuild.PICTURES]
    if args.check:
        diffs = rebuild.differences(files, generated)
        for line in diffs:
            print(line)
        print(f"report: {len(files)} files checked, {len(diffs)} differ")
        return 1 if diffs else 0
    rebuild.write(files, generated)
    print(f"report: {len(files)} files written under {docs}")
    return 0


def register_calibrate(sub) -> None:
    p = sub.add_parser("calibrate", help="the task-blind ceiling and per-task oracle of an RL "
                                         "task for a policy class (docs/reproductions/README.md)")
    p.add_argument("--task", required=True, help="an RL task family (workbench tasks)")
    p.add_argument("--policy", default="L", help="L, H or HH (default L)")
    p.add_argument("--set", action="append", default=[], metavar="task.KEY=VALUE",
                   help="a task parameter (repeatable), e.g. --set task.observation=norml")
    p.add_argument("--budget", action="append", default=[], metavar="KEY=VALUE",
                   help="a budget key (repeatable): " + ", ".join(_budget_keys()))
    p.add_argument("--oracle-tasks", type=int, default=8,
                   help="tasks the oracle is optimised on (test split first; default 8)")
    p.add_argument("--horizon", type=int, default=None, help="default: the task's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None,
                   help="cache directory (default: docs/calibration in the checkout)")
    p.add_argument("--force", action="store_true",
                   help="compute again even when the cache holds this calibration")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_calibrate)


def _budget_keys() -> list[str]:
    from dataclasses import fields

    from reproductions.calibration import Budget
    return [f"{f.name} ({f.default})" for f in fields(Budget)]


def parse_budget(items: list[str]):
    """`--budget key=value` items as a `Budget`, or a one-line error naming the valid keys."""
    from dataclasses import fields

    from reproductions.calibration import Budget
    kinds = {f.name: type(f.default) for f in fields(Budget)}
    values = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or key not in kinds:
            raise ValueError(f"--budget takes KEY=VALUE with KEY one of "
                             f"{', '.join(kinds)}; got {item!r}")
        try:
            values[key] = kinds[key](value)
        except ValueError:
            raise ValueError(f"--budget {key} must be a {kinds[key].__name__}; got "
                             f"{value!r}") from None
    budget = Budget(**values)
    budget.check()
    return budget


def parse_task_sets(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.startswith("task."):
            raise ValueError(f"calibrate --set takes task.KEY=VALUE (task parameters only); "
                             f"got {item!r}")
        out[key[len("task."):]] = value
    return out


def _calibrate(args: argparse.Namespace) -> int:
    import json
    import shlex
    from pathlib import Path

    from reproductions import calibration
    from workbench.policies import ARCHITECTURES
    from workbench.app.errors import write_text
    from workbench.app.rundir import git_commit
    from workbench.tasks import make_family
    if args.policy not in ARCHITECTURES:
        raise ValueError(f"--policy must be one of {', '.join(ARCHITECTURES)}; got "
                         f"{args.policy!r}")
    if args.oracle_tasks < 1:
        raise ValueError(f"--oracle-tasks must be >= 1; got {args.oracle_tasks}")
    budget = parse_budget(args.budget)
    params = parse_task_sets(args.set)
    family = make_family(args.task, **params)  # unknown task or parameter: one line
    if family.supervised:
        raise ValueError(f"calibrate bounds RL returns; {args.task!r} is supervised")
    root = Path(args.out) if args.out else calibration.DEFAULT_CACHE
    path = calibration.cache_path(args.task, args.policy, params, root)
    command = "workbench " + shlex.join(["calibrate", *[a for a in _argv() if a != "--force"]])
    if path.is_file() and not args.force:
        cached = json.loads(path.read_text())
        if cached.get("budget") == calibration.asdict(budget) and \
                cached.get("seed") == args.seed and cached.get("horizon") == \
                int(args.horizon or family.default_horizon) and \
                len(cached["oracle"]["tasks"]) == min(args.oracle_tasks, family.num_tasks):
            print(calibration.summary(cached) + f"\n(cached: {path})")
            return 0
    log = None if args.quiet else (lambda text: print(f"calibrate: {text}", file=sys.stderr,
                                                      flush=True))
    result = calibration.calibrate(args.task, args.policy, budget, params, args.horizon,
                                   args.oracle_tasks, args.seed, log)
    result.update({"command": command, "commit": git_commit()})
    root.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(result, indent=1) + "\n")
    print(calibration.summary(result) + f"\n-> {path}")
    return 0


def _argv() -> list[str]:
    """The calibrate command's arguments as typed (for the cache's record)."""
    args = sys.argv[1:]
    return args[args.index("calibrate") + 1:] if "calibrate" in args else args
