"""Adaptation operators as black boxes: monotone hill climbing, the MC step, Alg. 5's pieces."""

from __future__ import annotations

import pytest
import torch

from es.adaptation import make_operator
from es.estimators import es_hessian, es_hessian_vector
from workbench.objective import make_objective
from workbench.policies import PolicySpec
from workbench.tasks import make_family


@pytest.mark.parametrize("task", ["four-corners", "nav2d", "six-circles"])
@pytest.mark.parametrize("mode", ["batch", "average"])
def test_hill_climbing_never_returns_a_worse_policy(task, mode):
    """Property test over random seeds and starting points, on deterministic tasks."""
    family = make_family(task)
    spec = PolicySpec.from_name("H", 2, 2, width=8)
    objective = make_objective(family, spec, 40)
    op = make_operator("hc", K=6, sigma=0.3, alpha=0.0, mode=mode, population=2)
    for trial in range(5):
        g = torch.Generator().manual_seed(trial)
        p = 24
        thetas = spec.init(g, dtype=torch.float64) + \
            torch.randn(p, spec.num_params, generator=g, dtype=torch.float64)
        tasks = family.sample_tasks(p, g)
        seeds = torch.randint(0, 2 ** 40, (p,), generator=g)
        out = op(objective, thetas, tasks, seeds)
        after = objective(out.thetas, tasks, seeds).values
        before = objective(thetas, tasks, seeds).values
        assert torch.equal(out.pre_values, before)
        assert (after >= before).all(), (after - before).min()
        assert (after > before).any(), "hill climbing should improve some points"


def test_mc_step_on_a_flat_landscape_does_not_move():
    """Every Four-Corners query far from the goals scores -4 per step: no update."""
    family = make_family("four-corners")
    spec = PolicySpec.from_name("L", 2, 2)
    objective = make_objective(family, spec, 10)
    thetas = torch.zeros(6, spec.num_params, dtype=torch.float64)
    out = make_operator("mc", K=5, sigma=0.01, alpha=0.05)(objective, thetas, torch.arange(6) % 4,
                                                          torch.arange(6))
    assert torch.equal(out.thetas, thetas)
    assert sum(e.rollouts for e in out.evaluations) == 6 * 6


def test_mc_step_is_slice_independent():
    family = make_family("nav2d")
    spec = PolicySpec.from_name("H", 2, 2, width=8)
    objective = make_objective(family, spec, 30)
    g = torch.Generator().manual_seed(3)
    thetas = spec.init(g, dtype=torch.float64) + 0.1 * torch.randn(10, spec.num_params,
                                                                   generator=g, dtype=torch.float64)
    tasks, seeds = family.sample_tasks(10, g), torch.arange(100, 110)
    op = make_operator("mc", K=8, sigma=0.1, alpha=0.05)
    whole = op(objective, thetas, tasks, seeds)
    part = op(objective, thetas[3:7], tasks[3:7], seeds[3:7])
    torch.testing.assert_close(part.thetas, whole.thetas[3:7], rtol=1e-6, atol=1e-6)


def test_hessian_vector_product_matches_the_matrix():
    g = torch.Generator().manual_seed(0)
    values = torch.randn(3, 7, generator=g, dtype=torch.float64)
    dirs = torch.randn(3, 7, 5, generator=g, dtype=torch.float64)
    v = torch.randn(3, 5, generator=g, dtype=torch.float64)
    expected = (es_hessian(values, dirs, 0.2) @ v.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(es_hessian_vector(values, dirs, 0.2, v), expected)
