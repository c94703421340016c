"""Sine regression (A.6): the batched objective and its gradients against plain per-point code,
the seeding contract, the split, and the exact-gradient adaptation operator."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from es.adaptation.base import PIVOT_KEY
from es.adaptation.exact import ExactGradientStep
from workbench.objective import make_objective
from workbench.policies import PolicySpec
from workbench.seeding import derive_many, uniform
from workbench.tasks.sine import HELD_OUT_KEY, SineObjective, SineRegression


def maml_spec() -> PolicySpec:
    d = SineRegression.POLICY_DEFAULTS
    return PolicySpec.from_name(d["policy"], 1, 1, width=d["width"],
                                activation=d["activation"], output=d["output"])


def single_mlp(theta: torch.Tensor, sizes: list[int]):
    """A plain MLP read straight from the flat layout: per layer W [in, out] row-major, b [out]."""
    layers, at = [], 0
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = theta[at:at + fan_in * fan_out].reshape(fan_in, fan_out)
        at += fan_in * fan_out
        b = theta[at:at + fan_out]
        at += fan_out
        layers.append((w, b))
    assert at == len(theta)

    def model(x: torch.Tensor) -> torch.Tensor:  # x: scalar tensor
        h = x.reshape(1, 1)
        for i, (w, b) in enumerate(layers):
            h = h @ w + b
            if i < len(layers) - 1:
                h = torch.relu(h)
        return h.reshape(())
    return model


def loop_value(family, theta, task: int, seed: int, n: int) -> torch.Tensor:
    """-MSE of one theta, point by point, with x drawn from the same seed as the objective."""
    amp, phase = family.table[task].tolist()
    xs = -5.0 + 10.0 * uniform(torch.tensor([seed]), n)[0]
    model = single_mlp(theta, [1, 40, 40, 1])
    losses = [F.mse_loss(model(x), torch.tensor(amp * math.sin(float(x) - phase),
                                                dtype=theta.dtype))
              for x in xs]
    return -torch.stack(losses).mean()


@pytest.fixture
def setup():
    family = SineRegression(num_points=7, num_eval_points=13, split_seed=3)
    spec = maml_spec()
    g = torch.Generator().manual_seed(0)
    thetas = torch.stack([spec.init(g, dtype=torch.float64) for _ in range(5)])
    thetas[:, -41:] += 0.3 * torch.randn(5, 41, generator=g, dtype=torch.float64)
    tasks = torch.tensor([0, 5, 5, 999, 1050])
    seeds = torch.tensor([11, 12, 99, 11, 2**40 + 7])
    return family, spec, thetas, tasks, seeds


def test_make_objective_uses_the_family_objective(setup):
    family, spec, *_ = setup
    obj = make_objective(family, spec, horizon=family.default_horizon)
    assert isinstance(obj, SineObjective) and obj.differentiable and obj.num_points == 7
    assert spec.num_params == 1 * 40 + 40 + 40 * 40 + 40 + 40 + 1


def test_values_match_per_point_loop(setup):
    family, spec, thetas, tasks, seeds = setup
    ev = make_objective(family, spec)(thetas, tasks, seeds)
    assert ev.values.dtype == torch.float64 and ev.values.shape == (5,)
    assert ev.rollouts == 5 and ev.env_steps == 5 * 7
    for i in range(5):
        ref = loop_value(family, thetas[i], int(tasks[i]), int(seeds[i]), 7)
        torch.testing.assert_close(ev.values[i], ref, rtol=1e-12, atol=1e-12)
    assert (ev.values < 0).all()


def test_float32_thetas_are_close_to_float64(setup):
    family, spec, thetas, tasks, seeds = setup
    obj = make_objective(family, spec)
    v64 = obj(thetas, tasks, seeds).values
    v32 = obj(thetas.float(), tasks, seeds).values
    torch.testing.assert_close(v32, v64, rtol=1e-4, atol=1e-4)


def test_gradient_matches_autograd_and_finite_differences(setup):
    family, spec, thetas, tasks, seeds = setup
    obj = make_objective(family, spec)
    grads, ev = obj.gradient(thetas, tasks, seeds)
    assert grads.shape == thetas.shape and grads.dtype == thetas.dtype
    torch.testing.assert_close(ev.values, obj(thetas, tasks, seeds).values)
    g = torch.Generator().manual_seed(5)
    for i in range(5):
        leaf = thetas[i].clone().requires_grad_(True)
        value = loop_value(family, leaf, int(tasks[i]), int(seeds[i]), 7)
        (ref,) = torch.autograd.grad(value, leaf)
        torch.testing.assert_close(grads[i], ref, rtol=1e-10, atol=1e-12)
        # Central differences along random directions: (f(th + eps v) - f(th - eps v)) / 2 eps.
        for _ in range(3):
            v = torch.randn(thetas.shape[1], generator=g, dtype=torch.float64)
            eps = 1e-6
            pm = torch.stack([thetas[i] + eps * v, thetas[i] - eps * v])
            f = obj(pm, tasks[i].repeat(2), seeds[i].repeat(2)).values
            fd = (f[0] - f[1]) / (2 * eps)
            torch.testing.assert_close(fd, grads[i] @ v, rtol=1e-5, atol=1e-7)
    assert not thetas.requires_grad


def test_data_depends_only_on_the_seed(setup):
    family, spec, thetas, tasks, seeds = setup
    obj = make_objective(family, spec)
    full = obj(thetas, tasks, seeds).values
    grads, _ = obj.gradient(thetas, tasks, seeds)
    for lo, hi in [(0, 1), (1, 4), (3, 5)]:
        torch.testing.assert_close(obj(thetas[lo:hi], tasks[lo:hi], seeds[lo:hi]).values,
                                   full[lo:hi], rtol=0, atol=0)
        torch.testing.assert_close(obj.gradient(thetas[lo:hi], tasks[lo:hi], seeds[lo:hi])[0],
                                   grads[lo:hi], rtol=1e-14, atol=1e-14)
    perm = torch.tensor([4, 2, 0, 3, 1])
    torch.testing.assert_close(obj(thetas[perm], tasks[perm], seeds[perm]).values, full[perm],
                               rtol=0, atol=0)
    # Same seed => same inputs whatever the task; another seed => other inputs.
    x = family.inputs(torch.tensor([11, 11, 12]), 7)
    assert torch.equal(x[0], x[1]) and not torch.equal(x[0], x[2])
    assert (x >= -5).all() and (x < 5).all()


def test_held_out_points(setup):
    family, spec, thetas, tasks, seeds = setup
    obj = make_objective(family, spec)
    ev = obj.held_out(thetas, tasks, seeds)
    assert ev.rollouts == 5 and ev.env_steps == 5 * 13
    big = obj.with_points(13)
    assert big.num_points == 13 and obj.num_points == 7
    held = derive_many(seeds, HELD_OUT_KEY)
    torch.testing.assert_close(ev.values, big(thetas, tasks, held).values, rtol=0, atol=0)
    assert not torch.equal(family.inputs(seeds, 7), family.inputs(held, 7))


def test_task_ranges_and_split():
    family = SineRegression(split_seed=0)
    assert (len(family.train_ids), len(family.test_ids)) == SineRegression.DEFAULT_SPLIT
    assert set(family.train_ids.tolist()).isdisjoint(family.test_ids.tolist())
    amp, phase = family.table[:, 0], family.table[:, 1]
    assert amp.min() >= 0.1 and amp.max() <= 5.0 and phase.min() >= 0 and phase.max() <= math.pi
    # Spread over the whole ranges (1100 uniform draws).
    assert amp.min() < 0.3 and amp.max() > 4.8 and phase.min() < 0.1 and phase.max() > 3.0
    assert torch.equal(SineRegression(split_seed=0).table, family.table)
    assert not torch.equal(SineRegression(split_seed=1).table, family.table)
    small = SineRegression(num_train=20, num_test=4, split_seed=0)
    assert small.num_tasks == 24 and small.split("test").tolist() == [20, 21, 22, 23]
    info = family.get_task(3)
    assert info["amplitude"] == float(family.table[3, 0])
    assert info["phase"] == float(family.table[3, 1])


def test_errors():
    family = SineRegression(num_train=10, num_test=2)
    with pytest.raises(ValueError, match="not an RL task"):
        family.make_sim(torch.tensor([0]))
    with pytest.raises(ValueError, match="num_points"):
        SineRegression(num_points=0)
    with pytest.raises(ValueError, match="unknown config key 'task.horizon'"):
        SineRegression(horizon=3)
    with pytest.raises(ValueError, match="linear output"):
        make_objective(family, PolicySpec.from_name("H", 1, 1))
    with pytest.raises(ValueError, match="1-input"):
        make_objective(family, PolicySpec.from_name("H", 2, 1, output="linear"))
    obj = make_objective(family, maml_spec())
    theta = maml_spec().init(torch.Generator().manual_seed(0)).unsqueeze(0)
    with pytest.raises(ValueError, match="task ids"):
        obj(theta, torch.tensor([12]), torch.tensor([0]))
    with pytest.raises(ValueError, match="one to one"):
        obj(theta, torch.tensor([0, 1]), torch.tensor([0, 1]))


def test_exact_gradient_step_reduces_support_mse(setup):
    family, spec, thetas, tasks, seeds = setup
    obj = make_objective(family, spec)
    op = ExactGradientStep(K=7, alpha=1e-3)
    out = op(obj, thetas, tasks, seeds)
    support = derive_many(seeds, PIVOT_KEY)
    grads, ev = obj.gradient(thetas, tasks, support)
    torch.testing.assert_close(out.pre_values, ev.values, rtol=0, atol=0)
    torch.testing.assert_close(out.thetas, thetas + 1e-3 * grads, rtol=0, atol=0)
    assert len(out.evaluations) == 1 and out.evaluations[0].env_steps == 5 * 7
    after = obj(out.thetas, tasks, support).values
    assert (after > out.pre_values).all()
    # Slice independence of the operator too.
    part = op(obj, thetas[2:4], tasks[2:4], seeds[2:4])
    torch.testing.assert_close(part.thetas, out.thetas[2:4], rtol=1e-14, atol=1e-14)


def test_exact_gradient_support_size_is_K(setup):
    family, spec, thetas, tasks, seeds = setup
    obj = make_objective(family, spec)  # 7 points
    out = ExactGradientStep(K=3, alpha=0.01)(obj, thetas, tasks, seeds)
    grads, ev = obj.with_points(3).gradient(thetas, tasks, derive_many(seeds, PIVOT_KEY))
    assert out.evaluations[0].env_steps == 5 * 3
    torch.testing.assert_close(out.thetas, thetas + 0.01 * grads, rtol=0, atol=0)


def test_exact_gradient_few_steps_fit_one_task():
    """Repeated exact steps at alpha = 0.01 drive the support MSE of a fixed task down."""
    family = SineRegression(num_points=10, num_train=5, num_test=1, split_seed=0)
    spec = maml_spec()
    obj = make_objective(family, spec)
    theta = spec.init(torch.Generator().manual_seed(1)).unsqueeze(0)
    task, seed = torch.tensor([0]), torch.tensor([4])
    op = ExactGradientStep(K=10, alpha=0.01)
    start = None
    for _ in range(50):
        out = op(obj, theta, task, seed)
        start = out.pre_values if start is None else start
        theta = out.thetas
    end = op(obj, theta, task, seed).pre_values
    assert -float(end) < 0.5 * -float(start)  # values are -MSE


def test_exact_gradient_rejects_rl_tasks():
    from workbench.tasks import make_family
    family = make_family("nav2d")
    spec = PolicySpec.from_name("L", 2, 2)
    obj = make_objective(family, spec, horizon=10)
    with pytest.raises(ValueError, match="exact-gradient"):
        ExactGradientStep(K=5)(obj, spec.init().unsqueeze(0), torch.tensor([0]), torch.tensor([0]))
