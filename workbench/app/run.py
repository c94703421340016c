"""The training loop every algorithm shares: metrics, TensorBoard, checkpoints, evaluations.

A run writes into its run directory (`workbench.app.rundir`): `metrics.jsonl` and
TensorBoard event files with the same keys as scalar tags, checkpoints, trajectory figures
and every test adaptation of each evaluation. Test evaluations happen after iteration 0 and
after every `eval_every`-th iteration (a schedule that does not depend on `iterations`, so
extending a run reproduces an uninterrupted one). SIGINT / SIGTERM finish the current
iteration, checkpoint and stop; `resume` continues from the latest checkpoint and drops
any metrics written after it, so the resumed file equals an uninterrupted run's (but for
wall time).

No run directory is a dead end: a checkpoint of the initial state (`iter_000000.pt`) is
written before the first iteration, a resume passes over damaged checkpoint files to older
ones and, with none usable, restarts from iteration 0 (the same numbers, since every
iteration's randomness derives from `(seed, i)`), and a torn last metrics line (a process
killed mid-write) is dropped. `provenance.json` records, once when the run starts, the
project version and commit and the versions of the main libraries.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

from workbench import metrics
from workbench.algorithm import Algorithm, EvalResult, algorithm_class
from workbench.app import checkpoint
from workbench.app import runconfig as cfg
from workbench.app.errors import WriteFailed
from workbench.app.plotting import plt, render, save_image, trajectory_figure
from workbench.app.progress import progress as progress_display
from workbench.app.rundir import RunDir, check_out_dir, write_adaptations, write_provenance
from workbench.app.runlog import RunLog
from workbench.app.signals import stop_requests
from workbench.seeding import derive

#: Key of the exploration-spread measurement's randomness (with the run seed and iteration).
SPREAD = 9
#: Config keys a resume may change: they do not alter any number the run computes.
RESUMABLE_KEYS = ("iterations", "checkpoint_every", "backend", "ray_address", "ray_actors",
                  "ray_actor_cpus", "budget_rollouts")


def is_eval_iteration(iteration: int, eval_every: int) -> bool:
    return iteration == 0 or (iteration + 1) % eval_every == 0


def evaluate_once(algo: Algorithm, iteration: int, seed: int) -> EvalResult:
    """One test evaluation as the run loop logs it: the algorithm's, plus on 2-D tasks the
    exploration spread (is exploration collapsing?), drawn from `(seed, iteration)`."""
    result = algo.evaluate(iteration, record=True)
    if result.positions is not None:
        result.extras[metrics.EXPLORATION_SPREAD] = algo.exploration_spread(
            result.tasks, derive(seed, SPREAD, iteration))
    return result


def eval_record(result: EvalResult) -> dict[str, float]:
    """An evaluation's numbers for `metrics.jsonl` (and TensorBoard): the pre- and
    post-adaptation test returns and the algorithm's evaluation extras (PG-MAML's
    stochastic returns, the exploration spread on 2-D tasks)."""
    return {"test/pre_adaptation_return": float(result.pre_return),
            "test/post_adaptation_return": float(result.post_return),
            **{key: float(value) for key, value in result.extras.items()}}


def write_trajectories(run: RunDir, algo: Algorithm, result: EvalResult, iteration: int,
                       image: Callable[[str, Any, int], None]) -> Path | None:
    """The adapted policies' paths as `figures/trajectories_NNNNNN.png` and, through
    `image(tag, rgba, iteration)`, as a TensorBoard image (drawn once for both)."""
    if result.trajectories is None:
        return None
    title = (f"{algo.family.name}, iteration {iteration}: adapted policies "
             f"(post-adaptation return {result.post_return:.1f})")
    fig = trajectory_figure(algo.family, result.trajectories, result.trajectory_tasks, title)
    rgba = render(fig)
    plt.close(fig)
    path = save_image(rgba, run.figures / f"trajectories_{iteration:06d}.png")
    image("test/trajectories", rgba, iteration)
    return path


def start(algo_name: str, task: str, out: str | Path, config_file: str | None = None,
          sets: list[str] | None = None, seed: int | None = None,
          **overrides: Any) -> tuple[RunDir, dict, Algorithm]:
    """Resolve a new run's config, build its algorithm and create its directory (refusing
    to overwrite a run); the algorithm goes on to `train`, so a run builds it once.

    `overrides` (e.g. `backend`, `ray_address` from command-line flags) apply last."""
    algo_cls = algorithm_class(algo_name)
    config = cfg.resolve(algo_cls, config_file, sets or (), task=task, seed=seed, **overrides)
    run = RunDir(check_out_dir(out))
    if run.config.exists():
        raise ValueError(f"{run.path} already holds a run; use --resume {run.path} to "
                         f"continue it, or choose another --out")
    algo = algo_cls(config)  # a bad config fails here, before anything is created
    try:
        run.path.mkdir(parents=True, exist_ok=True)  # an OSError here names --out (rc 2)
        cfg.dump(config, run.config)
    except BaseException:
        algo.close()
        raise
    return run, config, algo


def resume_config(out: str | Path, sets: list[str] | None,
                  **overrides: Any) -> tuple[RunDir, dict]:
    """The run's config with `sets` / `overrides` applied; only RESUMABLE_KEYS may change."""
    run = RunDir(out)
    stored = cfg.load(run.config)
    algo_cls = algorithm_class(stored["algo"])
    config = cfg.resolve(algo_cls, run.config)  # re-checked, and filled in for old runs
    changed = cfg.resolve(algo_cls, run.config, sets or (), **overrides)
    for key in changed:
        if changed[key] != config[key] and key not in RESUMABLE_KEYS:
            raise ValueError(f"--resume may change only {', '.join(RESUMABLE_KEYS)}; "
                             f"{key!r} would change the run's numbers")
    rows = run.read_metrics()
    done = rows[-1]["iteration"] + 1 if rows else 0
    if changed["iterations"] < done:
        raise ValueError(f"iterations={changed['iterations']} is below the {done} iterations "
                         f"{run.path} has already done; --resume takes iterations >= {done} "
                         f"(start a new run for a shorter one)")
    cfg.dump(changed, run.config)
    return run, changed


