"""`workbench bench`: throughput benchmarks, reported as ratios (workbench.app.bench)."""

from __future__ import annotations

import argparse
import json

from workbench.app.commands.common import add_backend_flags, positive
from workbench.tasks import available, family_class


def _bench(args: argparse.Namespace) -> int:
    from workbench.app.bench.iteration import bench_iteration
    from workbench.app.bench.rollouts import bench_rollouts
    if args.what == "contention":
        return _bench_contention(args)
    if args.task is None:
        raise ValueError(f"bench {args.what} needs --task")
    if args.iterations != 30:
        raise ValueError("--iterations applies to bench contention")
    positive("--threads", args.threads, "a positive number of threads (default: all cores)")
    if args.what == "iteration":
        positive("--repeats", args.repeats, "a positive number of timed iterations")
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
    positive("--rollouts", args.rollouts)
    positive("--horizon", args.horizon, "a positive number of steps (default: the task's)")
    positive("--loop-rollouts", args.loop_rollouts)
    if args.against:
        return _bench_against(args)
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


def _bench_against(args: argparse.Namespace) -> int:
    from workbench.app.bench.against import bench_against
    if args.threads is not None or args.loop_rollouts != 300:
        raise ValueError("--against times both simulators on one thread over the same "
                         "rollouts; --threads and --loop-rollouts do not apply")
    result = bench_against(args.task, args.against, rollouts=args.rollouts,
                           horizon=args.horizon, policy=args.policy, progress=not args.json)
    if not args.json:
        print(f"{result['rollouts']} rollouts x horizon {result['horizon']}, policy "
              f"{result['policy']}, one thread each, same parameters and seeds")
        print(f"  {result['task']:40s} {result['steps_per_s']:14,.0f} env-steps/s")
        print(f"  {result['against']:40s} {result['against_steps_per_s']:14,.0f} env-steps/s")
        print(f"  ratio {result['task']} / {result['against']}: "
              f"{result['task_over_against']:.2f}")
    print(json.dumps(result))
    return 0


def _bench_contention(args: argparse.Namespace) -> int:
    from workbench.app.bench.contention import bench_contention
    positive("--iterations", args.iterations, "a positive number of training iterations")
    given = [flag for flag, value, default in (
        ("--rollouts", args.rollouts, None), ("--horizon", args.horizon, None),
        ("--policy", args.policy, "L"), ("--threads", args.threads, None),
        ("--loop-rollouts", args.loop_rollouts, 300), ("--repeats", args.repeats, 3),
        ("--algo", args.algo, "es-maml"), ("--backend", args.backend, None),
        ("--ray-address", args.ray_address, None), ("--against", args.against, None))
        if value != default]
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


def rl_tasks() -> list[str]:
    """The registered families that roll out (not supervised), sorted."""
    return sorted(n for n in available() if not family_class(n).supervised)


def _rl_task(name: str) -> str:
    """A task `bench` can time: a registered RL family or a gymnasium adapter name."""
    if name.startswith("gym:"):
        return name
    valid = rl_tasks()
    if name not in valid:
        raise argparse.ArgumentTypeError(f"unknown RL task {name!r}; valid: "
                                         f"{', '.join(valid)}, or gym:ID, gym:module:Class")
    return name


def register(sub) -> None:
    bench = sub.add_parser("bench", help="throughput benchmarks, reported as ratios")
    bench.add_argument("what", choices=["rollouts", "iteration", "contention"],
                       help="rollouts: engine vs per-rollout loop; iteration: one paper-scale "
                            "training iteration; contention: the demo's training alone and "
                            "beside a busy core, before and after the threads default")
    bench.add_argument("--task", default=None, type=_rl_task, metavar="TASK",
                       help="one of: " + ", ".join(rl_tasks()) + ", or gym:... (contention: "
                            "default four-corners)")
    bench.add_argument("--against", default=None, type=_rl_task, metavar="TASK",
                       help="for `rollouts`: time TASK's simulator beside --task's over the "
                            "same rollouts (e.g. halfcheetah-fb --against gym:...)")
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
    add_backend_flags(bench, " (iteration: ray times local AND ray in one run)")
    bench.set_defaults(func=_bench)
