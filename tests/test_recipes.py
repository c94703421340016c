"""What lets a population be split over workers and give the same bits: point recipes that
slice and regenerate exactly, and observation statistics summed in a canonical order."""

from __future__ import annotations

import pickle

import pytest
import torch

from es.directions import make_sampler
from workbench import recipes as wp
from workbench.obs_normalization import STATS_CHUNK, chunk_stats, fold
from workbench.policies import PolicySpec
from workbench.rollout import deterministic_rollouts
from workbench.tasks import make_family


def population(d: int = 5, p: int = 7, k: int = 3):
    """theta + sigma * outer noise, then K queries around each point: the ES-MAML shape."""
    g = torch.Generator().manual_seed(1)
    theta = torch.randn(d, generator=g, dtype=torch.float64)
    gauss = make_sampler("gaussian")
    outer = gauss.sample(torch.tensor([11]), p, d, dtype=torch.float64)
    points = wp.concat([wp.perturb(theta.unsqueeze(0), 0.1, outer), wp.broadcast(theta, 2)])
    points = wp.repeat_rows(points, 2)
    dirs = gauss.sample(torch.arange(points.shape[0]) + 100, k, d, dtype=torch.float64)
    return wp.concat([points, wp.perturb(points, 0.05, dirs)])


def test_recipe_rebuilds_the_tensor_and_every_slice_bitwise():
    rows = population()
    recipe = wp.recipe_of(rows)
    assert not isinstance(recipe, wp.Dense), "the population should carry a compact recipe"
    assert recipe.nbytes() < rows.numel() * 8
    assert torch.equal(recipe.materialize(), rows)
    n = rows.shape[0]
    for a, b in [(0, n), (0, 1), (5, 6), (3, 40), (17, n), (n - 1, n), (9, 9)]:
        part = pickle.loads(pickle.dumps(recipe.slice(a, b)))  # as a worker receives it
        assert part.rows == b - a
        assert torch.equal(part.materialize(), rows[a:b]), (a, b)


def test_slices_carry_only_what_they_need():
    rows = population(d=50, p=40, k=10)
    recipe = wp.recipe_of(rows)
    n = rows.shape[0]
    half = recipe.slice(n // 2, n)
    assert half.nbytes() < 0.6 * recipe.nbytes()
    assert len(pickle.dumps(half)) < 0.2 * rows[n // 2:].numel() * 8


def test_in_place_change_or_plain_tensor_falls_back_to_rows():
    rows = population()
    rows[0, 0] += 1.0
    assert isinstance(wp.recipe_of(rows), wp.Dense)
    assert torch.equal(wp.recipe_of(rows).materialize(), rows)
    plain = torch.randn(4, 3)
    assert isinstance(wp.recipe_of(plain), wp.Dense)


@pytest.mark.parametrize("name", ["gaussian", "antithetic"])
def test_regenerable_samplers_describe_their_draws(name):
    sampler = make_sampler(name)
    out = sampler.sample(torch.tensor([3, 9, 4]), 4, 6, dtype=torch.float32)
    recipe = wp.recipe_of(out)
    assert isinstance(recipe, wp.Seeded)
    assert torch.equal(recipe.materialize(), out.reshape(-1, 6))
    assert torch.equal(recipe.slice(5, 11).materialize(), out.reshape(-1, 6)[5:11])


def test_factorisation_samplers_travel_as_rows():
    out = make_sampler("orthogonal").sample(torch.tensor([3]), 4, 6)
    assert isinstance(wp.recipe_of(out), wp.Dense)


def test_chunk_sums_fold_to_the_same_bits_however_the_rows_are_split():
    g = torch.Generator().manual_seed(0)
    n = 5 * STATS_CHUNK + 17
    rows = torch.randn(n, 3, generator=g, dtype=torch.float64) * 1e3
    whole = chunk_stats(rows)
    assert whole.shape == (6, 3)
    for cut in [STATS_CHUNK, 3 * STATS_CHUNK]:
        parts = torch.cat([chunk_stats(rows[:cut]), chunk_stats(rows[cut:])])
        assert torch.equal(fold(parts), fold(whole))
    torch.testing.assert_close(fold(whole), rows.sum(0), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("name", ["cartpole-biased", "nav2d"])
def test_engine_statistics_are_split_invariant(name):
    """The engine's returns and observation statistics of a population equal those of its
    chunk-aligned slices merged, bit for bit (rollouts that end early included)."""
    family = make_family(name)
    spec = PolicySpec.from_name("H", family.obs_dim, family.act_dim)
    g = torch.Generator().manual_seed(2)
    n = 3 * STATS_CHUNK - 5
    thetas = spec.init(g) + 0.5 * torch.randn(n, spec.num_params, generator=g)
    tasks = family.sample_tasks(n, g)
    seeds = torch.arange(n) + 7
    whole = deterministic_rollouts(spec, family, thetas, tasks, 80, seeds=seeds)
    assert (whole.lengths < 80).any(), "the test should cover rollouts that end early"
    cut = 2 * STATS_CHUNK
    a = deterministic_rollouts(spec, family, thetas[:cut], tasks[:cut], 80, seeds=seeds[:cut])
    b = deterministic_rollouts(spec, family, thetas[cut:], tasks[cut:], 80, seeds=seeds[cut:])
    assert torch.equal(torch.cat([a.returns, b.returns]), whole.returns)
    assert torch.equal(fold(torch.cat([a.obs_chunks, b.obs_chunks])), whole.obs_stats)
    assert whole.obs_stats[0] == whole.env_steps


def test_a_source_changed_in_place_is_caught_before_anything_is_sent():
    theta = torch.zeros(1, 4, dtype=torch.float64)
    dirs = make_sampler("gaussian").sample(torch.tensor([5]), 3, 4, dtype=torch.float64)
    rows = wp.perturb(theta, 0.1, dirs)
    theta += 1.0  # the population no longer is theta + 0.1 dirs
    with pytest.raises(RuntimeError, match="changed in place"):
        wp.recipe_of(rows).slice(0, 2)
