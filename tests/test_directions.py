"""Perturbation samplers: seed determinism, slice independence, and each sampler's law.

Statistical checks use fixed seeds and tolerances of 4 standard errors derived from the
sampled quantity's known variance, so a failure means the law is wrong, not bad luck.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from es.directions import (SAMPLERS, AntitheticSampler, DPPSampler, GaussianSampler,
                         OrthogonalSampler, Sampler, make_sampler)

ALL = sorted(SAMPLERS)


@pytest.mark.parametrize("name", ALL)
def test_rows_depend_on_their_own_seed_only(name):
    sampler = make_sampler(name)
    seeds = torch.tensor([11, 3, 12345, -7, 2**40 + 1, 0, 99, 5], dtype=torch.int64)
    full = sampler.sample(seeds, 4, 6)
    assert full.shape == (8, 4, 6) and full.dtype == torch.float32
    torch.testing.assert_close(full[2:5], sampler.sample(seeds[2:5], 4, 6), rtol=0, atol=0)
    torch.testing.assert_close(full[[6, 1]], sampler.sample(seeds[[6, 1]], 4, 6), rtol=0, atol=0)
    torch.testing.assert_close(full, sampler.sample(seeds, 4, 6), rtol=0, atol=0)
    assert not torch.equal(full[0], full[1])


@pytest.mark.parametrize("name", ALL)
def test_dtype_only_changes_rounding(name):
    sampler = make_sampler(name)
    seeds = torch.arange(3)
    x64 = sampler.sample(seeds, 4, 5, dtype=torch.float64)
    assert x64.dtype == torch.float64
    torch.testing.assert_close(sampler.sample(seeds, 4, 5), x64.float())


def test_gaussian_moments():
    n, k, dim = 400, 5, 10
    x = GaussianSampler().sample(torch.arange(n), k, dim, dtype=torch.float64).reshape(-1, dim)
    count = x.shape[0]
    # Each coordinate: mean has sd 1/sqrt(N); sample variance of N(0,1) has sd sqrt(2/N).
    assert (x.mean(0).abs() < 4 / math.sqrt(count)).all()
    assert ((x.var(0) - 1).abs() < 4 * math.sqrt(2 / count)).all()
    cov = torch.cov(x.T)
    off = cov - torch.diag(torch.diagonal(cov))
    assert off.abs().max() < 4 / math.sqrt(count)  # each entry has sd 1/sqrt(N)


def test_antithetic_pairs_and_odd_k():
    x = AntitheticSampler().sample(torch.arange(4), 6, 3, dtype=torch.float64)
    torch.testing.assert_close(x[:, 3:], -x[:, :3], rtol=0, atol=0)
    with pytest.raises(ValueError, match="even"):
        AntitheticSampler().sample(torch.arange(4), 5, 3)


@pytest.mark.parametrize("k", [7, 10, 23])
def test_orthogonal_blocks_are_orthogonal(k):
    dim = 10
    x = OrthogonalSampler().sample(torch.arange(6), k, dim, dtype=torch.float64)
    for row in x:
        for start in range(0, k, dim):
            block = row[start:start + dim]
            unit = block / block.norm(dim=1, keepdim=True)
            gram = unit @ unit.T
            torch.testing.assert_close(gram, torch.eye(block.shape[0], dtype=torch.float64),
                                       rtol=0, atol=1e-12)


def test_orthogonal_norms_are_chi_distributed():
    dim, k, n = 10, 10, 300
    x = OrthogonalSampler().sample(torch.arange(n), k, dim, dtype=torch.float64)
    sq = x.square().sum(-1).reshape(-1)
    count = sq.numel()
    # ||g||^2 ~ chi^2(d): mean d, variance 2d, fourth central moment 12 d (d + 4).
    mean, var, mu4 = dim, 2.0 * dim, 12.0 * dim * (dim + 4)
    assert abs(sq.mean().item() - mean) < 4 * math.sqrt(var / count)
    assert abs(sq.var().item() - var) < 4 * math.sqrt((mu4 - var ** 2) / count)
    # Norms within a block are independent, so not all equal (a plain QR would give 1s).
    assert x[0].norm(dim=-1).std() > 0.1
    # Marginally each direction is N(0, I): coordinates have unit variance.
    coords = x.reshape(-1, dim)
    assert ((coords.var(0) - 1).abs() < 4 * math.sqrt(2 / coords.shape[0])).all()


def test_dpp_returns_distinct_candidates_on_unit_scale():
    sampler = DPPSampler(sigma=0.1, bandwidth=0.5, oversample=5)
    x = sampler.sample(torch.arange(20), 8, 6, dtype=torch.float64)
    for row in x:
        assert torch.cdist(row, row).add(torch.eye(8, dtype=torch.float64)).min() > 0
    # Regenerate the candidates exactly as the sampler does to check rows come from them.
    g = torch.Generator().manual_seed(3)
    cands = torch.randn(40, 6, generator=g, dtype=torch.float64)
    idx = sampler.select(0.1 * cands, 8, g)
    # Exact equality with the unscaled draws: rows are on the N(0, I) scale, not sigma's.
    torch.testing.assert_close(x[3], cands[idx], rtol=0, atol=0)


def test_dpp_select_gives_k_distinct_indices_even_when_kernel_is_near_singular():
    sampler = DPPSampler(bandwidth=0.5)
    g = torch.Generator().manual_seed(0)
    cands = 0.1 * torch.randn(100, 2, generator=g, dtype=torch.float64)  # rank ~ few in 2-D
    for _ in range(5):
        idx = sampler.select(cands, 20, g)
        assert idx.dtype == torch.long and idx.numel() == 20 and idx.unique().numel() == 20
    with pytest.raises(ValueError):
        sampler.select(cands[:3], 4, g)


def test_dpp_subset_frequencies_match_the_k_dpp_law():
    # P(S) = det(L_S) / e_k(eigenvalues of L): enumerate all 3-subsets of 6 points.
    sampler = DPPSampler(bandwidth=0.5)
    g = torch.Generator().manual_seed(1)
    cands = 0.35 * torch.randn(6, 2, generator=g, dtype=torch.float64)
    kern = sampler.kernel(cands)
    subsets = list(itertools.combinations(range(6), 3))
    dets = torch.stack([torch.linalg.det(kern[list(s)][:, list(s)]) for s in subsets])
    probs = dets / dets.sum()
    draws = 4000
    counts = dict.fromkeys(subsets, 0)
    for _ in range(draws):
        counts[tuple(sorted(sampler.select(cands, 3, g).tolist()))] += 1
    freq = torch.tensor([counts[s] / draws for s in subsets], dtype=torch.float64)
    se = (probs * (1 - probs) / draws).sqrt()
    assert probs.max() / probs.min() > 5  # the law is far from uniform, so this has teeth
    assert ((freq - probs).abs() < 4 * se + 1e-12).all()


def test_dpp_subsets_are_more_diverse_than_random_subsets():
    sampler = DPPSampler(sigma=0.1, bandwidth=0.5, oversample=5)
    k, dim, draws = 10, 5, 50
    g = torch.Generator().manual_seed(2)
    diffs = []
    for _ in range(draws):
        cands = 0.1 * torch.randn(sampler.oversample * k, dim, generator=g, dtype=torch.float64)
        kern = sampler.kernel(cands)
        dpp = sampler.select(cands, k, g)
        rnd = torch.randperm(cands.shape[0], generator=g)[:k]
        diffs.append(torch.logdet(kern[dpp][:, dpp]) - torch.logdet(kern[rnd][:, rnd]))
    diffs = torch.stack(diffs)
    # Paired comparison on the same candidates; require a t-statistic above 3.
    assert diffs.mean() > 0
    assert diffs.mean() / (diffs.std() / math.sqrt(draws)) > 3


def test_registry_and_make_sampler():
    assert set(SAMPLERS) == {"gaussian", "antithetic", "orthogonal", "dpp"}
    for name in SAMPLERS:
        cls = SAMPLERS.load(name)
        sampler = make_sampler(name)
        assert isinstance(sampler, cls) and isinstance(sampler, Sampler)
    dpp = make_sampler("dpp", sigma=0.2, bandwidth=1.0, oversample=3)
    assert (dpp.sigma, dpp.bandwidth, dpp.oversample) == (0.2, 1.0, 3)
    with pytest.raises(ValueError, match="antithetic, dpp, gaussian, orthogonal"):
        make_sampler("sobol")
    with pytest.raises(ValueError):
        DPPSampler(oversample=0)
    with pytest.raises(ValueError):
        GaussianSampler().sample(torch.arange(2), 0, 3)


@pytest.mark.parametrize("name", ALL)
def test_every_sampler_honours_the_configured_sigma(name):
    """The trainer builds its outer sampler with the configured sigma, whatever the sampler."""
    from es.trainer import ESMAML
    from workbench.app import runconfig as cfg

    sets = ["task.name=four-corners", "policy=L", "sigma=0.37", f"sampler={name}"]
    if name == "antithetic":
        sets = [*sets[:3], "estimator=antithetic"]
    algo = ESMAML(cfg.resolve(ESMAML, sets=sets))
    assert algo.outer_sampler.name == name and algo.outer_sampler.sigma == 0.37
    assert make_sampler(name, sigma=0.37).sigma == 0.37


def test_dpp_directions_depend_on_sigma():
    """dpp builds its kernel on sigma-scaled candidates: another sigma picks other subsets."""
    seeds = torch.arange(10)
    a = make_sampler("dpp", sigma=0.1).sample(seeds, 5, 6, dtype=torch.float64)
    b = make_sampler("dpp", sigma=0.37).sample(seeds, 5, 6, dtype=torch.float64)
    assert not torch.equal(a, b)


def _mean_pairwise_distance(x: torch.Tensor) -> torch.Tensor:
    k = x.shape[-2]
    d = torch.cdist(x, x)
    return d.sum((-1, -2)) / (k * (k - 1))


@pytest.mark.parametrize("k", [5, 10, 20])
def test_dpp_directions_are_measurably_more_spread_than_iid_at_the_linear_policy_size(k):
    """Four Corners with policy L (D = 6, the size the DPP runs use): at sigma 0.1 and
    bandwidth 0.5 neighbouring candidates have kernel values near 0.8, so the k-DPP's
    subsets are spread out; iid draws of the same law are not. 200 rows each; the
    difference of means must exceed 4 of its standard errors."""
    dim, rows = 6, 200
    dpp = _mean_pairwise_distance(make_sampler("dpp", sigma=0.1).sample(
        torch.arange(rows), k, dim, dtype=torch.float64))
    iid = _mean_pairwise_distance(make_sampler("gaussian").sample(
        torch.arange(rows) + 10_000, k, dim, dtype=torch.float64))
    se = (dpp.var() / rows + iid.var() / rows).sqrt()
    assert dpp.mean() - iid.mean() > 4 * se, (dpp.mean(), iid.mean(), se)


def test_dpp_kernel_is_nearly_diagonal_at_the_hidden_policy_size():
    """Where DPP degenerates to iid (docs/es-maml.md): with policy H on the 2-D tasks
    (D = 162) the RBF kernel on sigma-scaled candidates is nearly the identity (mean
    off-diagonal ~0.002), so every k-subset is about equally likely."""
    sampler = make_sampler("dpp", sigma=0.1)
    g = torch.Generator().manual_seed(0)
    cands = 0.1 * torch.randn(100, 162, generator=g, dtype=torch.float64)
    kern = sampler.kernel(cands)
    off = (kern.sum() - kern.diagonal().sum()) / (100 * 99)
    assert off < 0.01
    small = sampler.kernel(0.1 * torch.randn(100, 6, generator=g, dtype=torch.float64))
    assert (small.sum() - small.diagonal().sum()) / (100 * 99) > 0.5
