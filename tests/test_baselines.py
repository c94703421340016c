"""PG-MAML baselines (MAML-TRPO, ProMP, DiCE): sampler, advantages, surrogate estimators
against closed-form meta-gradients, TRPO's trust region, learning, determinism, resume."""

from __future__ import annotations

import math
from functools import lru_cache

import pytest
import torch

from baselines import surrogates
from baselines.advantages import (LinearFeatureBaseline, Processed, discount_cumsum,
                                  discounted_returns, gae, normalize, process)
from baselines.base import DETERMINISTIC, EVAL, TASKS, Step, adapt, mean_kl
from baselines.dice import dice_outer_loss
from baselines.maml_trpo import MAMLTRPO, outer_surrogate
from baselines.meta_baseline import MetaBaseline
from baselines.promp import promp_loss
from baselines.trajectories import RESET, log_prob, sample
from baselines.trpo import conjugate_gradient, trpo_step
from workbench.app import runconfig as cfg
from workbench.app import run as runmod
from workbench.algorithm import algorithm_class
from workbench.app.cli import main
from workbench.policies import GaussianPolicy, PolicySpec
from workbench.rollout import deterministic_rollouts
from workbench.seeding import derive, derive_many
from workbench.tasks import make_family
from workbench.tasks.base import BatchedSim, TaskFamily

ALGOS = ["maml-trpo", "promp", "dice"]
TINY = ["meta_batch=4", "K=3", "horizon=20", "eval_every=2", "eval_adaptations=4",
        "checkpoint_every=2", "width=8"]
KEYS = {"iteration", "wall_time_s", "rollouts", "env_steps", "train/pre_adaptation_return",
        "train/post_adaptation_return"}
#: An evaluation line on nav2d: the mean networks' returns, the executed stochastic
#: policy's, and the exploration spread (a 2-D task).
TEST_KEYS = {"test/pre_adaptation_return", "test/post_adaptation_return",
             "test/pre_adaptation_return_stochastic", "test/post_adaptation_return_stochastic",
             "test/exploration_spread"}


def make(algo: str, *sets: str, task: str = "nav2d", seed: int = 0):
    cls = algorithm_class(algo)
    return cls(cfg.resolve(cls, None, list(sets), task=task, seed=seed))


def without_wall(metrics: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k != "wall_time_s"} for m in metrics]


def train(out, algo: str, *sets: str, task: str = "nav2d", seed: int = 0) -> list[dict]:
    args = ["train", "--algo", algo, "--task", task, "--out", str(out), "--seed", str(seed),
            "--quiet"]
    for s in [*TINY, *sets]:
        args += ["--set", s]
    assert main(args) == 0
    return runmod.RunDir(out).read_metrics()


# == a linear-quadratic task with a closed-form MAML objective ================================
# s_0 fixed, a_t ~ N(s_t W + b, diag(sigma^2)), s_{t+1} = s_t + a_t, r_t = -|s_{t+1} - g|^2.
# The policy is the workbench's L policy with a linear output (mean = s W + b) plus the
# Gaussian log-std: theta = (W [2x2] row-major, b [2], log_std [2]).
S0 = torch.tensor([0.5, -0.5], dtype=torch.float64)
GOAL = torch.tensor([1.0, 0.5], dtype=torch.float64)
LQ_SPEC = PolicySpec(2, 2, (), output="linear")
LQ_THETA = torch.tensor([0.1, 0.0, 0.0, 0.1, 0.0, 0.0, math.log(0.5), math.log(0.5)],
                        dtype=torch.float64)
ALPHA = 0.1  # inner learning rate of the surrogates (which average over the T steps)


class LQSim(BatchedSim):
    def reset(self, seeds=None):
        self.s = S0.to(self.dtype).expand(self.batch_size, 2).clone()
        return self.s.clone()

    def step(self, actions):
        self.s = self.s + self.check_actions(actions)
        reward = -(self.s - self.params).square().sum(-1)
        return self.s.clone(), reward, torch.zeros(self.batch_size, dtype=torch.bool)


class LQFamily(TaskFamily):
    name = "linear-quadratic"
    obs_dim = 2
    act_dim = 2
    default_horizon = 2

    def enumerate_tasks(self):
        return GOAL.reshape(1, 2)

    def make_sim(self, tasks, dtype=torch.float32):
        return LQSim(self, tasks, dtype)


def lq_return(theta: torch.Tensor, T: int) -> torch.Tensor:
    """Exact expected return E[sum_t r_t] (Gaussian moments of the linear system)."""
    W, b = theta[:4].reshape(2, 2), theta[4:6]
    var = torch.diag(torch.exp(2 * theta[6:8]))
    A = torch.eye(2, dtype=theta.dtype) + W
    mean, cov, total = S0, torch.zeros(2, 2, dtype=theta.dtype), 0.0
    for _ in range(T):
        mean, cov = mean @ A + b, A.T @ cov @ A + var
        total = total - ((mean - GOAL).square().sum() + cov.trace())
    return total


