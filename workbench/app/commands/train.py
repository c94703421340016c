"""`workbench train` (or `--resume`), `workbench evaluate` and `workbench runs`."""

from __future__ import annotations

import argparse
import json
import shlex

from workbench.algorithm import algorithms
from workbench.app.commands.common import add_backend_flags, backend_flags
from workbench.tasks import available


def _train(args: argparse.Namespace) -> int:
    from workbench.app import run
    if args.resume:
        if args.algo or args.task or args.config or args.seed is not None or args.out:
            raise ValueError("--resume DIR takes only --set (e.g. --set iterations=N), "
                             "--backend, --ray-address and --threads")
        directory, config = run.resume_config(args.resume, args.set, **backend_flags(args))
        algo = None  # built by train
    else:
        missing = [f"--{k}" for k in ("algo", "task", "out") if not getattr(args, k)]
        if missing:
            raise ValueError(f"train needs {', '.join(missing)} (or --resume DIR)")
        directory, config, algo = run.start(args.algo, args.task, args.out, args.config,
                                            args.set, args.seed, **backend_flags(args))
    summary = run.train(directory, config, resume=bool(args.resume), progress=not args.quiet,
                        algo=algo)
    if summary["stopped"]:
        print(f"interrupted after iteration {summary['iterations']}; checkpoint saved. "
              f"Continue with: workbench train --resume {shlex.quote(str(directory.path))}")
    else:
        print(f"run directory: {directory.path}")
    if summary["test"]:
        print(f"last test evaluation: pre-adaptation "
              f"{summary['test']['test/pre_adaptation_return']:.2f}, post-adaptation "
              f"{summary['test']['test/post_adaptation_return']:.2f}")
    if summary["trajectory_png"]:
        print(f"trajectories: {summary['trajectory_png']}")
    print(f"TensorBoard: tensorboard --logdir {shlex.quote(str(directory.path))}")
    return 130 if summary["stopped"] else 0


def _evaluate(args: argparse.Namespace) -> int:
    from workbench.app.run import evaluate_run
    result = evaluate_run(args.run_dir, args.adaptations)
    print(json.dumps(result))
    return 0


def _runs(args: argparse.Namespace) -> int:
    from workbench.app.rundir import list_runs
    found = list_runs(args.directory)
    if args.json:
        print(json.dumps(found))
        return 0
    if not found:
        print(f"no runs under {args.directory}")
        return 0
    header = ("run", "algo", "task", "seed", "iterations", "last test post (iteration)")
    rows = []
    for r in found:
        if "problem" in r:
            rows.append((r["run_dir"], "-", "-", "-", "-", f"unreadable: {r['problem']}"))
            continue
        test = ("-" if r["last_test_post_adaptation_return"] is None else
                f"{r['last_test_post_adaptation_return']:.2f} ({r['last_test_iteration']})")
        rows.append((r["run_dir"], r["algo"], str(r["task"]), str(r["seed"]),
                     f"{r['iterations_done']}/{r['iterations']}", test))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    return 0


def register(sub) -> None:
    train = sub.add_parser("train", help="train a meta-learner (or --resume a run)")
    train.add_argument("--algo", help="algorithm: " + (", ".join(sorted(algorithms())) or "-"))
    train.add_argument("--task", help="task family: " + ", ".join(sorted(available())) +
                       ", or gym:ID / gym:module:Class (docs/own-task.md)")
    train.add_argument("--config", help="YAML file of config keys")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config key (repeatable), e.g. --set adaptation=hc")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--out", help="run directory to create")
    train.add_argument("--resume", metavar="DIR", help="continue (or extend) the run in DIR")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--threads", type=int, default=None, metavar="N",
                       help="torch intra-op threads (default 1; same as --set threads=N)")
    add_backend_flags(train)
    train.set_defaults(func=_train)

    evaluate = sub.add_parser("evaluate", help="evaluate a run's latest checkpoint on test tasks")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--adaptations", type=int, default=None,
                          help="test adaptations (default: the run's eval_adaptations)")
    evaluate.set_defaults(func=_evaluate)

    runs = sub.add_parser("runs", help="list the runs under a directory")
    runs.add_argument("directory")
    runs.add_argument("--json", action="store_true", help="one JSON list instead of a table")
    runs.set_defaults(func=_runs)
