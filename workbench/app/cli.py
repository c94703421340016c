"""The `workbench` command line (also `python -m workbench`).

Algorithms are found through the entry-point group `workbench.algorithms` (and further
sub-commands through `workbench.commands`, each a `register(subparsers)` function), so this
package never imports `es`, `baselines` or `reproductions`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys

import yaml
from importlib.metadata import entry_points

from workbench import __version__
from workbench.algorithm import algorithms
from workbench.backends import BACKENDS
from workbench.tasks import available


def _positive(flag: str, value: int | None, allowed: str = "a positive integer") -> None:
    """A count given on the command line: None means the default; anything below 1 is an
    error (never "use the default")."""
    if value is not None and value < 1:
        raise ValueError(f"{flag} must be {allowed}; got {value}")


def _bench(args: argparse.Namespace) -> int:
    from workbench.app.bench.iteration import bench_iteration
    from workbench.app.bench.rollouts import bench_rollouts
    if args.what == "contention":
        return _bench_contention(args)
    if args.task is None:
        raise ValueError(f"bench {args.what} needs --task")
    if args.iterations != 30:
        raise ValueError("--iterations applies to bench contention")
    _positive("--threads", args.threads, "a positive number of threads (default: all cores)")
    if args.what == "iteration":
        _positive("--repeats", args.repeats, "a positive number of timed iterations")
        for flag, value, default in (("--rollouts", args.rollouts, None),
                                     ("--horizon", args.horizon, None),
                                     ("--loop-rollouts", args.loop_rollouts, 300),
                                     ("--policy", args.policy, "L")):
            if value != default:
                raise ValueError(f"{flag} applies to bench rollouts; bench iteration takes "
                                 f"the run's settings from --set (e.g. --set policy=L)")
        result = bench_iteration(args.task, args.algo, args.set, repeats=args.repeats,
                                 threads=args.threads, backend=args.backend or "local",
                                 ray_address=args.ray_address)
        if not args.json:
            print(f"{result['algo']} on {result['task']} ({result['policy']}, horizon "
                  f"{result['horizon']}, {result['rollouts_per_iteration']} rollouts per "
                  f"iteration, {result['threads']} thread(s))")
            for name in result["backends"]:
                extra = (f" ({result['ray_actors']} actors x {result['ray_actor_cpus']} CPU)"
                         if name == "ray" else "")
                print(f"  {name:5s} {result[name + '_seconds_per_iteration']:10.4f} s per "
                      f"iteration, {result[name + '_env_steps_per_s']:14,.0f} env-steps/s"
                      f"{extra}")
            if "ray_over_local" in result:
                print(f"  ray / local throughput {result['ray_over_local']:.3f}; same numbers "
                      f"on both: {result['same_numbers']}; sent per iteration "
                      f"{result['ray_bytes_sent_per_iteration']:,} bytes (points as rows: "
                      f"{result['ray_bytes_if_rows_per_iteration']:,}), received "
                      f"{result['ray_bytes_received_per_iteration']:,}")
        print(json.dumps(result))
        return 0
    if args.backend not in (None, "local") or args.ray_address:
        raise ValueError("bench rollouts times the engine in this process; --backend and "
                         "--ray-address apply to bench iteration")
    if args.set:
        raise ValueError(f"bench rollouts does not take --set (got {args.set[0]!r}); use "
                         f"--policy, --horizon and --rollouts, or bench iteration --set")
    if args.repeats != 3:
        raise ValueError("--repeats applies to bench iteration")
    _positive("--rollouts", args.rollouts)
    _positive("--horizon", args.horizon, "a positive number of steps (default: the task's)")
    _positive("--loop-rollouts", args.loop_rollouts)
    result = bench_rollouts(args.task, rollouts=args.rollouts, horizon=args.horizon,
                            policy=args.policy, threads=args.threads,
                            loop_rollouts=args.loop_rollouts, progress=not args.json)
    if not args.json:
        print(f"task {result['task']}: {result['rollouts']} rollouts x horizon "
              f"{result['horizon']}, policy {result['policy']}, {result['threads']} thread(s)")
        print(f"  batched engine   {result['engine_steps_per_s']:14,.0f} env-steps/s")
    if not args.json and "raw_steps_per_s" in result:  # a MuJoCo task
        print(f"  raw replay       {result['raw_steps_per_s']:14,.0f} env-steps/s "
              f"(mujoco.rollout of the engine's controls, 1 thread)")
        print(f"  gymnasium loop   {result['gym_steps_per_s']:14,.0f} env-steps/s "
              f"(env.step, first {result['gym_rollouts']} rollouts)")
        print(f"  engine / raw     {result['engine_over_raw']:14.2f}")
        print(f"  engine / gym     {result['engine_over_gym']:14.2f}")
    elif not args.json:
        print(f"  per-rollout loop {result['loop_steps_per_s']:14,.0f} env-steps/s "
              f"(first {result['loop_rollouts']} rollouts)")
        print(f"  engine / loop    {result['engine_over_loop']:14.1f}x")
    print(json.dumps(result))
    return 0


def _bench_contention(args: argparse.Namespace) -> int:
    from workbench.app.bench.contention import bench_contention
    _positive("--iterations", args.iterations, "a positive number of training iterations")
    given = [flag for flag, value, default in (
        ("--rollouts", args.rollouts, None), ("--horizon", args.horizon, None),
        ("--policy", args.policy, "L"), ("--threads", args.threads, None),
        ("--loop-rollouts", args.loop_rollouts, 300), ("--repeats", args.repeats, 3),
        ("--algo", args.algo, "es-maml"), ("--backend", args.backend, None),
        ("--ray-address", args.ray_address, None)) if value != default]
    if given:
        raise ValueError(f"bench contention takes --task, --iterations and --set; got "
                         f"{', '.join(given)} (it times es-maml locally, before and after "
                         f"the threads default)")
    task = args.task or "four-corners"
    if not args.json:
        print(f"es-maml on {task}, {args.iterations} training iterations per measurement "
              f"(demo configuration{', ' + ', '.join(args.set) if args.set else ''})",
              flush=True)
    result = bench_contention(task, args.iterations, args.set, progress=not args.json)
    if not args.json:
        for variant in ("before", "after"):
            t = result[f"{variant}_threads"]
            print(f"  {variant:6s} (torch {t['torch']} thread(s)"
                  + (f", physics {t['physics']}" if t["physics"] else "") + f"): alone "
                  f"{result[variant + '_alone_s']:.2f} s, beside a busy core "
                  f"{result[variant + '_loaded_s']:.2f} s, loaded/alone throughput "
                  f"{result[variant + '_loaded_over_alone']:.2f}")
    print(json.dumps(result))
    return 0


def _backend_flags(args: argparse.Namespace) -> dict[str, str]:
    """`--backend` / `--ray-address` (and `--threads` where the command has it), as config
    overrides (same as `--set backend=...`)."""
    flags = {"backend": args.backend, "ray_address": args.ray_address,
             "threads": getattr(args, "threads", None)}
    return {k: v for k, v in flags.items() if v is not None}


def _train(args: argparse.Namespace) -> int:
    from workbench.app import run
    if args.resume:
        if args.algo or args.task or args.config or args.seed is not None or args.out:
            raise ValueError("--resume DIR takes only --set (e.g. --set iterations=N), "
                             "--backend, --ray-address and --threads")
        directory, config = run.resume_config(args.resume, args.set, **_backend_flags(args))
        algo = None  # built by train
    else:
        missing = [f"--{k}" for k in ("algo", "task", "out") if not getattr(args, k)]
        if missing:
            raise ValueError(f"train needs {', '.join(missing)} (or --resume DIR)")
        directory, config, algo = run.start(args.algo, args.task, args.out, args.config,
                                            args.set, args.seed, **_backend_flags(args))
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


def _compare(args: argparse.Namespace) -> int:
    from workbench.app.compare import compare
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    try:
        sets = [*args.set, *(f"{k}={v}" for k, v in _backend_flags(args).items())]
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


def _config(args: argparse.Namespace) -> int:
    from workbench.app import runconfig as cfg
    from workbench.algorithm import algorithm_class
    if args.docs:
        print(cfg.reference_markdown(), end="")
        return 0
    missing = [f"--{k}" for k in ("algo", "task") if not getattr(args, k)]
    if missing:
        raise ValueError(f"config needs {', '.join(missing)} (or --docs)")
    config = cfg.resolve(algorithm_class(args.algo), args.config, args.set, task=args.task,
                         seed=args.seed)
    print(yaml.safe_dump(config, sort_keys=False), end="")
    return 0


def _tasks(args: argparse.Namespace) -> int:
    from workbench.tasks import family_class
    for name in sorted(available()):
        cls = family_class(name)
        params = ", ".join(f"{k}={v}" for k, v in cls.Params().to_dict().items()) or "-"
        print(f"{name:22s} obs {cls.obs_dim:3d}  act {cls.act_dim:2d}  horizon "
              f"{cls.default_horizon:4d}  task.* {params}")
    return 0


def _add_backend_flags(parser: argparse.ArgumentParser, note: str = "") -> None:
    parser.add_argument("--backend", default=None, metavar="NAME",
                        help=f"where rollouts run: {', '.join(BACKENDS)} (default local; "
                             f"same as --set backend=NAME){note}")
    parser.add_argument("--ray-address", default=None, metavar="ADDRESS",
                        help="Ray cluster to use: auto, HOST:PORT or ray://HOST:PORT "
                             "(default: a running local cluster, else a new local instance)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tasks = sub.add_parser("tasks", help="list the task families and their parameters")
    tasks.set_defaults(func=_tasks)

    conf = sub.add_parser("config", help="print the resolved config of a run, without running")
    conf.add_argument("--algo", help="algorithm: " + (", ".join(sorted(algorithms())) or "-"))
    conf.add_argument("--task", help="task family")
    conf.add_argument("--config", help="YAML file of config keys")
    conf.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    conf.add_argument("--seed", type=int, default=None)
    conf.add_argument("--docs", action="store_true",
                      help="print every section's key table (docs/config.md)")
    conf.set_defaults(func=_config)

    train = sub.add_parser("train", help="train a meta-learner (or --resume a run)")
    train.add_argument("--algo", help="algorithm: " + (", ".join(sorted(algorithms())) or "-"))
    train.add_argument("--task", help="task family: " + ", ".join(sorted(available())))
    train.add_argument("--config", help="YAML file of config keys")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config key (repeatable), e.g. --set adaptation=hc")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--out", help="run directory to create")
    train.add_argument("--resume", metavar="DIR", help="continue (or extend) the run in DIR")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--threads", type=int, default=None, metavar="N",
                       help="torch intra-op threads (default 1; same as --set threads=N)")
    _add_backend_flags(train)
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

    comp = sub.add_parser("compare", help="several algorithms, same task, seeds and budget")
    comp.add_argument("--task", required=True, help="task family")
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
    _add_backend_flags(comp, " for every run, ES-MAML and PG-MAML alike")
    comp.set_defaults(func=_compare)

    bench = sub.add_parser("bench", help="throughput benchmarks, reported as ratios")
    bench.add_argument("what", choices=["rollouts", "iteration", "contention"],
                       help="rollouts: engine vs per-rollout loop; iteration: one paper-scale "
                            "training iteration; contention: the demo's training alone and "
                            "beside a busy core, before and after the threads default")
    rl_tasks = sorted(n for n in available() if n != "sine")
    bench.add_argument("--task", default=None, choices=rl_tasks, metavar="TASK",
                       help="one of: " + ", ".join(rl_tasks) + " (contention: default "
                            "four-corners)")
    bench.add_argument("--iterations", type=int, default=30,
                       help="for `contention`: training iterations per measurement")
    bench.add_argument("--rollouts", type=int, default=None,
                       help="default: 3000; MuJoCo tasks: 100-300, per robot")
    bench.add_argument("--horizon", type=int, default=None, help="default: the task's")
    bench.add_argument("--policy", default="L", choices=["L", "H", "HH"])
    bench.add_argument("--threads", type=int, default=None,
                       help="rollouts: default all usable cores; iteration: torch threads "
                            "of the run (default: the run's, 1)")
    bench.add_argument("--loop-rollouts", type=int, default=300,
                       help="how many of the rollouts the per-rollout loop replays")
    bench.add_argument("--algo", default="es-maml", help="for `iteration` (default es-maml)")
    bench.add_argument("--repeats", type=int, default=3,
                       help="for `iteration`: timed iterations, best reported (1: no warm-up)")
    bench.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="for `iteration` and `contention`: config overrides, e.g. "
                            "--set policy=L")
    bench.add_argument("--json", action="store_true", help="print only the JSON line")
    _add_backend_flags(bench, " (iteration: ray times local AND ray in one run)")
    bench.set_defaults(func=_bench)

    for ep in entry_points(group="workbench.commands"):
        ep.load()(sub)
    return parser


def _os_error(err: OSError) -> str:
    """One line for an operating-system refusal: what was refused, on which path."""
    if err.filename is None:
        return str(err)
    what = err.strerror or type(err).__name__
    paths = err.filename if err.filename2 is None else f"{err.filename} -> {err.filename2}"
    return f"{paths}: {what}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"workbench: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        # An ordinary path mistake (missing, a directory, no permission, disk full)
        # reported by the operating system: one line naming the path. Only errors that
        # name a file land here; other OSErrors are not path mistakes and keep their
        # traceback.
        if err.filename is None and not isinstance(err, FileNotFoundError):
            raise
        print(f"workbench: error: {_os_error(err)}", file=sys.stderr)
        return 2