def lq_exact(theta: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The adapted point theta' = theta + (alpha / T) grad J and the exact MAML gradient
    d/dtheta J(theta'), by autograd on the closed form. (The surrogates average over the T
    steps, so their inner step is alpha / T times the gradient of the return.)"""
    th = theta.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(lq_return(th, T), th, create_graph=True)
    adapted = th + ALPHA / T * g
    (meta,) = torch.autograd.grad(lq_return(adapted, T), th)
    return adapted.detach(), meta


def lq_value(obs: torch.Tensor) -> torch.Tensor:
    """A fixed state-dependent baseline for the DiCE modes (any fixed V keeps them unbiased)."""
    return -2.0 * (obs - GOAL).square().sum(-1)


def meta_gradient(inner: str, outer: str, T: int = 2, mode: str = "none", N: int = 10000,
                  K: int = 20, seed: int = 7, recenter: bool = True):
    """N independent meta-gradient estimates (each from K pre- and K post-update rollouts)
    through the algorithms' own code: sampler, `adapt` (inner step with create_graph) and
    the outer losses. Returns (mean, standard error) of -T * d loss / d theta.

    `recenter`: the post-update phase is sampled at the EXACT adapted point theta', and the
    outer loss is evaluated at theta_hat' - theta_hat'.detach() + theta' (value theta',
    derivative through the sampled inner step). The estimate is then
    (d theta_hat'/d theta)^T g_hat(theta') with independent factors, so its mean is
    E[d theta_hat'/d theta]^T grad J(theta') -- exactly the MAML gradient when the inner
    surrogate's Hessian estimate is unbiased. Without it, theta_hat' (a K-sample estimate)
    feeds the nonlinear post-update return, which biases EVERY plug-in estimator by
    O(alpha^2 / K) (ES-MAML paper, A.2), DiCE's included.
    """
    family = LQFamily()
    tasks = torch.zeros(N, dtype=torch.int64)
    P0 = LQ_THETA.repeat(N, 1).requires_grad_(True)
    pre = sample(LQ_SPEC, family, P0, tasks, K, T, derive_many(seed, torch.arange(N * K), 1),
                 dtype=torch.float64)
    data = process(pre, gamma=1.0, gae_lambda=1.0, baseline="zero", normalize_advantages=False)
    if mode != "none":
        v = lq_value(pre.obs) * pre.mask
        data = Processed(data.returns - v, data.returns, v, data.disc_rewards, v)
    if inner == "swapped-control-variate":
        with torch.enable_grad():
            loss = swapped_control_variate(log_prob(LQ_SPEC, P0, pre), data.disc_rewards,
                                           data.disc_values, pre.mask, N).sum()
            (g,) = torch.autograd.grad(loss, P0, create_graph=True)
        P1 = P0 - ALPHA * g
    else:
        P1 = adapt(LQ_SPEC, P0, Step(pre, data), inner, ALPHA, create_graph=True,
                   dice_mode=mode)
    if recenter:
        target, _ = lq_exact(LQ_THETA, T)
        P1 = P1 - P1.detach() + target.expand(N, -1)
    post_batch = sample(LQ_SPEC, family, P1.detach(), tasks, K, T,
                        derive_many(seed, torch.arange(N * K), 2), dtype=torch.float64)
    post = Step(post_batch, process(post_batch, 1.0, 1.0, "zero", False))
    if outer == "dice":
        loss = dice_outer_loss(LQ_SPEC, P1, post, "none") * N
    elif outer == "trpo":
        loss = outer_surrogate(LQ_SPEC, P1, post).sum()
    elif outer == "promp":
        pre_step = Step(pre, data)
        loss = promp_loss(LQ_SPEC, [P0, P1], [pre_step], post, 0.3, 5e-4)[0] * N
    (grad,) = torch.autograd.grad(loss, P0)
    grad = -T * grad
    return grad.mean(0), grad.std(0) / math.sqrt(N)


def swapped_control_variate(logp, disc_rewards, disc_values, mask, n):
    """The control variate with its magic boxes in the other order,
    sum_t (1 - magic(w_{<t})) magic(log pi_t) b_t (a common reading of T-MAML's formula)."""
    magic = surrogates.magic_box
    cum = torch.cumsum(logp * mask, 0)
    objective = (magic(cum) * disc_rewards
                 + (1.0 - magic(cum - logp)) * magic(logp) * disc_values) * mask
    return -surrogates.per_task_sum(objective, n) / float(logp.shape[0] * (logp.shape[1] // n))


def z_scores(inner, outer, **kw):
    _, exact = lq_exact(LQ_THETA, kw.get("T", 2))
    mean, se = meta_gradient(inner, outer, **kw)
    return (mean - exact) / se, mean - exact, exact


def test_closed_form_matches_monte_carlo_return():
    family = LQFamily()
    batch = sample(LQ_SPEC, family, LQ_THETA.unsqueeze(0), torch.zeros(1, dtype=torch.int64),
                   20000, 2, torch.arange(20000), dtype=torch.float64)
    returns = batch.returns
    assert abs(float(returns.mean() - lq_return(LQ_THETA, 2))) < 4 * float(returns.std()) / math.sqrt(20000)


@pytest.mark.parametrize("mode", ["none", "adjusted", "control-variate"])
def test_dice_meta_gradient_is_unbiased(mode):
    z, bias, exact = z_scores("dice", "dice", mode=mode)
    assert z.abs().max() < 4, f"DiCE ({mode}) off the exact MAML gradient: z = {z.tolist()}"


def test_control_variate_needs_its_magic_boxes_in_the_right_order():
    """(1 - magic(log pi_t)) magic(w_<t) b_t is unbiased (above); the swapped
    (1 - magic(w_<t)) magic(log pi_t) b_t is not, once b depends on the state."""
    z, bias, exact = z_scores("swapped-control-variate", "trpo", mode="control-variate")
    print(f"\nswapped control variate: |bias| = {bias.norm():.3f}, max |z| = {z.abs().max():.1f}")
    assert z.abs().max() > 6


@pytest.mark.parametrize("outer", ["trpo", "promp"])
def test_dice_inner_step_gives_the_exact_meta_gradient_through_trpo_and_promp_outer_losses(outer):
    """MAML-TRPO's surrogate (and ProMP's, whose clip and KL terms vanish in the gradient at
    the sampling point) with a DiCE inner step: unbiased."""
    z, _, _ = z_scores("dice", outer)
    assert z.abs().max() < 4, f"{outer} outer with DiCE inner: z = {z.tolist()}"


def test_lvc_meta_gradient_is_biased_over_two_steps():
    """ProMP's LVC inner loss keeps only per-step likelihood ratios: its Hessian estimate
    drops the cross-step score products, a bias the two-step task makes visible."""
    z, bias, exact = z_scores("lvc", "promp")
    print(f"\nLVC meta-gradient bias: |bias| = {bias.norm():.3f}, |exact| = {exact.norm():.3f} "
          f"(relative {bias.norm() / exact.norm():.2f}), max |z| = {z.abs().max():.1f}; "
          f"bias = {[round(b, 3) for b in bias.tolist()]}")
    assert z.abs().max() > 6
    assert 0.1 < bias.norm() / exact.norm() < 1.0  # biased, but far less than first-order


def test_first_order_inner_loss_misses_the_pre_update_credit():
    """-mean(log pi * A) as the inner loss: the meta-gradient lacks the
    grad log pi grad log pi^T A term of the Hessian (Finn et al.'s implementation)."""
    z, bias, exact = z_scores("vpg", "trpo")
    _, lvc_bias, _ = z_scores("lvc", "trpo")
    print(f"\nfirst-order meta-gradient bias: |bias| = {bias.norm():.3f}, "
          f"|exact| = {exact.norm():.3f}, max |z| = {z.abs().max():.1f}")
    assert z.abs().max() > 6
    assert bias.norm() > 2 * lvc_bias.norm()


def test_one_step_lvc_and_dice_coincide():
    """At horizon 1 the LVC ratio pi / pi_old and DiCE's magic box are the same function, so
    their meta-gradients agree sample by sample (LVC's bias needs more than one step)."""
    a, _ = meta_gradient("lvc", "trpo", T=1, N=200, K=5)
    b, _ = meta_gradient("dice", "trpo", T=1, N=200, K=5)
    torch.testing.assert_close(a, b)
    z, _, _ = z_scores("lvc", "trpo", T=1)
    assert z.abs().max() < 4


# == surrogates, advantages, baseline =======================================================
def test_dice_cumulative_sum_stays_within_each_episode():
    torch.manual_seed(0)
    T, n, K = 5, 2, 3
    logp = torch.randn(T, n * K, dtype=torch.float64, requires_grad=True)
    rewards = torch.randn(T, n * K, dtype=torch.float64)
    mask = torch.ones(T, n * K, dtype=torch.float64)
    mask[3:, 1] = 0.0  # episode 1 ends after 3 steps
    rewards = rewards * mask
    loss = surrogates.dice(logp, rewards, torch.zeros_like(rewards), mask, n, "none").sum()
    (grad,) = torch.autograd.grad(loss, logp)
    # d/d log pi_t = -(rewards from t to the end of THIS episode) / (K T)
    expected = torch.zeros_like(grad)
    for b in range(n * K):
        for t in range(T):
            if mask[t, b]:
                expected[t, b] = -rewards[t:, b].sum() / (K * T)
    torch.testing.assert_close(grad, expected)


def test_control_variate_and_adjusted_dice_have_the_same_derivatives():
    """Mao et al.'s / T-MAML's control variate sum_t (1 - magic(a_t)) magic(w_<t) b_t equals
    the telescoping baseline of the `adjusted` mode up to the constant b_0: same gradient
    and Hessian."""
    torch.manual_seed(1)
    T, B = 4, 3
    logp = torch.randn(T, B, dtype=torch.float64, requires_grad=True)
    r, v = torch.randn(T, B, dtype=torch.float64), torch.randn(T, B, dtype=torch.float64)
    mask = torch.ones(T, B, dtype=torch.float64)
    u = torch.randn(T, B, dtype=torch.float64)
    grads = []
    for mode in ("adjusted", "control-variate"):
        loss = surrogates.dice(logp * 1.0, r, v, mask, 1, mode).sum()
        (g,) = torch.autograd.grad(loss, logp, create_graph=True)
        (h,) = torch.autograd.grad((g * u).sum(), logp)
        grads.append((g.detach(), h))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][1], grads[1][1])


def test_discounting_and_gae():
    torch.manual_seed(0)
    T, B, gamma = 6, 4, 0.9
    r, v = torch.randn(T, B, dtype=torch.float64), torch.randn(T, B, dtype=torch.float64)
    mask = torch.ones(T, B, dtype=torch.float64)
    mask[4:, 0] = 0.0
    loop = torch.zeros(T, B, dtype=torch.float64)
    for b in range(B):
        acc = 0.0
        for t in reversed(range(T)):
            acc = r[t, b] * mask[t, b] + gamma * acc
            loop[t, b] = acc * mask[t, b]
    G = discounted_returns(r, mask, gamma)
    torch.testing.assert_close(G, loop)
    torch.testing.assert_close(gae(r * mask, v, mask, gamma, 1.0), (G - v) * mask)
    v_next = torch.cat([v[1:] * mask[1:], torch.zeros(1, B, dtype=torch.float64)])
    torch.testing.assert_close(gae(r * mask, v, mask, gamma, 0.0), (r + gamma * v_next - v) * mask)
    torch.testing.assert_close(discount_cumsum(torch.ones(3, 1), 0.5).flatten(),
                               torch.tensor([1.75, 1.5, 1.0]))
    adv = normalize(torch.randn(T, B, dtype=torch.float64) * 3 + 1, mask, 2)
    for i in range(2):
        cols = slice(2 * i, 2 * i + 2)
        valid = adv[:, cols][mask[:, cols].bool()]
        assert abs(float(valid.mean())) < 1e-9
        assert abs(float(valid.std(unbiased=False)) - 1.0) < 1e-6


def test_linear_baseline_is_the_damped_least_squares_fit_per_task():
    torch.manual_seed(0)
    T, n, K, d = 7, 2, 3, 2
    obs = torch.randn(T, n * K, d, dtype=torch.float64) * 5
    y = torch.randn(T, n * K, dtype=torch.float64)
    mask = torch.ones(T, n * K, dtype=torch.float64)
    mask[5:, 2] = 0.0
    pred = LinearFeatureBaseline().fit_predict(obs, y, mask, n)
    feats = LinearFeatureBaseline.features(obs)
    assert feats.shape == (T, n * K, 2 * d + 4)
    for i in range(n):
        cols = slice(i * K, (i + 1) * K)
        keep = mask[:, cols].bool()
        F, t = feats[:, cols][keep], y[:, cols][keep]
        coef = torch.linalg.solve(F.T @ F + 1e-5 * torch.eye(F.shape[1], dtype=F.dtype), F.T @ t)
        torch.testing.assert_close(pred[:, cols][keep], F @ coef)
    assert (pred[5:, 2] == 0).all()
    # a degenerate batch (constant observations) still gives a finite fit
    flat = LinearFeatureBaseline().fit_predict(torch.zeros(T, 3, d, dtype=torch.float64), y[:, :3],
                                               torch.ones(T, 3, dtype=torch.float64), 1)
    assert torch.isfinite(flat).all()


def test_linear_baseline_lowers_policy_gradient_variance():
    """Same rollouts, two advantage estimates: 24 independent K = 20 batches of one nav2d
    task, one policy-gradient estimate per batch, with and without the linear baseline."""
    family = make_family("nav2d")
    spec = PolicySpec.from_name("H", 2, 2)
    theta = GaussianPolicy(spec, -1.0, torch.Generator().manual_seed(3)).flat().detach()
    n, K = 24, 20
    tasks = family.train_ids[:1].repeat(n)
    params = theta.expand(n, -1).clone().requires_grad_(True)
    batch = sample(spec, family, params, tasks, K, 100, torch.arange(n * K))
    variances = {}
    for baseline in ("zero", "linear"):
        data = process(batch, 0.99, 1.0, baseline, normalize_advantages=False)
        loss = surrogates.vpg(log_prob(spec, params, batch), data.advantages, batch.mask, n).sum()
        (grads,) = torch.autograd.grad(loss, params)
        variances[baseline] = float(grads.var(0).sum())
    print(f"\nPG estimate variance (trace): no baseline {variances['zero']:.4g}, "
          f"linear baseline {variances['linear']:.4g}")
    assert variances["linear"] < 0.5 * variances["zero"]


# == the sampler ============================================================================
@pytest.mark.parametrize("task", ["nav2d", "cartpole-biased"])
def test_near_deterministic_sampling_matches_the_engine(task):
    """With std exp(-1000) = 0 the sampler's returns, lengths and done masking are the
    deterministic engine's (reset noise from the same seeds). (A merely tiny std would not
    do: random closed-loop policies amplify 1e-13 perturbations exponentially.)"""
    family = make_family(task)
    spec = PolicySpec.from_name("H", family.obs_dim, family.act_dim, width=8)
    n, K = 3, 4
    mean = torch.stack([spec.init(torch.Generator().manual_seed(i)) for i in range(n)])
    params = torch.cat([mean, torch.full((n, spec.act_dim), -1000.0)], 1)
    tasks = family.train_ids[:n]
    seeds = torch.arange(n * K) + 100
    batch = sample(spec, family, params, tasks, K, 60, seeds)
    ref = deterministic_rollouts(spec, family, mean.repeat_interleave(K, 0), tasks.repeat_interleave(K), 60,
                   seeds=derive_many(seeds, RESET))
    torch.testing.assert_close(batch.returns, ref.returns, rtol=1e-5, atol=1e-4)
    assert torch.equal(batch.lengths, ref.lengths)


def test_sampler_uses_each_tasks_parameters_and_masks_finished_episodes():
    family = make_family("nav2d")
    spec = PolicySpec.from_name("H", 2, 2, width=8)
    n, K = 3, 50
    params = torch.stack([torch.cat([spec.init(torch.Generator().manual_seed(i)),
                                     torch.full((2,), -1.0 + i)]) for i in range(n)])
    tasks = family.train_ids[:n]
    batch = sample(spec, family, params, tasks, K, 100, torch.arange(n * K))
    # recorded log-probs and means are those of task i's own policy
    torch.testing.assert_close(log_prob(spec, params, batch), batch.logp, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(mean_kl(spec, params, batch), torch.zeros(n), atol=1e-6, rtol=0)
    # masks: alive is non-increasing, ends right after the done step, nothing counted after
    mask, dones = batch.mask, batch.dones
    assert dones.any(), "expected some episodes to reach their goal"
    assert (mask[1:] <= mask[:-1]).all()
    assert (batch.rewards[mask == 0] == 0).all() and (batch.logp[mask == 0] == 0).all()
    assert (dones.sum(0) <= 1).all()
    t_done = dones.float().argmax(0)
    for b in dones.any(0).nonzero().flatten().tolist():
        assert mask[t_done[b], b] == 1 and mask[t_done[b] + 1:, b].sum() == 0
    assert batch.obs_stats[0] == mask.sum()
    # a rollout does not depend on the other rollouts of its batch
    alone = sample(spec, family, params[1:2], tasks[1:2], K, 100, torch.arange(K, 2 * K))
    assert torch.equal(alone.actions, batch.actions[:alone.T, K:2 * K])
    assert torch.equal(alone.returns, batch.returns[K:2 * K])


def test_population_log_probs_equal_the_gaussian_policy_module():
    """The stacked-weights forward used for per-task parameters is `GaussianPolicy` (through
    `torch.func.functional_call`) with the same flat layout, gradients included."""
    family = make_family("cartpole-biased")
    spec = PolicySpec.from_name("HH", 4, 1, width=8)
    policy = GaussianPolicy(spec, -0.5, torch.Generator().manual_seed(0))
    flats = torch.stack([policy.flat().detach() + 0.1 * i for i in range(2)]).requires_grad_(True)
    batch = sample(spec, family, flats, family.train_ids[:2], 3, 15, torch.arange(6))
    ours = log_prob(spec, flats, batch)
    (g_ours,) = torch.autograd.grad(ours.sum(), flats)
    for i in range(2):
        cols = slice(3 * i, 3 * i + 3)
        flat = flats[i].detach().clone().requires_grad_(True)
        ref = _module_log_prob(policy, flat, batch.obs[:, cols], batch.actions[:, cols])
        ref = ref * batch.mask[:, cols]
        torch.testing.assert_close(ours[:, cols], ref, rtol=1e-5, atol=1e-5)
        (g_ref,) = torch.autograd.grad(ref.sum(), flat)
        torch.testing.assert_close(g_ours[i], g_ref, rtol=1e-4, atol=1e-4)


def _module_log_prob(policy, flat, obs, actions):
    class LogProb(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, o, a):
            return self.inner.log_prob(o, a)

    wrapper = LogProb(policy)
    params = {f"inner.{k}": v for k, v in policy.param_dict(flat).items()}
    return torch.func.functional_call(wrapper, params, (obs, actions))


def test_baselines_never_import_es():
    import subprocess
    import sys
    code = ("import sys, baselines.maml_trpo, baselines.promp, baselines.dice; "
            "bad = [m for m in sys.modules if m == 'es' or m.startswith('es.')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("algo, sets", [
    ("maml-trpo", ["inner_loss=lvc"]), ("maml-trpo", ["inner_loss=dice", "baseline=zero"]),
    ("dice", ["control_variates=true", "state_normalization=true"]),
    ("promp", ["inner_steps=2", "normalize_advantages=false"]),
])
def test_options_run_on_cartpole(algo, sets):
    algo = make(algo, "meta_batch=3", "K=3", "horizon=30", "width=8", *sets, task="cartpole-biased")
    result = algo.train_iteration(0)
    assert math.isfinite(result.post_return) and result.rollouts == 3 * 3 * (algo.inner_steps + 1)


# == TRPO ===================================================================================
def test_conjugate_gradient_solves_a_positive_definite_system():
    torch.manual_seed(0)
    M = torch.randn(12, 12, dtype=torch.float64)
    A = M @ M.T + 0.5 * torch.eye(12, dtype=torch.float64)
    b = torch.randn(12, dtype=torch.float64)
    x = conjugate_gradient(lambda v: A @ v, b, iters=40)
    torch.testing.assert_close(x, torch.linalg.solve(A, b))


def test_trpo_step_rejects_a_step_that_does_not_improve():
    target = torch.tensor([1.0, -2.0, 0.5])

    def loss_and_kl(theta, create_graph):
        loss = (theta - target).square().sum()
        kl = 0.5 * (theta - theta.detach() if create_graph else torch.zeros(3)).square().sum()
        if not create_graph:  # the line search sees a loss that never improves
            loss = loss + 100.0
        return loss, kl

    theta = torch.zeros(3)
    result = trpo_step(theta, loss_and_kl, max_kl=0.01)
    assert not result.accepted and torch.equal(result.theta, theta)


def test_trpo_step_respects_the_trust_region_on_a_quadratic():
    target = torch.tensor([1.0, -2.0, 0.5])
    theta0 = torch.zeros(3)

    def loss_and_kl(theta, create_graph):
        return (theta - target).square().sum(), 0.5 * (theta - theta0).square().sum() * 4.0

    result = trpo_step(theta0, loss_and_kl, max_kl=0.01)
    assert result.accepted and result.kl <= 0.01 and result.loss_after < result.loss_before
    assert result.kl > 0.009  # the full step lands (almost) on the trust region's boundary


class CheckedTRPO(MAMLTRPO):
    """MAML-TRPO that re-evaluates each outer step from the recorded phases."""

    checks: list = []

    def outer_update(self, steps, post, iteration):
        before = self.theta.clone()
        extras = super().outer_update(steps, post, iteration)

        def evaluate_at(theta):
            params = self.chain(theta, steps, create_graph=False)[-1]
            return (float(outer_surrogate(self.spec, params, post).mean()),
                    float(mean_kl(self.spec, params, post.batch).mean()))

        (l0, k0), (l1, k1) = evaluate_at(before), evaluate_at(self.theta)
        self.checks.append((bool(extras["trpo/accepted"]), torch.equal(before, self.theta),
                            l0, l1, k0, k1))
        return extras


@pytest.mark.parametrize("max_kl", [0.01, 1e-4])
def test_every_maml_trpo_step_stays_in_the_trust_region_and_improves(max_kl):
    config = cfg.resolve(MAMLTRPO, None, ["meta_batch=6", "K=5", "horizon=40",
                                          f"max_kl={max_kl}"], task="nav2d")
    algo = CheckedTRPO(config)
    algo.checks = []
    for it in range(4):
        algo.train_iteration(it)
    assert any(c[0] for c in algo.checks)
    for accepted, unchanged, l0, l1, k0, k1 in algo.checks:
        assert k0 < 1e-9
        if accepted:
            assert k1 <= max_kl * (1 + 1e-4) and l1 < l0
        else:
            assert unchanged


# == the algorithms =========================================================================
def test_promp_learns_nav2d():
    """Post-update return of the trained policy vs the initial one on the same 40 tasks
    with the same rollout seeds; the bar is 3 standard errors of the paired differences."""
    algo = make("promp", "meta_batch=20", "K=10", seed=1)
    initial = algo.theta.clone()
    for it in range(15):
        algo.train_iteration(it)
    trained = algo.theta.clone()
    tasks = algo.family.train_ids[:40]
    post = {}
    for name, theta in (("initial", initial), ("trained", trained)):
        algo.theta = theta
        _, phase, _ = algo.collect(tasks, seed=12345)
        post[name] = phase.batch.returns.reshape(40, -1).mean(1)
    diff = post["trained"] - post["initial"]
    se = float(diff.std()) / math.sqrt(len(diff))
    print(f"\nProMP nav2d post-update return {float(post['initial'].mean()):.1f} -> "
          f"{float(post['trained'].mean()):.1f} (paired SE {se:.1f})")
    assert float(diff.mean()) > 3 * se


@pytest.mark.parametrize("algo", ALGOS)
def test_runs_are_deterministic_with_the_design_keys(tmp_path, algo):
    a = train(tmp_path / "a", algo, "iterations=3")
    b = train(tmp_path / "b", algo, "iterations=3")
    assert without_wall(a) == without_wall(b)
    for m in a:
        assert set(m) == KEYS | (TEST_KEYS if m["iteration"] in (0, 1) else set())
        assert math.isfinite(m["train/post_adaptation_return"])
    assert a[-1]["rollouts"] == 3 * 4 * 3 * 2  # iterations x tasks x K x (inner + post)
    assert a[-1]["env_steps"] <= a[-1]["rollouts"] * 20
    c = train(tmp_path / "c", algo, "iterations=1", seed=1)
    assert without_wall(c)[0] != without_wall(a)[0]


@pytest.mark.parametrize("algo", ALGOS)
def test_resume_from_state_dict_continues_identically(tmp_path, algo):
    sets = ["meta_batch=4", "K=3", "horizon=20", "width=8", "inner_steps=2"]
    first = make(algo, *sets)
    for it in range(2):
        first.train_iteration(it)
    path = tmp_path / "state.pt"
    torch.save(first.state_dict(), path)
    second = make(algo, *sets)
    second.load_state_dict(torch.load(path, weights_only=True))
    r1, r2 = first.train_iteration(2), second.train_iteration(2)
    assert (r1.pre_return, r1.post_return, r1.env_steps) == (r2.pre_return, r2.post_return, r2.env_steps)
    assert torch.equal(first.theta, second.theta)
    assert first.evaluate(2).post_return == second.evaluate(2).post_return


def test_cli_resume_equals_an_uninterrupted_run(tmp_path):
    straight = train(tmp_path / "straight", "promp", "iterations=4")
    train(tmp_path / "short", "promp", "iterations=2")
    assert main(["train", "--resume", str(tmp_path / "short"), "--set", "iterations=4",
                 "--quiet"]) == 0
    assert without_wall(runmod.RunDir(tmp_path / "short").read_metrics()) == without_wall(straight)


def test_evaluate_reports_deterministic_and_stochastic_returns():
    algo = make("maml-trpo", "K=4", "eval_adaptations=6", "width=8")
    result = algo.evaluate(0, record=True)
    assert set(result.extras) == {"test/pre_adaptation_return_stochastic",
                                  "test/post_adaptation_return_stochastic"}
    assert result.trajectories.shape[0] == algo.horizon + 1 and result.trajectories.shape[2] == 2
    assert len(result.trajectory_tasks) == result.trajectories.shape[1]
    # test/pre is the deterministic return of the mean network on the test tasks
    n, D = 6, algo.spec.num_params
    s = derive(0, EVAL, 0)
    tasks = algo.family.sample_tasks(n, torch.Generator().manual_seed(derive(s, TASKS)), "test")
    assert set(tasks.tolist()) <= set(algo.family.test_ids.tolist())
    ref = deterministic_rollouts(algo.spec, algo.family, algo.theta[:D].expand(n, D), tasks, algo.horizon,
                   seeds=derive_many(derive(s, DETERMINISTIC), torch.arange(n)))
    assert abs(result.pre_return - float(ref.returns.mean())) < 1e-4


@pytest.mark.parametrize("sets, message", [
    (["inner_loss=sgd"], "'inner_loss' must be one of vpg, lvc, dice; got 'sgd'"),
    (["meta_batch=0"], "'meta_batch' must be >= 1"),
    (["max_kl=0"], "'max_kl' must be > 0.0"),
    (["baseline=value"], "'baseline' must be one of linear, zero; got 'value'"),
])
def test_bad_configs_fail_with_the_valid_choices(sets, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make("maml-trpo", *sets)


def test_supervised_task_and_inconsistent_options_are_refused():
    with pytest.raises(ValueError, match="needs an RL task"):
        make("promp", task="sine")
    with pytest.raises(ValueError, match="control_variates needs a baseline"):
        make("dice", "control_variates=true", "baseline=zero")


# == T-MAML's learned control variate =======================================================
TMAML_T = 3  # three steps: the cross-step Hessian terms the control variate acts on are
#              2 of the 6 (t, t') pairs instead of 1 of 3 at T = 2


@lru_cache(maxsize=None)
def tmaml_meta_gradients(base: str, T: int = TMAML_T, N: int = 10000, K: int = 20,
                         seed: int = 11, meta_iters: int = 100, M: int = 100):
    """Paired per-batch meta-gradient estimates `[N, 8]` of DiCE without and with T-MAML's
    learned control variate, on the same pre- and post-update rollouts, and the exact one.

    `base`: the DiCE inner loss's own baseline, `none` (Foerster et al.'s plain DiCE; the
    meta-baseline then fits the reward-to-go, T-MAML's target) or `adjusted` (the fixed
    `lq_value`; the meta-baseline fits the residual G - V, as `baselines.dice` does).
    The meta-baseline is first meta-trained (`meta_iters` updates, default hyperparameters)
    on independent batches of M tasks, then cross-fits its heads on the measured batch.
    Recentred as in `meta_gradient`, so both estimates are unbiased exactly when their
    Hessian estimates are. The inner steps go through `adapt` (surrogate mode `t-maml`)."""
    family = LQFamily()

    def data_of(batch):
        data = process(batch, 1.0, 1.0, "zero", False)
        if base == "adjusted":
            v = lq_value(batch.obs) * batch.mask
            data = Processed(data.returns - v, data.returns, v, data.disc_rewards, v,
                             data.dice_scale)
        return data

    def zeros(m):
        return torch.zeros(m, dtype=torch.int64)

    mb = MetaBaseline(2, seed=0)
    for i in range(meta_iters):
        b = sample(LQ_SPEC, family, LQ_THETA.repeat(M, 1), zeros(M), K, T,
                   derive_many(seed, torch.arange(M * K), 3, i), dtype=torch.float64)
        d = data_of(b)
        mb.update(mb.fit_predict(b.obs, (d.returns - d.values) * b.mask, b.mask, M)[1])
    P0 = LQ_THETA.repeat(N, 1).requires_grad_(True)
    pre = sample(LQ_SPEC, family, P0, zeros(N), K, T, derive_many(seed, torch.arange(N * K), 1),
                 dtype=torch.float64)
    data = data_of(pre)
    coef, _ = mb.fit_predict(pre.obs, (data.returns - data.values) * pre.mask, pre.mask, N)
    with_cv = Processed(data.advantages, data.returns, data.values, data.disc_rewards,
                        torch.stack([data.disc_values, coef], -1), data.dice_scale)
    target, exact = lq_exact(LQ_THETA, T)
    post_batch = sample(LQ_SPEC, family, target.expand(N, -1), zeros(N), K, T,
                        derive_many(seed, torch.arange(N * K), 2), dtype=torch.float64)
    post = Step(post_batch, process(post_batch, 1.0, 1.0, "zero", False))
    grads = {}
    for name, d, mode in (("dice", data, "adjusted"), ("tmaml", with_cv, "t-maml")):
        P1 = adapt(LQ_SPEC, P0, Step(pre, d), "dice", ALPHA, create_graph=True, dice_mode=mode)
        P1 = P1 - P1.detach() + target.expand(N, -1)
        (g,) = torch.autograd.grad(dice_outer_loss(LQ_SPEC, P1, post, "none") * N, P0)
        grads[name] = -T * g
    return grads["dice"], grads["tmaml"], exact


def variance_ratio(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """tr Cov(a) / tr Cov(b) of paired samples `[N, P]` and its delta-method standard error."""
    sa = (a - a.mean(0)).square().sum(1)
    sb = (b - b.mean(0)).square().sum(1)
    ratio = float(sa.mean() / sb.mean())
    se = ratio * float((sa / sa.mean() - sb / sb.mean()).var() / len(sa)) ** 0.5
    return ratio, se


@pytest.mark.parametrize("base", ["none", "adjusted"])
def test_tmaml_meta_gradient_is_unbiased(base):
    """T-MAML's control variate with a learned, cross-fitted meta-baseline keeps the DiCE
    meta-gradient unbiased: within 4 standard errors of the closed form, coordinate by
    coordinate (10,000 independent batches of K = 20 pre- and post-update rollouts)."""
    plain, tmaml, exact = tmaml_meta_gradients(base)
    n = len(tmaml)
    z = (tmaml.mean(0) - exact) / (tmaml.std(0) / math.sqrt(n))
    z_plain = (plain.mean(0) - exact) / (plain.std(0) / math.sqrt(n))
    ratio, se = variance_ratio(tmaml, plain)
    print(f"\nT-MAML ({base} baseline) z = {[round(v, 2) for v in z.tolist()]}; DiCE z max "
          f"{z_plain.abs().max():.2f}; variance ratio T-MAML / DiCE {ratio:.3f} +- {se:.3f}")
    assert z.abs().max() < 4, f"T-MAML ({base}) off the exact MAML gradient: z = {z.tolist()}"


def test_tmaml_lowers_the_meta_gradient_variance_of_plain_dice():
    """Same rollouts, same sample size (K = 20 pre- and post-update, 10,000 batches): the
    trace of the covariance of T-MAML's meta-gradient estimate against plain DiCE's (no
    baseline). Measured 0.70 +- 0.01; required: below 0.8, and below 0.9 even at 4 standard
    errors of the ratio."""
    plain, tmaml, _ = tmaml_meta_gradients("none")
    ratio, se = variance_ratio(tmaml, plain)
    print(f"\nmeta-gradient variance: DiCE {float(plain.var(0).sum()):.4g}, T-MAML "
          f"{float(tmaml.var(0).sum()):.4g}; ratio {ratio:.3f} +- {se:.3f}")
    assert ratio < 0.8 and ratio + 4 * se < 0.9


def test_tmaml_control_variate_is_zero_to_first_order_and_acts_on_cross_step_pairs():
    """Value 0, gradient 0, and Hessian (in the log-probs) c_t / (K T) on every pair t' < t
    of one episode, nothing on the diagonal, nothing across episodes or masked steps."""
    torch.manual_seed(2)
    T, n, K = 4, 2, 2
    logp = torch.randn(T, n * K, dtype=torch.float64, requires_grad=True)
    coef = torch.randn(T, n * K, dtype=torch.float64)
    mask = torch.ones(T, n * K, dtype=torch.float64)
    mask[3:, 1] = 0.0
    loss = surrogates.tmaml_control_variate(logp, coef, mask, n)
    assert torch.equal(loss, torch.zeros(n, dtype=torch.float64))
    (g,) = torch.autograd.grad(loss.sum(), logp, create_graph=True)
    assert torch.equal(g.detach(), torch.zeros_like(g))
    hess = torch.stack([torch.autograd.grad(g.flatten()[i], logp, retain_graph=True)[0].flatten()
                        for i in range(T * n * K)])
    expected = torch.zeros(T * n * K, T * n * K, dtype=torch.float64)
    idx = torch.arange(T * n * K).reshape(T, n * K)
    for b in range(n * K):
        for t in range(T):
            for s in range(t):
                if mask[t, b]:
                    h = coef[t, b] / (K * T)
                    expected[idx[t, b], idx[s, b]] = expected[idx[s, b], idx[t, b]] = h
    torch.testing.assert_close(hess, expected)
    # mode t-maml = adjusted + this term
    r, v = torch.randn(T, n * K, dtype=torch.float64), torch.randn(T, n * K, dtype=torch.float64)
    both = surrogates.dice(logp, r, torch.stack([v, coef], -1), mask, n, "t-maml")
    torch.testing.assert_close(both, surrogates.dice(logp, r, v, mask, n, "adjusted") + loss)


def test_meta_baseline_is_cross_fitted():
    """A rollout's baseline comes from the other fold of its task: changing one rollout's
    targets leaves its own predictions (and the other tasks') unchanged and changes those of
    the other fold of its task; odd K and masked steps are handled."""
    torch.manual_seed(3)
    T, n, K = 6, 3, 5
    obs = torch.randn(T, n * K, 2)
    y = torch.randn(T, n * K)
    mask = torch.ones(T, n * K)
    mask[4:, 2] = 0.0
    mb = MetaBaseline(2, width=8, seed=1)
    pred, grad = mb.fit_predict(obs, y, mask, n)
    assert pred.shape == (T, n * K) and (pred[4:, 2] == 0).all() and torch.isfinite(grad).all()
    y2 = y.clone()
    y2[:, K + 1] += 5.0  # task 1, rollout 1 (fold 1)
    pred2, _ = mb.fit_predict(obs, y2, mask, n)
    same = [b for b in range(n * K) if not (K <= b < 2 * K) or (b - K) % 2 == 1]
    other = [K + 0, K + 2, K + 4]  # task 1, fold 0
    assert torch.equal(pred[:, same], pred2[:, same])
    assert (pred[:, other] != pred2[:, other]).all()
    with pytest.raises(ValueError, match="K >= 2"):
        mb.fit_predict(obs[:, :n], y[:, :n], mask[:, :n], n)


def test_tmaml_changes_training_and_stays_deterministic_and_resumable(tmp_path):
    """control_variates=true moves theta measurably away from the plain run (the old
    implementation: at most 5e-10 in three iterations); two runs are identical; a resume
    from the state dict (theta, Adam, meta-baseline) continues bit-identically."""
    sets = ["meta_batch=4", "K=4", "horizon=30", "width=8"]
    runs = {}
    for cv in ("false", "true", "true"):
        algo = make("dice", *sets, f"control_variates={cv}")
        results = [algo.train_iteration(it) for it in range(3)]
        runs.setdefault(cv, []).append((algo, results))
    plain, (a, ra), (b, rb) = runs["false"][0][0], runs["true"][0], runs["true"][1]
    delta = float((a.theta - plain.theta).abs().max())
    print(f"\nmax |theta(cv) - theta(plain)| after 3 iterations: {delta:.3g}")
    assert delta > 1e-5
    assert torch.equal(a.theta, b.theta)
    assert [r.post_return for r in ra] == [r.post_return for r in rb]
    assert torch.equal(a.meta_baseline.phi, b.meta_baseline.phi)
    fresh = make("dice", *sets, "control_variates=true")
    assert not torch.equal(a.meta_baseline.phi, fresh.meta_baseline.phi)  # it learned
    path = tmp_path / "state.pt"
    torch.save(a.state_dict(), path)
    resumed = make("dice", *sets, "control_variates=true")
    resumed.load_state_dict(torch.load(path, weights_only=True))
    r1, r2 = a.train_iteration(3), resumed.train_iteration(3)
    assert (r1.pre_return, r1.post_return, r1.extras) == (r2.pre_return, r2.post_return, r2.extras)
    assert torch.equal(a.theta, resumed.theta)
    assert torch.equal(a.meta_baseline.phi, resumed.meta_baseline.phi)
    assert a.evaluate(3).post_return == resumed.evaluate(3).post_return
    with pytest.raises(ValueError, match="no meta-baseline"):
        fresh.load_state_dict(plain.state_dict())


def test_tmaml_cli_resume_equals_an_uninterrupted_run(tmp_path):
    straight = train(tmp_path / "straight", "dice", "iterations=4", "control_variates=true")
    train(tmp_path / "short", "dice", "iterations=2", "control_variates=true")
    assert main(["train", "--resume", str(tmp_path / "short"), "--set", "iterations=4",
                 "--quiet"]) == 0
    assert without_wall(runmod.RunDir(tmp_path / "short").read_metrics()) == without_wall(straight)


def test_tmaml_needs_two_rollouts_per_task():
    with pytest.raises(ValueError, match="control_variates needs K >= 2"):
        make("dice", "control_variates=true", "K=1")
