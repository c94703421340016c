"""Adam as a checkpointable value: the meta-optimisers of ES-MAML and the PG baselines.

Kept as plain tensors (not torch.optim) so its state is a small dict that `weights_only`
checkpoints hold and that resumes bit-identically.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class Adam:
    """Adam (Kingma & Ba 2015) with torch.optim.Adam's defaults; `direction` returns the step."""

    def __init__(self, like: Tensor, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m, self.v, self.t = torch.zeros_like(like), torch.zeros_like(like), 0

    def direction(self, grad: Tensor) -> Tensor:
        """The bias-corrected update direction for `grad` (add for ascent, subtract for descent)."""
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * grad
        self.v = self.beta2 * self.v + (1 - self.beta2) * grad.square()
        m_hat = self.m / (1 - self.beta1 ** self.t)
        v_hat = self.v / (1 - self.beta2 ** self.t)
        return m_hat / (v_hat.sqrt() + self.eps)

    def state_dict(self) -> dict[str, Any]:
        return {"m": self.m.clone(), "v": self.v.clone(), "t": self.t}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.m = state["m"].to(self.m.dtype).clone()
        self.v = state["v"].to(self.v.dtype).clone()
        self.t = int(state["t"])
