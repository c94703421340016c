"""The env-step TensorBoard curves: step = cumulative env steps, equal to metrics.jsonl."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ES_TINY, set_args
from workbench import metrics
from workbench.app import run as runmod
from workbench.app.cli import main

PG_TINY = ["meta_batch=4", "K=3", "horizon=20", "eval_every=2", "eval_adaptations=4",
           "width=8", "checkpoint_every=2"]


def _scalars(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(logdir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)]
            for tag in acc.Tags()["scalars"]}


def _train(out: Path, algo: str, sets: list[str], *extra: str) -> None:
    args = ["train", "--algo", algo, "--task", "four-corners", "--out", str(out), "--seed", "0",
            "--quiet", *set_args(sets), *extra]
    assert main(args) == 0


def _check_against_metrics(out: Path) -> None:
    rows = runmod.RunDir(out).read_metrics()
    series = _scalars(out / metrics.ENV_STEP_LOGDIR)
    for key in metrics.ENV_STEP_CURVES:
        tag = metrics.env_step_tag(key)
        expected = [(r[metrics.ENV_STEPS], r[key]) for r in rows if key in r]
        assert expected, key
        assert [s for s, _ in series[tag]] == [s for s, _ in expected], tag
        assert [v for _, v in series[tag]] == pytest.approx([v for _, v in expected],
                                                            rel=1e-6), tag
    # the per-iteration tags are still there, stepped by iteration
    per_iteration = _scalars(out)
    assert [s for s, _ in per_iteration[metrics.TRAIN_POST]] == [r["iteration"] for r in rows]


@pytest.mark.parametrize("algo,sets", [("es-maml", ES_TINY), ("promp", PG_TINY)])
def test_env_step_tags_are_stepped_by_cumulative_env_steps(tmp_path, algo, sets):
    out = tmp_path / algo
    _train(out, algo, [*sets, "iterations=4"])
    _check_against_metrics(out)
    assert {metrics.env_step_tag(k) for k in metrics.ENV_STEP_CURVES} == set(
        _scalars(out / metrics.ENV_STEP_LOGDIR))


def test_env_step_tags_survive_a_resume_without_duplicates(tmp_path):
    out = tmp_path / "r"
    _train(out, "es-maml", [*ES_TINY, "iterations=3", "checkpoint_every=2"])
    # as if stopped after iteration 2 was logged but before its checkpoint: the resume
    # re-runs iteration 2, whose env-step events must be purged, not doubled
    (out / "checkpoints" / "iter_000003.pt").unlink()
    assert main(["train", "--resume", str(out), "--set", "iterations=6", "--quiet"]) == 0
    _check_against_metrics(out)
