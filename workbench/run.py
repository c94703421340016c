"""The training loop every algorithm shares: run directory, metrics, TensorBoard, checkpoints.

A run directory holds `config.yaml` (the fully resolved config), `metrics.jsonl` (one JSON
object per iteration, keys listed in docs/es-maml.md), TensorBoard event files (the same keys as
scalar tags), `checkpoints/` and `figures/`. Test evaluations happen after iteration 0 and
after every `eval_every`-th iteration (a schedule that does not depend on `iterations`, so
extending a run reproduces an uninterrupted one). SIGINT / SIGTERM finish the current
iteration, checkpoint and stop; `resume` continues from the latest checkpoint and drops
any metrics written after it, so the resumed file equals an uninterrupted run's (but for
wall time).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from tqdm import tqdm

from workbench import checkpoint, config as cfg, metrics
from workbench.algorithm import Algorithm, EvalResult, algorithm_class
from workbench.plotting import save_figure, trajectory_figure

#: Config keys a resume may change: they do not alter any number the run computes.
RESUMABLE_KEYS = ("iterations", "checkpoint_every", "backend", "ray_address", "ray_actors",
                  "ray_actor_cpus", "budget_rollouts")


class RunDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.config = self.path / "config.yaml"
        self.metrics = self.path / "metrics.jsonl"
        self.checkpoints = self.path / "checkpoints"
        self.figures = self.path / "figures"

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics.is_file():
            return []
        return [json.loads(line) for line in self.metrics.read_text().splitlines() if line.strip()]


def is_eval_iteration(iteration: int, eval_every: int) -> bool:
    return iteration == 0 or (iteration + 1) % eval_every == 0


@contextmanager
def stop_on_signals() -> Iterator[dict[str, bool]]:
    """A flag set by SIGINT/SIGTERM; a second SIGINT interrupts at once."""
    flag = {"stop": False}
    previous = {}

    def handler(signum, frame):
        if flag["stop"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag["stop"] = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread: no signal handling
            pass
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def eval_record(result: EvalResult) -> dict[str, float]:
    return {"test/pre_adaptation_return": float(result.pre_return),
            "test/post_adaptation_return": float(result.post_return)}


def write_trajectories(run: RunDir, algo: Algorithm, result: EvalResult, iteration: int,
                       writer) -> Path | None:
    if result.trajectories is None:
        return None
    title = (f"{algo.family.name}, iteration {iteration}: adapted policies "
             f"(post-adaptation return {result.post_return:.1f})")
    fig = trajectory_figure(algo.family, result.trajectories, result.trajectory_tasks, title)
    path = save_figure(fig, run.figures / f"trajectories_{iteration:06d}.png")
    writer.add_figure("test/trajectories", fig, global_step=iteration)
    return path


def start(algo_name: str, task: str, out: str | Path, config_file: str | None = None,
          sets: list[str] | None = None, seed: int | None = None,
          **overrides: Any) -> tuple[RunDir, dict]:
    """Resolve a new run's config and create its directory (refusing to overwrite a run).

    `overrides` (e.g. `backend`, `ray_address` from command-line flags) apply last."""
    config = cfg.resolve(algorithm_class(algo_name), config_file, sets or (), task=task,
                         seed=seed, **overrides)
    run = RunDir(out)
    if run.config.exists():
        raise ValueError(f"{run.path} already holds a run; use --resume {run.path} to "
                         f"continue it, or choose another --out")
    algorithm_class(algo_name)(config)  # fail on a bad config before creating anything
    run.path.mkdir(parents=True, exist_ok=True)
    cfg.dump(config, run.config)
    return run, config


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
    cfg.dump(changed, run.config)
    return run, changed


def train(run: RunDir, config: dict[str, Any], resume: bool = False,
          progress: bool = True) -> dict[str, Any]:
    """Run (or continue) training; returns a summary with the last test evaluation."""
    algo = algorithm_class(config["algo"])(config)
    try:
        return _train(run, config, algo, resume, progress)
    finally:
        algo.close()  # Ray actors (and a Ray instance this run started) go, even on errors


def _train(run: RunDir, config: dict[str, Any], algo: Algorithm, resume: bool,
           progress: bool) -> dict[str, Any]:
    from torch.utils.tensorboard import SummaryWriter

    backend = algo.backend
    first = 0
    counters: dict[str, Any] = {"rollouts": 0, "env_steps": 0, "wall_time_s": 0.0,
                                **{key: 0 for key in backend.counter_keys}}
    expect = {"algo": config["algo"], "task": config["task"]["name"]}
    if resume:
        path = checkpoint.latest(run.checkpoints)
        data = checkpoint.load(path, expect)
        try:
            algo.load_state_dict(data["state"])
        except (KeyError, ValueError, RuntimeError) as err:
            raise checkpoint.CheckpointError(f"{path}: does not match this run's config "
                                             f"({err})") from None
        first = int(data["iteration"])
        counters = {k: data.get(k, v) for k, v in counters.items()}
        kept = [m for m in run.read_metrics() if m["iteration"] < first]
        run.metrics.write_text("".join(json.dumps(m) + "\n" for m in kept))
    elif run.metrics.exists():
        run.metrics.unlink()

    total = int(config["iterations"])
    writer = SummaryWriter(str(run.path), purge_step=first if resume else None)
    # The env-step curves live in their own event file, whose steps are env steps
    steps_writer = SummaryWriter(str(run.path / metrics.ENV_STEP_LOGDIR),
                                 purge_step=counters["env_steps"] + 1 if resume else None)
    last_eval, last_png = None, None
    bar = tqdm(range(first, total), initial=first, total=total, disable=not progress,
               desc=f"{config['algo']} {config['task']['name']}", unit="it", dynamic_ncols=True)
    stopped = False
    # Connect first: ray.init installs its own SIGTERM handler, which must not replace
    # the run loop's (finish the iteration, checkpoint, stop).
    backend.start()
    with stop_on_signals() as flag, run.metrics.open("a") as metrics_file:
        for it in bar:
            tick = time.perf_counter()
            result = algo.train_iteration(it)
            counters["rollouts"] += result.rollouts
            counters["env_steps"] += result.env_steps
            record: dict[str, Any] = {
                "iteration": it,
                "rollouts": counters["rollouts"],
                "env_steps": counters["env_steps"],
                "train/pre_adaptation_return": float(result.pre_return),
                "train/post_adaptation_return": float(result.post_return),
            }
            budget = int(config.get("budget_rollouts") or 0)
            spent = budget > 0 and counters["rollouts"] >= budget
            if is_eval_iteration(it, int(config["eval_every"])) or spent:
                last_eval = algo.evaluate(it, record=True)
                record.update(eval_record(last_eval))
                last_png = write_trajectories(run, algo, last_eval, it, writer) or last_png
                for key, value in last_eval.extras.items():
                    writer.add_scalar(key, value, it)
            counters["wall_time_s"] += time.perf_counter() - tick
            record["wall_time_s"] = counters["wall_time_s"]
            for key, text in backend.drain_events():
                if key is not None:
                    counters[key] += 1
                writer.add_text(f"{backend.name}/events", text, it)
                tqdm.write(f"[{backend.name}] iteration {it}: {text}", file=sys.stderr)
            for key in backend.counter_keys:
                record[key] = counters[key]
            metrics_file.write(json.dumps(record) + "\n")
            metrics_file.flush()
            for key, value in record.items():
                if key != "iteration":
                    writer.add_scalar(key, value, it)
            for key, value in result.extras.items():
                writer.add_scalar(key, value, it)
            env_step, scalars = metrics.env_step_scalars(record)
            for tag, value in scalars:
                steps_writer.add_scalar(tag, value, env_step)
            bar.set_postfix(post=f"{record['train/post_adaptation_return']:.1f}",
                            test=f"{last_eval.post_return:.1f}" if last_eval else "-")
            done = it + 1
            if spent:
                total = done
            if flag["stop"] or done == total or done % int(config["checkpoint_every"]) == 0:
                checkpoint.save(run.checkpoints, done,
                                {**expect, **counters, "state": algo.state_dict()})
            if flag["stop"] and done < total:
                stopped = True
                break
            if spent:
                break
    bar.close()
    writer.close()
    steps_writer.close()
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
    """Load a run's latest checkpoint and evaluate it on the test tasks."""
    from torch.utils.tensorboard import SummaryWriter

    run = RunDir(path)
    overrides = {"eval_adaptations": int(adaptations)} if adaptations else {}
    algo, _, iteration, ckpt = load_run(path, **overrides)
    try:
        with torch.no_grad():
            result = algo.evaluate(iteration, record=True)
    finally:
        algo.close()
    writer = SummaryWriter(str(run.path / "evaluate"))
    png = write_trajectories(run, algo, result, iteration, writer)
    writer.close()
    return {"run_dir": str(run.path), "checkpoint": str(ckpt), "iteration": iteration,
            **eval_record(result), "trajectory_png": str(png) if png else None}