def train(run: RunDir, config: dict[str, Any], resume: bool = False,
          progress: bool = True, algo: Algorithm | None = None) -> dict[str, Any]:
    """Run (or continue) training; returns a summary with the last test evaluation.
    `algo`: the run's algorithm if the caller built it (`start`), else built here; either
    way it is closed at the end."""
    if algo is None:
        algo = algorithm_class(config["algo"])(config)
    try:
        return _train(run, config, algo, resume, progress)
    except WriteFailed as err:
        kept = checkpoint.list_checkpoints(run.checkpoints)
        where = (f"resumes from its checkpoint after {checkpoint.iterations_done(kept[-1])} "
                 f"iterations" if kept else "restarts from iteration 0")
        raise WriteFailed(f"{err}; once that is mended, {run.path} {where} "
                          f"(workbench train --resume {run.path})") from err
    finally:
        algo.close()  # Ray actors (and a Ray instance this run started) go, even on errors


def restore(run: RunDir, algo: Algorithm, expect: dict[str, Any], counters: dict[str, Any],
            resume: bool) -> int:
    """Bring `algo` and `counters` to the run's latest usable checkpoint (resume) or start
    afresh; returns the first iteration to train. Metrics after the checkpoint are dropped,
    and a fresh start checkpoints its initial state, so the directory can always be
    resumed."""
    first = 0
    if resume:
        found = checkpoint.latest_usable(
            run.checkpoints, expect, warn=lambda text: print(f"workbench: warning: {text}",
                                                             file=sys.stderr))
        if found is None:  # killed before the first checkpoint, or every one damaged
            print(f"workbench: {run.path} has no usable checkpoint; restarting it from "
                  f"iteration 0", file=sys.stderr)
        else:
            path, data = found
            try:
                algo.load_state_dict(data["state"])
            except (KeyError, ValueError, RuntimeError) as err:
                raise checkpoint.CheckpointError(f"{path}: does not match this run's config "
                                                 f"({err})") from None
            first = int(data["iteration"])
            counters.update({k: data.get(k, v) for k, v in counters.items()})
        run.write_metrics([m for m in run.read_metrics() if m["iteration"] < first])
    else:
        if run.metrics.exists():
            run.metrics.unlink()
        write_provenance(run)
    if first == 0:
        checkpoint.save(run.checkpoints, 0, {**expect, **counters, "state": algo.state_dict()})
    return first


def checkpoint_due(done: int, total: int, stopping: bool, every: int) -> bool:
    """Checkpoint after iteration `done`: when stopping, at the end, and every `every`."""
    return stopping or done == total or done % every == 0


