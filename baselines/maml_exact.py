"""`maml`: exact second-order MAML (Finn et al. 2017) for supervised tasks: the sine oracle.

The reference ES-MAML's Fig. A6 is compared against. One iteration:
1. draw `meta_batch` training tasks (25, Finn et al.);
2. per task, `inner_steps` gradient steps theta_i = theta - alpha grad L_support(theta) on a
   K-point support set (alpha = 0.01, the MAML paper's; its code's flag default is 0.001),
   built with `create_graph=True` (`workbench.objective.gradient_steps`), so the
   meta-gradient includes the second-order term;
3. the meta-loss: mean over tasks of the MSE of theta_i on a query set of `query_points`
   points (0: K, as MAML's code, which draws 2K points per task and splits them in two);
4. Adam (`meta_lr` 1e-3, torch's defaults otherwise) on theta.

Finn et al.'s network is the sine family's default (1-40-40-1 ReLU, linear output) and its
initialisation `maml` (truncated normal, std 0.01; `workbench.policies`). The loss is the
plain mean of squared errors over a task's points (MAML's `mse`), averaged over tasks.

Test evaluation is ES-MAML's with the exact-gradient operator, stream for stream: the same
test tasks, support points and held-out points at the same (seed, iteration), so the two
algorithms' curves differ only in their meta-parameters (tests/test_maml_exact.py checks
that they agree at equal theta). `test/post_adaptation_return` is the held-out value after
`inner_steps` steps; `post_after_steps(n)` after n = 1..`eval_steps` steps.

Cost accounting as the sine objective's: a task's support evaluation and its query
evaluation are one "rollout" each. Parameters are float64 (the finite-difference test
needs it; the network is small enough that it costs little).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from workbench import recipes as wp
from workbench.algorithm import Algorithm, EvalResult, IterationResult
from workbench.config import Section, option
from workbench.metrics import post_after_steps
from workbench.objective import gradient_steps, make_objective
from workbench.optim import Adam
from workbench.seeding import derive, derive_many

# Keys of a task's streams. SUPPORT and POST are those of ES-MAML's exact-gradient operator
# and held-out scoring (es.adaptation.base.PIVOT_KEY, es.trainer.POST), numbered alike so
# that both evaluate on the same points (this package may not import es; a test pins the
# agreement); the test tasks and seeds come from `Algorithm.test_batch`.
SUPPORT, TASKS, POINTS, POST, QUERY = 1, 2, 3, 4, 6


@dataclass(frozen=True)
class MAMLConfig(Section):
    """Exact MAML's keys (Finn et al. 2017's sine settings)."""

    meta_batch: int = option(25, "tasks per meta-batch", low=1)
    alpha: float = option(0.01, "inner (adaptation) step size", low=0.0)
    inner_steps: int = option(1, "inner gradient steps in training", low=1)
    meta_lr: float = option(1e-3, "Adam's learning rate on the meta-loss", low=0.0,
                            low_open=True)
    query_points: int = option(0, "points of each task's query set (0: K, as MAML's code)",
                               low=0)
    eval_steps: int = option(3, "the test evaluation reports the held-out value after each "
                             "of 1..eval_steps steps", low=1)


class ExactMAML(Algorithm):
    name = "maml"
    Config = MAMLConfig

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        if not self.family.supervised:
            raise ValueError(f"maml (exact second-order MAML) needs a differentiable, supervised "
                             f"task such as sine; {self.family.name!r} is an RL task (use "
                             f"maml-trpo, promp or dice)")
        c = config
        self.K, self.alpha = int(c["K"]), float(c["alpha"])
        self.objective = make_objective(self.family, self.spec, self.horizon)
        self.support = self.objective.with_points(self.K)
        self.query = self.objective.with_points(int(c["query_points"]) or self.K)
        self.theta = self.spec.init(torch.Generator().manual_seed(self.seed), dtype=torch.float64)
        self.adam = Adam(self.theta)

    def meta_loss(self, theta: torch.Tensor, tasks: torch.Tensor, seeds: torch.Tensor):
        """The meta-loss at `theta [D]` (differentiable through the inner steps), and the
        support-set values at theta `[n]` and the query values after adapting `[n]`."""
        rows = theta.unsqueeze(0).expand(len(tasks), -1)
        points, evaluations = gradient_steps(
            self.support, rows, tasks, derive_many(seeds, SUPPORT), self.alpha,
            int(self.config["inner_steps"]), create_graph=True)
        query = self.query.values(points[-1], tasks, derive_many(seeds, QUERY))
        return -query.mean(), evaluations[0].values, query.detach()

    def train_iteration(self, iteration: int) -> IterationResult:
        s = derive(self.seed, iteration)
        n = int(self.config["meta_batch"])
        tasks = self.family.sample_tasks(n, torch.Generator().manual_seed(derive(s, TASKS)))
        seeds = derive_many(derive(s, POINTS), torch.arange(n))
        with torch.enable_grad():
            theta = self.theta.clone().requires_grad_(True)
            loss, pre, post = self.meta_loss(theta, tasks, seeds)
            (grad,) = torch.autograd.grad(loss, theta)
        if not torch.isfinite(grad).all():
            raise ValueError(f"training diverged at iteration {iteration}: non-finite "
                             f"meta-gradient (try a smaller alpha or meta_lr); the last "
                             f"checkpoint is intact")
        self.theta = self.theta - float(self.config["meta_lr"]) * self.adam.direction(grad)
        steps = int(self.config["inner_steps"])
        return IterationResult(float(pre.mean()), float(post.mean()), n * (steps + 1),
                               n * (steps * self.support.num_points + self.query.num_points),
                               extras={"maml/grad_norm": float(grad.norm()),
                                       "maml/theta_norm": float(self.theta.norm())})

    def evaluate(self, iteration: int, record: bool = False) -> EvalResult:
        n = int(self.config["eval_adaptations"])
        tasks, seeds = self.test_batch(iteration, n)
        steps = int(self.config["inner_steps"])
        points, evaluations = gradient_steps(
            self.support, wp.broadcast(self.theta, n), tasks, derive_many(seeds, SUPPORT),
            self.alpha, max(steps, int(self.config["eval_steps"])))
        held_out = [self.objective.held_out(p, tasks, derive_many(seeds, POST)).values
                    for p in points]
        result = EvalResult.of(tasks, evaluations[0].values, held_out[steps])
        for k in range(1, int(self.config["eval_steps"]) + 1):
            result.extras[post_after_steps(k)] = float(held_out[k].mean())
        return result

    def state_dict(self) -> dict[str, Any]:
        return {"theta": self.theta.clone(), "adam": self.adam.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["theta"].shape != self.theta.shape:
            raise ValueError(f"checkpoint theta has {state['theta'].numel()} parameters; the "
                             f"configured model {self.spec.describe()} has "
                             f"{self.theta.numel()}")
        self.theta = state["theta"].to(torch.float64).clone()
        self.adam.load_state_dict(state["adam"])
