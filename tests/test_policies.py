"""The population forward against the single-policy module, and the PG view's plumbing."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from workbench.policies import GaussianPolicy, PolicySpec


@pytest.mark.parametrize("arch", ["L", "H", "HH"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_population_forward_equals_looping_the_module(arch, activation):
    spec = PolicySpec.from_name(arch, 5, 3, width=8, activation=activation)
    g = torch.Generator().manual_seed(0)
    thetas = torch.stack([spec.init(g, dtype=torch.float64) +
                          0.3 * torch.randn(spec.num_params, generator=g, dtype=torch.float64)
                          for _ in range(7)])
    obs = torch.randn(7, 4, 5, generator=g, dtype=torch.float64)
    batched = spec.forward(thetas, obs)
    module = GaussianPolicy(spec).double()
    for p in range(7):
        module.load_flat(torch.cat([thetas[p], torch.zeros(3, dtype=torch.float64)]))
        torch.testing.assert_close(batched[p], module.mean(obs[p]), rtol=1e-12, atol=1e-12)
    assert batched.abs().max() < 1.0


def test_sizes_and_init_scheme():
    spec = PolicySpec.from_name("HH", 17, 6)
    assert spec.hidden == (32, 32)
    assert spec.num_params == 17 * 32 + 32 + 32 * 32 + 32 + 32 * 6 + 6
    theta = spec.init(torch.Generator().manual_seed(0))
    (w1, b1), _, _ = spec.unflatten(theta)
    assert torch.all(b1 == 0)
    # N(0, 2/fan_in): the sample variance of 544 weights is within 4 standard errors
    var, n = w1.var().item(), w1.numel()
    assert abs(var - 2 / 17) < 4 * (2 / 17) * (2 / n) ** 0.5
    assert torch.all(spec.init(scheme="zeros") == 0)


def test_functional_call_is_differentiable_through_flat_parameters():
    spec = PolicySpec.from_name("H", 2, 2, width=4)
    module = GaussianPolicy(spec, init_log_std=-0.5)
    flat = module.flat().detach().clone().requires_grad_(True)
    obs, act = torch.randn(10, 2), torch.randn(10, 2)
    logp = functional_call(module, module.param_dict(flat), (obs,))
    torch.testing.assert_close(logp, module.mean(obs))
    params = module.param_dict(flat)
    dist = torch.distributions.Normal(functional_call(module, params, (obs,)),
                                      params["log_std"].exp())
    loss = dist.log_prob(act).sum(-1).mean()
    (grad,) = torch.autograd.grad(loss, flat, create_graph=True)
    assert grad.shape == flat.shape and grad.abs().sum() > 0
    (second,) = torch.autograd.grad(grad.square().sum(), flat)
    assert torch.isfinite(second).all() and second.abs().sum() > 0
    torch.testing.assert_close(module.log_prob(obs, act), dist.log_prob(act).sum(-1))
    assert torch.allclose(module.log_std, torch.full((2,), -0.5))


@pytest.mark.parametrize("scheme,scale", [("normal", "fan_in"), ("reference", "obs_dim")])
def test_init_schemes_draw_each_layer_at_their_scale(scheme, scale):
    """`normal`: N(0, 2 / fan_in) per layer; `reference` (authors' release): N(0, 2 / obs_dim)
    for every layer. Each layer's sample std is checked within 4 standard errors."""
    spec = PolicySpec.from_name("HH", 3, 2, width=400, init_scheme=scheme)
    theta = spec.init(torch.Generator().manual_seed(0), dtype=torch.float64)
    for (w, b), (fan_in, fan_out) in zip(spec.unflatten(theta), spec.layer_sizes):
        assert torch.equal(b, torch.zeros_like(b))
        n = w.numel()
        want = math.sqrt(2.0 / (fan_in if scale == "fan_in" else spec.obs_dim))
        se = want / math.sqrt(2 * n)  # std error of a normal sample's std
        assert abs(w.std().item() - want) < 4 * se, (fan_in, w.std().item(), want)


def test_defaults_are_relu_hidden_tanh_output_and_he_init():
    spec = PolicySpec.from_name("H", 2, 2)
    assert (spec.activation, spec.output, spec.init_scheme) == ("relu", "tanh", "normal")
    with pytest.raises(ValueError, match="unknown init 'xavier'; valid: reference, normal, zeros"):
        PolicySpec.from_name("H", 2, 2, init_scheme="xavier")
