"""The reproduction harness: every figure at smoke scale, resuming, verdict rules, errors."""

from __future__ import annotations

import csv
from pathlib import Path
import json
import re
import shutil

import numpy as np
import pytest

from reproductions import plots, runner
from reproductions.verdicts import at_least, at_most, greater, not_worse, overall
from reproductions.spec import FAILS, HOLDS, INCONCLUSIVE, VERDICTS, Check
from workbench.app import runconfig as cfg
from workbench.app import jobs as jobmod
from workbench.app import run as runmod
from workbench.app.cli import main
from workbench.metrics import WALL_TIME

from tests.conftest import RAY_GROUP, SMOKE_GROUP

#: Derived from the registry, never repeated here: a new figure is tested by being registered.
FIGURES = runner.order()
SPECS = Path(runner.__file__).parent / "specs"


@pytest.fixture
def smoke(smoke_reproduction):
    """`workbench reproduce all --scale smoke`, trained once per session (tests/conftest.py);
    read only."""
    return smoke_reproduction


def test_every_figure_spec_file_is_registered_in_the_papers_order():
    files = sorted(p.stem for p in SPECS.glob("*.py") if p.stem not in ("__init__", "common"))
    assert sorted(FIGURES) == files
    figs = [n for n in FIGURES if n.startswith("fig")]
    assert FIGURES == figs + [n for n in FIGURES if not n.startswith("fig")]
    assert figs == sorted(figs) and len(figs) >= 5


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_has_smoke_local_and_paper_scales_that_resolve(name, tmp_path):
    figure = runner.load_figure(name)
    assert list(figure.scales) == ["smoke", "local", "paper"]
    local = figure.scale("local")
    assert local.seeds >= 3 and (" h " in f"{local.wall_time} " or "min" in local.wall_time)
    prepared = runner.prepare(name, "local", tmp_path)  # every run's config resolves
    assert len(prepared.jobs) == len(local.runs) * local.seeds
    assert not any(tmp_path.iterdir())  # and nothing is written


@pytest.mark.slow
@SMOKE_GROUP
def test_every_figure_at_smoke_scale_writes_csv_png_and_a_computed_report(smoke):
    report = (smoke / "report.md").read_text()
    for name in FIGURES:
        figure = runner.load_figure(name)
        runs = figure.scale("smoke").runs
        with (smoke / f"{name}.csv").open() as f:
            rows = list(csv.DictReader(f))
        # every run contributes its test evaluations (iteration 0 and each later one)
        assert {r["run"] for r in rows} == {run.name for run in runs}
        for run in runs:
            its = [int(r["iteration"]) for r in rows if r["run"] == run.name]
            assert its == list(range(int(run.sets["iterations"])))
        others = [a for a in ("iterations", "rollouts", "wall_time") if a != figure.x_label]
        # a figure whose every panel sets ES against PG is drawn by rollouts already
        by_rollouts = all(plots.es_vs_pg([r for r in runs if p.name in r.panels])
                          for p in figure.panels if any(p.name in r.panels for r in runs))
        others = [a for a in others if not (a == "rollouts" and by_rollouts)]
        assert not (by_rollouts and (smoke / f"{name}_rollouts.png").exists())
        for png in (f"{name}.png", *[f"{name}_{a}.png" for a in others]):
            assert (smoke / png).stat().st_size > 10_000, png
        section = (smoke / "report" / f"{name}.md").read_text()
        assert section in report
        assert figure.claim in section
        verdict_rows = [line for line in section.splitlines()
                        if line.startswith("| ") and line.rstrip().endswith(
                            tuple(f"{v} |" for v in VERDICTS))]
        assert verdict_rows or not any(c.check for c in figure.claims), name
        # smoke scale tests no claim: every verdict is inconclusive, with what the
        # numbers alone said where a rule gave one
        assert all(row.rstrip().endswith(f"{INCONCLUSIVE} |") for row in verdict_rows)
        assert f"**Verdict: {INCONCLUSIVE}.**" in section
    for picture in ("fig1_exploration.png", "fig2_trajectories.png", "a4_exploration.png"):
        assert (smoke / picture).stat().st_size > 10_000


