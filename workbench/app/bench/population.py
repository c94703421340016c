"""What the rollout benchmarks share: a realistic ES population and a NumPy policy."""

from __future__ import annotations

import numpy as np
import torch

from workbench.policies import PolicySpec


def numpy_policy(spec: PolicySpec, theta: np.ndarray):
    """A single policy as a NumPy closure `obs [obs_dim] -> action [act_dim]`."""
    layers, at = [], 0
    for fan_in, fan_out in spec.layer_sizes:
        w = theta[at:at + fan_in * fan_out].reshape(fan_in, fan_out)
        at += fan_in * fan_out
        layers.append((w, theta[at:at + fan_out]))
        at += fan_out
    hidden = np.tanh if spec.activation == "tanh" else (lambda x: np.maximum(x, 0.0))

    def act(obs: np.ndarray) -> np.ndarray:
        x = obs
        for i, (w, b) in enumerate(layers):
            x = x @ w + b
            x = np.tanh(x) if i == len(layers) - 1 else hidden(x)
        return x
    return act


def population(family, policy: str, rollouts: int, seed: int):
    """`(spec, thetas, tasks, seeds)`: perturbed copies of one initial policy, a realistic ES
    population, with its tasks and per-rollout seeds."""
    spec = PolicySpec.from_name(policy, family.obs_dim, family.act_dim)
    g = torch.Generator().manual_seed(seed)
    thetas = spec.init(g) + 0.1 * torch.randn(rollouts, spec.num_params, generator=g)
    return spec, thetas, family.sample_tasks(rollouts, g), torch.arange(rollouts)
