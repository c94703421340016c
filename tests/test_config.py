"""Typed configuration: parsing, checking, the resolved config, the generated key tables."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from workbench.app import runconfig as cfg
from workbench.algorithm import algorithm_class
from workbench.app.cli import main

ROOT = Path(__file__).resolve().parents[1]
ES = algorithm_class("es-maml")


def test_docs_config_md_is_generated_from_the_sections():
    """docs/config.md must equal `workbench config --docs`: regenerate it when keys change
    (`workbench config --docs > docs/config.md`)."""
    assert (ROOT / "docs" / "config.md").read_text() == cfg.reference_markdown()


def test_numbers_in_any_notation_and_yaml_files(tmp_path):
    assert cfg.resolve(ES, sets=["beta=1e-3"], task="nav2d")["beta"] == 1e-3
    assert cfg.resolve(ES, sets=["beta=1.0e-3"], task="nav2d")["beta"] == 1e-3
    assert cfg.resolve(ES, sets=["iterations=1e2"], task="nav2d")["iterations"] == 100
    f = tmp_path / "c.yaml"
    f.write_text("beta: 1e-3\nK: 5\ntask:\n  penalty: 2\n")  # YAML 1.1 reads 1e-3 as a string
    c = cfg.resolve(ES, f, task="four-corners")
    assert (c["beta"], c["K"], c["task"]["penalty"]) == (1e-3, 5, 2.0)
    assert isinstance(c["task"]["penalty"], float)


@pytest.mark.parametrize("sets,message", [
    (["task.max_bias=nan"], "config key 'task.max_bias' must be a finite number; got nan"),
    (["task.max_bias=inf"], "config key 'task.max_bias' must be a finite number; got inf"),
    (["task.observation=raw"], "'task.observation' must be one of full, norml; got 'raw'"),
    (["horizon=0"], "config key 'horizon' must be >= 1; got 0"),
    (["sigmaa=1"], "unknown config key 'sigmaa'; did you mean 'sigma'?"),
    (["sigma=0"], "config key 'sigma' must be > 0.0; got 0.0"),
    (["K=2.5"], "config key 'K' must be an integer; got 2.5"),
    (["state_normalization=maybe"], "config key 'state_normalization' must be true or false"),
    (["adapt_options.populaton=2", "adaptation=hc"],
     "unknown config key 'adapt_options.populaton'; did you mean 'adapt_options.population'?"),
    (["estimator=antithetic", "num_perturbations=3"], "needs an even num_perturbations"),
])
def test_bad_values_are_one_line_errors(sets, message):
    with pytest.raises(ValueError) as err:
        cfg.resolve(ES, sets=sets, task="cartpole-biased")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_task_parameters_are_checked_by_type(tmp_path):
    with pytest.raises(ValueError, match="'task.penalty' must be a number; got 'abc'"):
        cfg.resolve(ES, sets=["task.penalty=abc"], task="four-corners")
    with pytest.raises(ValueError, match="'task.ctrl_cost_weight' must be a finite number"):
        cfg.resolve(ES, sets=["task.ctrl_cost_weight=1e400"], task="halfcheetah-fb")


@pytest.mark.parametrize("command", ["train", "compare"])
@pytest.mark.parametrize("bad,message", [
    ("task.max_bias=nan", "'task.max_bias' must be a finite number"),
    ("task.penalty=abc", "'task.penalty' must be a number"),
    ("horizon=0", "'horizon' must be >= 1"),
    ("sigmaa=1", "'sigmaa'; did you mean 'sigma'?"),
])
def test_bad_values_are_refused_before_creating_anything(tmp_path, capsys, command, bad,
                                                         message):
    task = "cartpole-biased" if "max_bias" in bad else "four-corners"
    out = tmp_path / "out"
    argv = (["train", "--algo", "es-maml", "--task", task] if command == "train" else
            ["compare", "--task", task, "--algos", "es-maml,promp", "--seeds", "1",
             "--budget-rollouts", "100"])
    assert main([*argv, "--out", str(out), "--quiet", "--set", bad]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_train_accepts_1e_minus_3_from_set_and_yaml(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("beta: 1e-3\n")
    for i, extra in enumerate([["--set", "beta=1e-3"], ["--config", str(f)]]):
        out = tmp_path / f"r{i}"
        assert main(["train", "--algo", "es-maml", "--task", "four-corners", "--out", str(out),
                     "--quiet", "--set", "iterations=1", "--set", "num_perturbations=2",
                     "--set", "num_current_evals=1", "--set", "K=2", "--set", "horizon=5",
                     "--set", "eval_adaptations=2", *extra]) == 0
        assert yaml.safe_load((out / "config.yaml").read_text())["beta"] == 1e-3


def test_config_yaml_is_the_fully_resolved_config(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", "--algo", "es-maml", "--task", "cartpole-biased", "--out", str(out),
                 "--quiet", "--set", "iterations=1", "--set", "num_perturbations=2",
                 "--set", "num_current_evals=1", "--set", "K=2", "--set", "horizon=5",
                 "--set", "eval_adaptations=2"]) == 0
    stored = yaml.safe_load((out / "config.yaml").read_text())
    assert stored["horizon"] == 5 and stored["policy"] == "H" and stored["width"] == 32
    assert stored["activation"] == "relu" and stored["init"] == "normal"
    assert stored["task"]["observation"] == "full"
    assert math.isclose(stored["task"]["max_bias"], math.pi / 18)
    assert stored["adapt_options"] == {"normalization": "zscore", "corrupt_fraction": 0.0,
                                       "corrupt_scale": 1e6}
    # `workbench config` prints the same resolution without running anything
    capsys.readouterr()
    assert main(["config", "--algo", "es-maml", "--task", "cartpole-biased", "--set",
                 "iterations=1", "--set", "num_perturbations=2", "--set", "num_current_evals=1",
                 "--set", "K=2", "--set", "horizon=5", "--set", "eval_adaptations=2"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == stored


def test_resolving_a_resolved_config_changes_nothing(tmp_path):
    c = cfg.resolve(ES, sets=["adaptation=hc"], task="six-circles")
    path = tmp_path / "config.yaml"
    cfg.dump(c, path)
    assert cfg.resolve(ES, path) == c


def test_compare_accepts_1e_minus_3_from_set(tmp_path):
    out = tmp_path / "cmp"
    assert main(["compare", "--task", "four-corners", "--algos", "es-maml", "--seeds", "1",
                 "--budget-rollouts", "20", "--out", str(out), "--quiet",
                 "--set", "beta=1e-3", "--set", "num_perturbations=2",
                 "--set", "num_current_evals=1", "--set", "K=2", "--set", "horizon=5",
                 "--set", "eval_adaptations=2", "--set", "eval_every=1"]) == 0
    stored = yaml.safe_load((out / "es-maml" / "seed0" / "config.yaml").read_text())
    assert stored["beta"] == 1e-3