@pytest.mark.slow
@SMOKE_GROUP
def test_a_second_reproduction_reuses_every_finished_run(smoke_copy, capsys):
    smoke = smoke_copy
    metrics = smoke / "runs" / "fig2" / "smoke" / "hc-K20" / "seed0" / "metrics.jsonl"
    before = metrics.stat().st_mtime_ns
    result = runner.reproduce("fig2", "smoke", smoke, progress=False)
    runs = len(runner.load_figure("fig2").scale("smoke").runs)
    assert result["trained"] == 0 and result["reused"] == runs == 2
    assert metrics.stat().st_mtime_ns == before


def test_a_log_says_when_each_run_started_and_finished(tmp_path, capsys):
    """stderr that is not a terminal (a log file) gets plain lines, each stamped with the
    date and time, one as each run starts and one as it finishes."""
    assert main(["reproduce", "a6", "--scale", "smoke", "--out", str(tmp_path)]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "runs " in line]
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
    assert re.fullmatch(stamp + r"runs 0/1: a6 \S+ seed 0 started at 0/\d+ iterations",
                        lines[0]), lines
    assert re.fullmatch(stamp + r"runs 1/1: a6 \S+ seed 0 finished at (\d+)/\1 iterations",
                        lines[-1]), lines


def _stopped_after_one_iteration(out: Path, figure: str) -> tuple:
    """The figure's first smoke run, seed 0, left under `out` as a run stopped after its
    first iteration would be (checkpointed); returns the run and its directory."""
    run = runner.load_figure(figure).scale("smoke").runs[0]
    path = out / "runs" / figure / "smoke" / run.name / "seed0"
    config = jobmod.resolved_config(run.algo, run.task, [*run.set_list(), "iterations=1"],
                                        0, "local")
    path.mkdir(parents=True)
    cfg.dump(config, path / "config.yaml")
    runmod.train(runmod.RunDir(path), config, progress=False)
    return run, path


@pytest.mark.slow
@SMOKE_GROUP
def test_an_interrupted_reproduction_resumes_and_matches_an_uninterrupted_one(tmp_path, smoke):
    # a6 at smoke: one run of 3 iterations. Leave it as a stopped run would (1 iteration,
    # checkpointed), then reproduce: the run is resumed, not restarted, and its numbers
    # are the uninterrupted ones.
    run, path = _stopped_after_one_iteration(tmp_path, "a6")
    assert len(runmod.RunDir(path).read_metrics()) == 1
    result = runner.reproduce("a6", "smoke", tmp_path, progress=False)
    assert result["trained"] == 1 and result["reused"] == 0
    resumed = runmod.RunDir(path).read_metrics()
    reference = runmod.RunDir(smoke / "runs" / "a6" / "smoke" / run.name / "seed0").read_metrics()
    strip = [{k: v for k, v in m.items() if k != WALL_TIME} for m in resumed]
    assert strip == [{k: v for k, v in m.items() if k != WALL_TIME} for m in reference]
    # a deleted run is retrained, the others reused
    shutil.rmtree(path)
    result = runner.reproduce("a6", "smoke", tmp_path, progress=False)
    assert result["trained"] == 1


@pytest.mark.slow
@SMOKE_GROUP
def test_parallel_jobs_give_the_same_numbers_as_one_process(tmp_path, smoke):
    runner.reproduce("a4", "smoke", tmp_path, jobs=2, progress=False)
    for run in ("es", "pg"):
        a = (tmp_path / "runs" / "a4" / "smoke" / run / "seed0" / "metrics.jsonl").read_text()
        b = (smoke / "runs" / "a4" / "smoke" / run / "seed0" / "metrics.jsonl").read_text()
        strip = lambda text: [{k: v for k, v in json.loads(line).items() if k != WALL_TIME}
                              for line in text.splitlines()]
        assert strip(a) == strip(b)


def _cost_cache(out: Path, figure: str, scale: str, seconds: tuple[float, ...]) -> list[str]:
    """Write a `--time-at-scale` cache under `out` giving the figure's runs (in spec order)
    these seconds per iteration; returns the run names."""
    from reproductions import timing
    runs = runner.load_figure(figure).scale(scale).runs
    cache = {timing.cost_key(r): {"cpu_seconds": s, "commit": "x", "date": "d"}
             for r, s in zip(runs, seconds) if s is not None}
    (out / timing.CACHE).write_text(json.dumps(cache))
    return [r.name for r in runs]


