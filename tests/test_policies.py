"""The population forward against the single-policy module, and the PG view's plumbing."""

from __future__ import annotations

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
