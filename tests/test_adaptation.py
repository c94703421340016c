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


class _Recorder:
    """A deterministic toy objective that records every call (thetas, tasks, seeds)."""

    differentiable = False

    def __init__(self, dim: int) -> None:
        g = torch.Generator().manual_seed(9)
        self.center = torch.randn(dim, generator=g, dtype=torch.float64)
        self.calls: list = []

    def __call__(self, thetas, tasks, seeds, record=False):
        from workbench.objective import Evaluation
        thetas = torch.as_tensor(thetas, dtype=torch.float64)
        self.calls.append((thetas.clone(), tasks.clone(), seeds.clone()))
        # task-dependent, with a seed-dependent noise term so repeats differ
        noise = 0.01 * torch.sin(seeds.to(torch.float64))
        values = -(thetas - self.center * (1 + tasks.unsqueeze(1))).square().sum(1) + noise
        return Evaluation(values, len(values), len(values))


def test_mc_step_equals_its_formula_with_the_pivot_z_scored_in():
    """theta' = theta + alpha / (K sigma) sum_i (z_i - z_0) eps_i, z = zscore([f0, f_1..f_K])."""
    from es.directions import make_sampler
    from es.adaptation.base import DIRECTIONS_KEY
    from workbench.seeding import derive_many

    d, p, K, sigma, alpha = 5, 4, 7, 0.2, 0.05
    obj = _Recorder(d)
    thetas = torch.randn(p, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    tasks, seeds = torch.tensor([0, 1, 2, 1]), torch.tensor([10, 11, 12, 13])
    out = make_operator("mc", K=K, sigma=sigma, alpha=alpha)(obj, thetas, tasks, seeds)
    (points, _, _), = obj.calls
    eps = make_sampler("gaussian").sample(derive_many(seeds, DIRECTIONS_KEY), K, d,
                                          dtype=torch.float64)
    # the queried points are the pivots then theta + sigma eps, row by row
    torch.testing.assert_close(points[:p], thetas)
    torch.testing.assert_close(points[p:].reshape(p, K, d), thetas.unsqueeze(1) + sigma * eps)
    values = obj(points, torch.cat([tasks, tasks.repeat_interleave(K)]),
                 obj.calls[0][2]).values
    for i in range(p):
        f = torch.cat([values[i:i + 1], values[p + i * K:p + (i + 1) * K]])
        z = (f - f.mean()) / f.std(correction=0)
        expected = thetas[i] + alpha / (K * sigma) * ((z[1:] - z[0]).unsqueeze(1) * eps[i]).sum(0)
        torch.testing.assert_close(out.thetas[i], expected)
    assert torch.equal(out.pre_values, values[:p])


@pytest.mark.parametrize("mode", ["batch", "average"])
def test_hc_costs_population_times_k_plus_one_and_averages_its_start(mode):
    d, p, K, b = 3, 5, 4, 3
    obj = _Recorder(d)
    thetas = torch.randn(p, d, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    tasks, seeds = torch.tensor([0, 1, 0, 2, 1]), torch.arange(20, 25)
    out = make_operator("hc", K=K, sigma=0.1, alpha=0.0, mode=mode, population=b)(
        obj, thetas, tasks, seeds)
    assert sum(e.rollouts for e in out.evaluations) == p * b * (K + 1)
    start_points, _, start_seeds = obj.calls[0]
    assert start_points.shape[0] == p * b  # the start is scored by b rollouts ...
    torch.testing.assert_close(start_points, thetas.repeat_interleave(b, 0))
    start = obj(start_points, tasks.repeat_interleave(b), start_seeds).values
    torch.testing.assert_close(out.pre_values, start.reshape(p, b).mean(1))  # ... averaged
    assert len(set(start_seeds.tolist())) == p * b  # with distinct noise