#: a4's policy-H panel: the runs es (ES-MAML) and pg (MAML-TRPO), in that spec order.
H_PANEL = ["curve"]


def test_runs_train_longest_first_when_every_run_s_cost_is_known(tmp_path):
    """a4 local, panel H: es 300 iterations, pg 100, 5 seeds each, es first in the spec."""
    order = lambda: [job.path.parent.name for job in
                     runner.prepare("a4", "local", tmp_path, panels=H_PANEL).jobs]
    assert order() == ["es"] * 5 + ["pg"] * 5  # no costs known: the spec's order
    _cost_cache(tmp_path, "a4", "local", (1.0, 4.0))  # es 300 s a run, pg 400 s
    assert order() == ["pg"] * 5 + ["es"] * 5
    _cost_cache(tmp_path, "a4", "local", (1.0, 2.0))  # es 300 s, pg 200 s
    assert order() == ["es"] * 5 + ["pg"] * 5
    _cost_cache(tmp_path, "a4", "local", (None, 4.0))  # es's cost unknown: the spec's order
    assert order() == ["es"] * 5 + ["pg"] * 5
    _cost_cache(tmp_path, "a4", "local", (1.0, 4.0))
    jobs = runner.prepare("a4", "local", tmp_path, panels=H_PANEL).jobs
    assert [(j.path.parent.name, j.path.name) for j in jobs[:2]] == [("pg", "seed0"),
                                                                      ("pg", "seed1")]


def test_costs_that_cannot_be_read_leave_the_spec_s_order(tmp_path):
    """Ordering is an optimisation: a torn metrics line (a run killed, or training in
    another process) is left out, and a damaged cache leaves the spec's order."""
    from reproductions import timing
    _cost_cache(tmp_path, "a4", "local", (1.0, 4.0))
    seed = tmp_path / "runs" / "a4" / "paper" / "es" / "seed0"  # es's cost from a run: 5 s
    seed.mkdir(parents=True)
    (seed / "metrics.jsonl").write_text(json.dumps({"iteration": 0, WALL_TIME: 5.0})
                                        + '\n{"iteration": 1, "wall_')
    order = lambda: [job.path.parent.name for job in
                     runner.prepare("a4", "local", tmp_path, panels=H_PANEL).jobs]
    assert order() == ["es"] * 5 + ["pg"] * 5  # es 1,500 s a run, pg 400 s
    for damaged in ('{"truncated', '[]', '{"k": {"commit": "x"}}'):
        (tmp_path / timing.CACHE).write_text(damaged)
        with pytest.raises(ValueError, match="is not a seconds-per-iteration cache"):
            timing.known(tmp_path, [runner.load_figure("a4")])
        (seed / "metrics.jsonl").unlink()
        assert order() == ["es"] * 5 + ["pg"] * 5
        (seed / "metrics.jsonl").write_text(json.dumps({"iteration": 0, WALL_TIME: 5.0}))


@pytest.mark.slow
def test_a_resumed_run_is_ordered_by_the_work_it_has_left(tmp_path):
    """a4 smoke, panel H: es and pg, 2 iterations each. At 3 s an es iteration and 2 s a pg
    one, es goes first (6 s to 4 s); once es has 1 of its 2 iterations checkpointed, pg does
    (3 s to 4 s)."""
    names = _cost_cache(tmp_path, "a4", "smoke", (3.0, 2.0))
    order = lambda: [job.path.parent.name for job in
                     runner.prepare("a4", "smoke", tmp_path, panels=H_PANEL).jobs]
    assert order() == names[:2] == ["es", "pg"]
    _, path = _stopped_after_one_iteration(tmp_path, "a4")
    rows = runmod.RunDir(path).read_metrics()
    assert len(rows) == 1  # its own cost, 3 s an iteration as in the cache (not the real one)
    (path / "metrics.jsonl").write_text(json.dumps({**rows[0], WALL_TIME: 3.0}) + "\n")
    assert order() == ["pg", "es"]


