"""The learned (meta-)baseline of T-MAML's control variate (Liu et al. 2019), cross-fitted.

b(s, t) = z(s, t) . w: a tanh network (two hidden layers of `width` units, as T-MAML's
reference uses 64-64) gives features z = [hidden(clip(obs, +-10), t / 100), 1], and a linear
head w is fitted PER TASK in closed form, by ridge regression toward a meta-learned head
w0:  w = argmin |Z w - y|^2 + ridge |w - w0|^2  on the task's (standardised) targets.
The feature layers and w0 are meta-learned across tasks, MAML-style: their gradient is that
of the held-out loss of the adapted heads (differentiated through the solve), applied with
Adam (learning rate `lr`) once per training iteration by `update`.

T-MAML's reference adapts its network per task by SGD and takes a first-order MAML step;
the ridge head replaces that inner SGD (a few plain gradient steps on a 64-wide tanh layer
diverge as soon as the hidden units saturate, measured here at step size 0.1, and need a
step size per task family). With `ridge` -> infinity b is the meta-learned network itself;
with `ridge` -> 0 it is a per-task least-squares fit on learned features (the linear
feature baseline's recipe, on learned instead of fixed features).

Cross-fitting: each task's K rollouts are split into two folds (even and odd rollout
index). The prediction on fold f comes from the head fitted on the OTHER fold, with the
target standardised by that other fold's mean and std. A rollout's baseline therefore never
depends on its own actions, and since a task's rollouts are independent, the control
variate keeps EXACTLY zero mean (T-MAML's reference fits and predicts on the same paths, a
bias of order 1 / K). The folds double as MAML's support and query sets: the meta-loss is
the mean over (task, fold) of the query fold's squared error. What a batch is baselined with
was meta-learned on earlier batches and fitted on the other fold only.

Everything is float32 on the CPU and seeded, so runs and resumes are bit-identical;
`state_dict` holds the meta-parameters and their Adam moments.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from workbench.optim import Adam

EPS = 1e-8
DTYPE = torch.float32


class MetaBaseline:
    """Meta-parameters phi (flat float32 `[P]`: hidden layers, then the head prior w0);
    `fit_predict` fits per (task, fold), `update` takes the meta-step."""

    def __init__(self, obs_dim: int, width: int = 64, ridge: float = 10.0, lr: float = 1e-3,
                 seed: int = 0) -> None:
        self.f, self.h = obs_dim + 1, int(width)
        self.ridge, self.lr = float(ridge), float(lr)
        g = torch.Generator().manual_seed(int(seed))
        f, h = self.f, self.h

        def glorot(fan_in: int, fan_out: int) -> Tensor:
            bound = (6.0 / (fan_in + fan_out)) ** 0.5
            return (torch.rand(fan_in, fan_out, generator=g, dtype=DTYPE) * 2 - 1) * bound

        self.phi = torch.cat([glorot(f, h).flatten(), torch.zeros(h, dtype=DTYPE),
                              glorot(h, h).flatten(), torch.zeros(h, dtype=DTYPE),
                              torch.zeros(h + 1, dtype=DTYPE)])
        self.adam = Adam(self.phi)

    def _split(self, phi: Tensor) -> list[Tensor]:
        """phi -> W1 [f, h], b1 [h], W2 [h, h], b2 [h], w0 [h + 1]."""
        f, h = self.f, self.h
        out, i = [], 0
        for shape in [(f, h), (h,), (h, h), (h,), (h + 1,)]:
            size = shape[0] * (shape[1] if len(shape) > 1 else 1)
            out.append(phi[i:i + size].reshape(shape))
            i += size
        return out

    @staticmethod
    def features(obs: Tensor) -> Tensor:
        """`obs [T, B, d]` -> network inputs `[T, B, d + 1]`: clip(obs, +-10), t / 100."""
        T, B = obs.shape[:2]
        t = (torch.arange(T, dtype=DTYPE) / 100.0).reshape(T, 1, 1).expand(T, B, 1)
        return torch.cat([obs.to(DTYPE).clamp(-10.0, 10.0), t], -1)

    def _meta_loss(self, phi: Tensor, x: Tensor, y: Tensor, m: Tensor, n: int):
        """Cross-fitted standardised predictions `[G, M]` of groups (task, fold) and the
        mean held-out squared error (a function of phi)."""
        W1, b1, W2, b2, w0 = self._split(phi)
        G = x.shape[0]
        z = torch.tanh(torch.tanh(x @ W1 + b1) @ W2 + b2)
        z = torch.cat([z, torch.ones_like(z[..., :1])], -1) * m.unsqueeze(-1)  # [G, M, h + 1]
        count = m.sum(1).clamp(min=1.0)
        mu = (y * m).sum(1) / count
        sd = (((y - mu.unsqueeze(1)).square() * m).sum(1) / count).sqrt()
        # floor: a (near-)constant fold would blow the other fold's standardised loss up
        total = m.sum().clamp(min=1.0)
        pooled = ((y - (y * m).sum() / total).square() * m).sum() / total
        sd = torch.maximum(sd, 1e-3 * pooled.sqrt()) + EPS
        ys = (y - mu.unsqueeze(1)) / sd.unsqueeze(1) * m
        eye = torch.eye(self.h + 1, dtype=DTYPE)
        gram = z.transpose(1, 2) @ z + self.ridge * eye
        rhs = z.transpose(1, 2) @ ys.unsqueeze(-1) + self.ridge * w0.reshape(-1, 1)
        w = torch.linalg.solve(gram, rhs)  # [G, h + 1, 1] one head per group
        swap = torch.arange(G).reshape(n, 2).flip(1).reshape(-1)  # (i, f) -> (i, 1 - f)
        pred = (z @ w[swap]).squeeze(-1)  # standardised by the other fold's statistics
        target = (y - mu[swap].unsqueeze(1)) / sd[swap].unsqueeze(1)
        loss = ((pred - target).square() * m).sum(1).div(count).mean()
        return mu[swap].unsqueeze(1) + sd[swap].unsqueeze(1) * pred, loss

    # -- fitting ---------------------------------------------------------------------------
    def fit_predict(self, obs: Tensor, targets: Tensor, mask: Tensor,
                    n: int) -> tuple[Tensor, Tensor]:
        """Cross-fitted predictions `[T, B]` (0 on masked steps) of `targets [T, B]` for n
        task-major groups of K >= 2 rollouts, and the meta-gradient `[P]` of the held-out
        loss. Does not change phi."""
        T, B = targets.shape
        K = B // n
        if K < 2:
            raise ValueError("the meta-baseline needs K >= 2 rollouts per task (it is fitted "
                             "on one half of a task's rollouts and applied to the other)")
        half = (K + 1) // 2
        # rollouts of group (task i, fold f): i K + f + 2 j; an odd K pads fold 1 (masked)
        k = torch.arange(half).unsqueeze(0) * 2 + torch.arange(2).unsqueeze(1)  # [2, half]
        valid = (k < K).repeat(n, 1)  # [G, half]
        idx = (torch.arange(n).reshape(n, 1, 1) * K + k.clamp(max=K - 1)).reshape(-1)
        G = 2 * n

        def grouped(v: Tensor) -> Tensor:  # [T, B, ...] -> [G, T half, ...]
            v = v[:, idx].reshape(T, G, half, *v.shape[2:]).transpose(0, 1)
            return v.reshape(G, T * half, *v.shape[3:])

        x = grouped(self.features(obs))
        y = grouped(targets.to(DTYPE))
        m = grouped(mask.to(DTYPE)) * valid.to(DTYPE).unsqueeze(1).expand(G, T, half).reshape(G, -1)
        phi = self.phi.clone().requires_grad_(True)
        with torch.enable_grad():
            pred, loss = self._meta_loss(phi, x, y, m, n)
            (grad,) = torch.autograd.grad(loss, phi)
        pred = (pred.detach() * m).reshape(G, T, half).transpose(0, 1)  # [T, G, half]
        out = torch.zeros(T, B, dtype=DTYPE)
        out[:, idx.reshape(G, half)[valid]] = pred[:, valid]
        return (out * mask.to(DTYPE)).to(targets.dtype), grad

    def update(self, grad: Tensor) -> None:
        """One Adam step of phi along a (mean) meta-gradient."""
        self.phi = (self.phi - self.lr * self.adam.direction(grad.to(DTYPE))).detach()

    # -- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"phi": self.phi.clone(), "adam": self.adam.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        phi = state["phi"]
        if phi.shape != self.phi.shape:
            raise ValueError(f"checkpoint meta-baseline has {phi.numel()} parameters; the "
                             f"configured one (cv_width={self.h}) has {self.phi.numel()}")
        self.phi = phi.to(DTYPE).clone()
        self.adam.load_state_dict(state["adam"])
