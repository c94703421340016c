"""Bad input fails at once with a message that says what was wrong and what is allowed."""

from __future__ import annotations

import pytest
import torch

from workbench.obs_normalization import Normalizer
from workbench.policies import PolicySpec
from workbench.rollout import deterministic_rollouts
from workbench.tasks import make_family


def test_unknown_task_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown task 'four-corner'.*valid: .*four-corners.*nav2d"):
        make_family("four-corner")


def test_unknown_task_parameter_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown config key 'task.radius'.*valid: .*task.penalty"):
        make_family("four-corners", radius=3)
    with pytest.raises(ValueError, match="'task.integrator' must be one of euler, semi-implicit; got 'rk4'"):
        make_family("cartpole-biased", integrator="rk4")
    with pytest.raises(ValueError, match="num_correct <= num_goals"):
        make_family("six-circles", num_goals=3, num_correct=4)
    with pytest.raises(ValueError, match="exceeds the 4 distinct tasks"):
        make_family("four-corners", num_train=3, num_test=2)


@pytest.mark.parametrize("horizon", [-5, 0, 2.5])
def test_bad_horizon(horizon):
    family = make_family("nav2d")
    spec = PolicySpec.from_name("L", 2, 2)
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        deterministic_rollouts(spec, family, spec.init().unsqueeze(0), torch.tensor([0]), horizon)


def test_theta_of_wrong_size():
    family = make_family("nav2d")
    spec = PolicySpec.from_name("H", 2, 2)
    with pytest.raises(ValueError, match=r"theta has shape \(3, 7\).*expects \[P, 162\]"):
        deterministic_rollouts(spec, family, torch.zeros(3, 7), torch.tensor([0, 1, 2]), 10)


def test_theta_task_count_mismatch_and_policy_task_mismatch():
    family = make_family("nav2d")
    spec = PolicySpec.from_name("L", 2, 2)
    with pytest.raises(ValueError, match="2 parameter vectors but 3 task ids"):
        deterministic_rollouts(spec, family, torch.zeros(2, spec.num_params), torch.tensor([0, 1, 2]), 10)
    wrong = PolicySpec.from_name("L", 4, 1)
    with pytest.raises(ValueError, match="does not fit task nav2d"):
        deterministic_rollouts(wrong, family, torch.zeros(1, wrong.num_params), torch.tensor([0]), 10)


def test_action_of_wrong_shape():
    sim = make_family("cartpole-biased").make_sim(torch.tensor([0, 1]))
    sim.reset()
    with pytest.raises(ValueError, match=r"actions have shape \(2, 2\); expected \[2, 1\]"):
        sim.step(torch.zeros(2, 2))


def test_bad_task_id_policy_name_and_normaliser_stats():
    with pytest.raises(ValueError, match=r"task ids must lie in \[0, 4\)"):
        make_family("four-corners").make_sim(torch.tensor([4]))
    with pytest.raises(ValueError, match="unknown policy 'HHH'; valid: L, H, HH"):
        PolicySpec.from_name("HHH", 2, 2)
    with pytest.raises(ValueError, match="unknown activation"):
        PolicySpec(2, 2, (4,), "gelu")
    with pytest.raises(ValueError, match=r"expected \[5\]"):
        Normalizer(2).update(torch.zeros(3))