# -- errors ---------------------------------------------------------------------------
def test_bad_names_fail_with_the_valid_ones(tmp_path, capsys):
    assert main(["reproduce", "fig9", "--out", str(tmp_path)]) == 2
    assert "unknown figure 'fig9'; valid: fig1, fig2" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:  # argparse: the scale is not a choice
        main(["reproduce", "fig1", "--scale", "small", "--out", str(tmp_path)])
    assert stop.value.code == 2
    assert "invalid choice: 'small' (choose from smoke, local, paper)" in \
        capsys.readouterr().err.replace("'smoke', 'local', 'paper'", "smoke, local, paper")
    with pytest.raises(ValueError, match="figure fig1 has no scale 'small'; valid: smoke, "
                                         "local, paper"):
        runner.load_figure("fig1").scale("small")
    assert main(["reproduce", "fig4", "--panel", "cartpol", "--out", str(tmp_path)]) == 2
    assert "has no panel cartpol; valid: cartpole, cartpole-norml, swimmer, walker" in capsys.readouterr().err
    assert main(["reproduce", "fig2", "--seeds", "0", "--out", str(tmp_path)]) == 2
    assert "--seeds must be a count N >= 1 (seeds 0 to N-1) or a range FIRST-LAST" in \
        capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # nothing was created


@pytest.mark.slow
@SMOKE_GROUP
def test_a_run_directory_with_another_config_is_not_silently_reused(tmp_path, smoke):
    shutil.copytree(smoke / "runs" / "fig2", tmp_path / "runs" / "fig2")
    path = tmp_path / "runs" / "fig2" / "smoke" / "hc-K20" / "seed0"
    run = runner.load_figure("fig2").scale("smoke").runs[0]
    config = jobmod.resolved_config(run.algo, run.task, [*run.set_list(), "K=5"], 0)
    with pytest.raises(jobmod.ConfigMismatch,
                       match=r"holds a run with K=20; this command asks for K=5"):
        jobmod.plan([jobmod.Job("hc-K20", path, config)])


