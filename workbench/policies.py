"""Policies: one flat parameter vector per policy, evaluated a whole population at a time.

`PolicySpec` fixes the architecture (`L` linear, `H` one hidden layer, `HH` two; width 32 by
default, A.7.2) and the layout of the flat vector `theta [D]`. `PolicySpec.forward` runs a
population `thetas [P, D]` on observations `[P, B, obs_dim]` with stacked weights and
`torch.baddbmm`, which is what makes ES populations of thousands cheap. `GaussianPolicy` is
the same mean network as an `nn.Module` with a state-independent log-std, for the
policy-gradient side; its parameters can be swapped through `torch.func.functional_call`.

Flat layout, layer by layer: the weight as `[in, out]` row-major (so that `x @ W`), then the
bias `[out]`. Outputs always go through `tanh`; each task maps (-1, 1) to its own bounds.

Hidden layers use ReLU and the output tanh, as the authors' release (es_maml/policies.py).
Initialisation `normal` (default): per-layer He scale N(0, 2 / fan_in), biases 0. `reference`
is the release's own scheme, every layer's weights from N(0, 2 / obs_dim) (the first layer's
scale reused); it is not the default because, measured on Four Corners with policy H, it
saturates the tanh output and one of three seeds never left its start (docs/es-maml.md).
For the linear policy `L` the two coincide. `zeros` starts at the zero policy. `maml` is the
initialisation of MAML's regression network (Finn et al.'s reference code): every weight from
a normal of std 0.01 truncated at two standard deviations, biases 0; the sine task's default
(docs/studies/2026-12-07-sine-sweep.md, "The start"). The PG
baselines use the same networks, so a head-to-head compares identical policies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

ARCHITECTURES: dict[str, int] = {"L": 0, "H": 1, "HH": 2}
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "relu": torch.relu}
#: RL policies squash to (-1, 1); a regression model (the sine task) needs a linear output.
OUTPUTS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "linear": lambda x: x}
INITS = ("reference", "normal", "zeros", "maml")
#: `maml`: std of the truncated normal every weight is drawn from (MAML's code: 0.01, cut
#: at +-2 std as `tf.truncated_normal`).
MAML_INIT_STD = 0.01


@dataclass(frozen=True)
class PolicySpec:
    """A deterministic MLP policy `obs -> tanh(...)` described by its layer sizes."""

    obs_dim: int
    act_dim: int
    hidden: tuple[int, ...] = ()
    activation: str = "relu"
    output: str = "tanh"
    init_scheme: str = "normal"

    def __post_init__(self) -> None:
        if self.obs_dim < 1 or self.act_dim < 1 or any(h < 1 for h in self.hidden):
            raise ValueError(f"policy sizes must be positive, got obs_dim={self.obs_dim}, "
                             f"act_dim={self.act_dim}, hidden={self.hidden}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}; "
                             f"valid: {', '.join(ACTIVATIONS)}")
        if self.output not in OUTPUTS:
            raise ValueError(f"unknown output {self.output!r}; valid: {', '.join(OUTPUTS)}")
        if self.init_scheme not in INITS:
            raise ValueError(f"unknown init {self.init_scheme!r}; valid: {', '.join(INITS)}")

    @classmethod
    def from_name(cls, name: str, obs_dim: int, act_dim: int, width: int = 32,
                  activation: str = "relu", output: str = "tanh",
                  init_scheme: str = "normal") -> "PolicySpec":
        """`L`, `H` or `HH` (A.7.2) with hidden layers of `width` units."""
        if name not in ARCHITECTURES:
            raise ValueError(f"unknown policy {name!r}; valid: {', '.join(ARCHITECTURES)}")
        return cls(obs_dim, act_dim, (width,) * ARCHITECTURES[name], activation, output,
                   init_scheme)

    @property
    def layer_sizes(self) -> list[tuple[int, int]]:
        sizes = [self.obs_dim, *self.hidden, self.act_dim]
        return list(zip(sizes[:-1], sizes[1:]))

    @property
    def num_params(self) -> int:
        return sum(i * o + o for i, o in self.layer_sizes)

    def init(self, generator: torch.Generator | None = None, scheme: str | None = None,
             dtype: torch.dtype = torch.float32) -> Tensor:
        """A fresh flat parameter vector `[D]` (`scheme`: the spec's `init_scheme` if None)."""
        scheme = self.init_scheme if scheme is None else scheme
        if scheme not in INITS:
            raise ValueError(f"unknown init {scheme!r}; valid: {', '.join(INITS)}")
        parts = []
        for fan_in, fan_out in self.layer_sizes:
            w = torch.zeros(fan_in * fan_out, dtype=dtype)
            if scheme == "maml":
                w = torch.nn.init.trunc_normal_(w, std=MAML_INIT_STD, a=-2 * MAML_INIT_STD,
                                                b=2 * MAML_INIT_STD, generator=generator)
            elif scheme != "zeros":
                w = torch.randn(fan_in * fan_out, generator=generator, dtype=dtype)
                w *= math.sqrt(2.0 / (self.obs_dim if scheme == "reference" else fan_in))
            parts += [w, torch.zeros(fan_out, dtype=dtype)]
        return torch.cat(parts)

    def check(self, thetas: Tensor) -> Tensor:
        """`thetas` as `[P, D]`, or a clear error naming the expected size."""
        if thetas.dim() == 1:
            thetas = thetas.unsqueeze(0)
        if thetas.dim() != 2 or thetas.shape[1] != self.num_params:
            raise ValueError(f"theta has shape {tuple(thetas.shape)}; this policy "
                             f"({self.describe()}) expects [P, {self.num_params}] or "
                             f"[{self.num_params}]")
        return thetas

    def unflatten(self, thetas: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Views `(W [P, in, out], b [P, 1, out])` per layer into `thetas [P, D]`."""
        thetas = self.check(thetas)
        layers, at = [], 0
        for fan_in, fan_out in self.layer_sizes:
            w = thetas[:, at:at + fan_in * fan_out].reshape(-1, fan_in, fan_out)
            at += fan_in * fan_out
            b = thetas[:, at:at + fan_out].unsqueeze(1)
            at += fan_out
            layers.append((w, b))
        return layers

    def apply(self, layers: list[tuple[Tensor, Tensor]], obs: Tensor) -> Tensor:
        """Population forward on pre-unflattened layers: `obs [P, B, obs] -> [P, B, act]`."""
        act, out = ACTIVATIONS[self.activation], OUTPUTS[self.output]
        x = obs
        last = len(layers) - 1
        for i, (w, b) in enumerate(layers):
            x = torch.baddbmm(b, x, w)
            x = out(x) if i == last else act(x)
        return x

    def forward(self, thetas: Tensor, obs: Tensor) -> Tensor:
        """`thetas [P, D]`, `obs [P, B, obs_dim]` -> actions `[P, B, act_dim]` in (-1, 1)."""
        thetas = self.check(thetas)
        if obs.dim() != 3 or obs.shape[0] != thetas.shape[0] or obs.shape[2] != self.obs_dim:
            raise ValueError(f"observations have shape {tuple(obs.shape)}; expected "
                             f"[{thetas.shape[0]}, B, {self.obs_dim}]")
        return self.apply(self.unflatten(thetas), obs.to(thetas.dtype))

    def describe(self) -> str:
        return "-".join(str(s) for s in [self.obs_dim, *self.hidden, self.act_dim]) + \
            f" {self.activation}" + ("" if self.output == "tanh" else f", {self.output} output")


class GaussianPolicy(nn.Module):
    """The `PolicySpec` mean network plus a state-independent log-std (policy-gradient side).

    Log-probabilities are summed over action dimensions. `param_dict(flat)` maps a flat
    vector (mean parameters in `PolicySpec` layout, then `act_dim` log-stds) to the names
    `torch.func.functional_call` expects, keeping the graph, so inner updates can be
    differentiated through.
    """

    def __init__(self, spec: PolicySpec, init_log_std: float = 0.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in spec.layer_sizes)
        self.log_std = nn.Parameter(torch.full((spec.act_dim,), float(init_log_std)))
        self.load_flat(torch.cat([spec.init(generator), self.log_std.detach()]))

    @property
    def num_params(self) -> int:
        return self.spec.num_params + self.spec.act_dim

    def param_dict(self, flat: Tensor) -> dict[str, Tensor]:
        if flat.shape != (self.num_params,):
            raise ValueError(f"flat parameters have shape {tuple(flat.shape)}; expected "
                             f"[{self.num_params}] ({self.spec.num_params} mean + "
                             f"{self.spec.act_dim} log-std)")
        out: dict[str, Tensor] = {}
        layers = self.spec.unflatten(flat[: self.spec.num_params].unsqueeze(0))
        for i, (w, b) in enumerate(layers):
            out[f"layers.{i}.weight"] = w[0].T
            out[f"layers.{i}.bias"] = b[0, 0]
        out["log_std"] = flat[self.spec.num_params:]
        return out

    def flat(self) -> Tensor:
        """The current parameters as one flat vector (mean layout, then log-std)."""
        parts = []
        for layer in self.layers:
            parts += [layer.weight.T.reshape(-1), layer.bias]
        return torch.cat(parts + [self.log_std])

    @torch.no_grad()
    def load_flat(self, flat: Tensor) -> None:
        for name, value in self.param_dict(flat).items():
            self.get_parameter(name).copy_(value)

    def mean(self, obs: Tensor) -> Tensor:
        act, out = ACTIVATIONS[self.spec.activation], OUTPUTS[self.spec.output]
        x = obs
        for i, layer in enumerate(self.layers):
            x = layer(x)
            x = out(x) if i == len(self.layers) - 1 else act(x)
        return x

    def distribution(self, obs: Tensor) -> torch.distributions.Normal:
        mu = self.mean(obs)
        return torch.distributions.Normal(mu, self.log_std.exp().expand_as(mu))

    def log_prob(self, obs: Tensor, actions: Tensor) -> Tensor:
        return self.distribution(obs).log_prob(actions).sum(-1)

    def forward(self, obs: Tensor) -> Tensor:
        return self.mean(obs)