def _train(run: RunDir, config: dict[str, Any], algo: Algorithm, resume: bool,
           progress: bool) -> dict[str, Any]:
    backend = algo.backend
    counters: dict[str, Any] = {"rollouts": 0, "env_steps": 0, "wall_time_s": 0.0,
                                **{key: 0 for key in backend.counter_keys}}
    expect = {"algo": config["algo"], "task": config["task"]["name"]}
    first = restore(run, algo, expect, counters, resume)
    total, budget = int(config["iterations"]), cfg.rollout_budget(config)
    last_eval, last_png, stopped = None, None, False
    bar = progress_display(range(first, total), enabled=progress, initial=first, total=total,
                           desc=f"{config['algo']} {config['task']['name']}", unit="it",
                           dynamic_ncols=True)
    # Connect first: ray.init installs its own SIGTERM handler, which must not replace
    # the run loop's (finish the iteration, checkpoint, stop).
    backend.start()
    with stop_requests(training=True) as stop, \
            RunLog(run, first, counters["env_steps"], resume) as log:
        for it in bar:
            tick = time.perf_counter()
            result = algo.train_iteration(it)
            counters["rollouts"] += result.rollouts
            counters["env_steps"] += result.env_steps
            record: dict[str, Any] = {
                "iteration": it, "rollouts": counters["rollouts"],
                "env_steps": counters["env_steps"],
                "train/pre_adaptation_return": float(result.pre_return),
                "train/post_adaptation_return": float(result.post_return)}
            spent = budget > 0 and counters["rollouts"] >= budget
            if is_eval_iteration(it, int(config["eval_every"])) or spent:
                last_eval = evaluate_once(algo, it, int(config["seed"]))
                record.update(eval_record(last_eval))
                write_adaptations(run, last_eval, it)
                last_png = write_trajectories(run, algo, last_eval, it, log.image) or last_png
            counters["wall_time_s"] += time.perf_counter() - tick
            record["wall_time_s"] = counters["wall_time_s"]
            for key, text in backend.drain_events():
                if key is not None:
                    counters[key] += 1
                log.text(f"{backend.name}/events", text, it)
                bar.write(f"[{backend.name}] iteration {it}: {text}", file=sys.stderr)
            record.update({key: counters[key] for key in backend.counter_keys})
            log.iteration(it, record, result.extras)
            bar.set_postfix(post=f"{record['train/post_adaptation_return']:.1f}",
                            test=f"{last_eval.post_return:.1f}" if last_eval else "-")
            done = it + 1
            total = done if spent else total
            if checkpoint_due(done, total, stop.requested, int(config["checkpoint_every"])):
                checkpoint.save(run.checkpoints, done,
                                {**expect, **counters, "state": algo.state_dict()})
            if (stop.requested and done < total) or spent:
                stopped = stop.requested and done < total
                break
    bar.close()
    return {"run_dir": str(run.path), "stopped": stopped,
            "iterations": total if not stopped else done,
            "test": eval_record(last_eval) if last_eval else None,
            "trajectory_png": str(last_png) if last_png else None}


def load_run(path: str | Path, **overrides: Any) -> tuple[Algorithm, dict[str, Any], int, Path]:
    """A run's algorithm restored from its latest checkpoint: (algorithm, config with
    `overrides` applied, the checkpoint's iteration, the checkpoint's path)."""
    run = RunDir(path)
    config = {**cfg.load(run.config), **overrides}
    algo = algorithm_class(config["algo"])(config)
    ckpt = checkpoint.latest(run.checkpoints)
    data = checkpoint.load(ckpt, {"algo": config["algo"], "task": config["task"]["name"]})
    algo.load_state_dict(data["state"])
    return algo, config, int(data["iteration"]), ckpt


def evaluate_run(path: str | Path, adaptations: int | None = None) -> dict[str, Any]:
    """Load a run's latest checkpoint and evaluate it on the test tasks.

    A checkpoint after n iterations holds the state the run loop evaluated after iteration
    n - 1, and the evaluation draws its tasks and seeds from the stream of that iteration,
    so the result equals the logged `test/*` values of metrics line n - 1 when that line has
    them and `adaptations` is the run's `eval_adaptations`. `logged_post_adaptation_return`
    and `note` say whether it matches the log, or why it cannot."""
    from torch.utils.tensorboard import SummaryWriter

    if adaptations is not None and int(adaptations) < 1:
        raise ValueError(f"--adaptations must be a positive number of test adaptations; "
                         f"got {adaptations}")
    run = RunDir(path)
    overrides = {"eval_adaptations": int(adaptations)} if adaptations is not None else {}
    stored = int(cfg.load(run.config)["eval_adaptations"])
    algo, _, iteration, ckpt = load_run(path, **overrides)
    stream = max(iteration - 1, 0)  # the iteration whose evaluation this one repeats
    try:
        with torch.no_grad():
            result = evaluate_once(algo, stream, int(cfg.load(run.config)["seed"]))
    finally:
        algo.close()
    logged = next((m for m in run.read_metrics() if m["iteration"] == stream), None)
    logged_post = logged.get("test/post_adaptation_return") if logged else None
    if iteration == 0:
        note = ("the checkpoint is the initial state (no iteration done), which the run "
                "never evaluated; tasks and seeds are those of iteration 0's evaluation")
    elif adaptations is not None and int(adaptations) != stored:
        note = (f"--adaptations {adaptations} differs from the run's eval_adaptations "
                f"{stored}, so the value differs from the logged one")
    elif logged_post is None:
        note = (f"iteration {stream} was not an evaluation iteration: the value is what its "
                f"evaluation would have logged")
    else:
        note = f"same tasks and seeds as the logged evaluation of iteration {stream}"
    writer = SummaryWriter(str(run.path / "evaluate"))
    png = write_trajectories(run, algo, result, iteration, lambda tag, rgba, it: writer.add_image(
        tag, rgba[..., :3], global_step=it, dataformats="HWC"))
    writer.close()
    return {"run_dir": str(run.path), "checkpoint": str(ckpt), "iteration": iteration,
            **eval_record(result), "logged_post_adaptation_return": logged_post,
            "note": note, "trajectory_png": str(png) if png else None}