def test_every_run_is_checked_before_the_first_one_trains(tmp_path):
    # a4 at smoke trains "es", then "pg". A "pg" directory of another config is refused
    # before "es" starts: nothing is created, the stale directory is left as it was.
    run = next(r for r in runner.load_figure("a4").scale("smoke").runs if r.name == "pg")
    pg = tmp_path / "runs" / "a4" / "smoke" / "pg" / "seed0"
    pg.mkdir(parents=True)
    cfg.dump(jobmod.resolved_config(run.algo, run.task, [*run.set_list(), "K=7"], 0),
             pg / "config.yaml")
    before = (pg / "config.yaml").read_bytes()
    assert main(["reproduce", "a4", "--quiet", "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "runs" / "a4" / "smoke" / "es").exists()
    assert [p.name for p in pg.iterdir()] == ["config.yaml"]
    assert (pg / "config.yaml").read_bytes() == before
    assert not (tmp_path / "a4.csv").exists()


# -- verdict rules ---------------------------------------------------------------------
def test_greater_uses_two_standard_errors_of_the_difference():
    rng = np.random.default_rng(0)
    a, b = rng.normal(10, 1, 5), rng.normal(0, 1, 5)
    assert greater("a > b", a, b, "a", "b").verdict == HOLDS
    assert greater("b > a", b, a, "b", "a").verdict == FAILS
    assert greater("close", a, a + 0.1, "a", "a'").verdict == INCONCLUSIVE
    assert greater("one seed", a[:1], b[:1], "a", "b").verdict == INCONCLUSIVE
    # exactly at the boundary: d = 2 SE is not enough
    x, y = np.array([1.0, 3.0]), np.array([0.0, 0.0])  # d = 2, SE = sqrt(2/2) = 1
    assert greater("boundary", x, y, "x", "y").verdict == INCONCLUSIVE
    assert greater("beyond", x + 0.01, y, "x", "y").verdict == HOLDS


def test_not_worse_at_least_at_most_and_overall():
    a = np.array([1.0, 1.1, 0.9])
    assert not_worse("a >= a", a, a, "a", "a").verdict == HOLDS
    assert not_worse("a >= a + 5", a, a + 5, "a", "b").verdict == FAILS
    assert at_least("all >= 0.8", a, 0.8, "a").verdict == HOLDS
    assert at_least("mean >= 1, not all", a, 1.0, "a").verdict == INCONCLUSIVE
    assert at_least("all >= 2", a, 2.0, "a").verdict == FAILS
    assert at_most("all <= 1.2", a, 1.2, "a").verdict == HOLDS
    assert at_most("all <= 0.5", a, 0.5, "a").verdict == FAILS
    c = lambda v: Check("", v, "")
    assert overall([c(HOLDS), c(HOLDS)]) == HOLDS
    assert overall([c(HOLDS), c(INCONCLUSIVE)]) == INCONCLUSIVE
    assert overall([c(HOLDS), c(FAILS), c(INCONCLUSIVE)]) == FAILS


@pytest.mark.slow
@RAY_GROUP
def test_reproduce_on_ray_gives_the_local_numbers(tmp_path, smoke, ray_cluster):
    # ES-MAML and PG-MAML runs alike go to Ray actors, with the local numbers.
    runner.reproduce("a4", "smoke", tmp_path, backend="ray", progress=False)
    for run, backend in (("es", "ray"), ("pg", "ray")):
        path = tmp_path / "runs" / "a4" / "smoke" / run / "seed0"
        assert cfg.load(path / "config.yaml")["backend"] == backend
        strip = lambda p: [{k: v for k, v in json.loads(line).items()
                            if k not in (WALL_TIME, "ray/actor_restarts")}
                           for line in (p / "metrics.jsonl").read_text().splitlines()]
        assert strip(path) == strip(smoke / "runs" / "a4" / "smoke" / run / "seed0")


def test_seeds_take_a_count_or_a_range_and_say_what_is_allowed():
    assert runner.parse_seeds(None, 3) == [0, 1, 2]
    assert runner.parse_seeds("4", 3) == [0, 1, 2, 3]
    assert runner.parse_seeds("5-7", 3) == [5, 6, 7]
    for bad in ("0", "7-5", "a", "-3", "2-x"):
        with pytest.raises(ValueError, match="--seeds must be a count N >= 1 .* got"):
            runner.parse_seeds(bad, 3)


def test_run_and_seed_range_select_new_seeds_of_a_few_runs(tmp_path):
    prepared = runner.prepare("fig1", "local", tmp_path, seeds="5-6",
                              runs=["dpp-K5", "mcL-K5"])
    assert [r.name for r in prepared.runs] == ["dpp-K5", "mcL-K5"]
    assert prepared.seeds == [5, 6]
    assert sorted(str(j.path.relative_to(tmp_path)) for j in prepared.jobs) == [
        f"runs/fig1/local/{r}/seed{s}" for r in ("dpp-K5", "mcL-K5") for s in (5, 6)]
    assert not any(tmp_path.iterdir())
    with pytest.raises(ValueError, match="has no run nope; valid: .*dpp-K5"):
        runner.prepare("fig1", "local", tmp_path, runs=["nope"])
    with pytest.raises(ValueError, match="on the chosen panels"):
        runner.prepare("fig1", "local", tmp_path, panels=["K10"], runs=["dpp-K5"])


def test_a_figure_decides_only_the_checks_its_selected_runs_support(tmp_path):
    result = runner.reproduce("fig1", "smoke", tmp_path, seeds="1-2", progress=False,
                              runs=["dpp-K5", "mcL-K5"])
    section = (tmp_path / "report" / "fig1.md").read_text()
    assert result["trained"] == 4
    assert "K=5: DPP beats MC (policy L)" in section and "margin 13.5" in section
    assert "HC beats MC" not in section and "penalty" not in section.split("| check |")[1]


def test_a_figure_of_new_seeds_draws_its_pictures_from_its_first_seed(tmp_path):
    """`--seeds 5-14` has no seed 0: the trajectory pictures use the first seed it has
    (fig2's report crashed on seed 0 before)."""
    result = runner.reproduce("fig2", "smoke", tmp_path, seeds="1-2", progress=False)
    assert any(f.endswith("fig2_trajectories.png") for f in result["files"])
