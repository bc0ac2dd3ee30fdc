"""The shot-saving estimators: sampled-shift is unbiased (Hotelling χ² of its mean Jacobian over many seeded
draws against reverse mode, p > 0.01, and the same test rejects planted biases, p < 1e-6); SPSA is biased as
documented (its exact expectation is the formula of hqnn/strategies/spsa.py, the test rejects it against reverse
mode at a large c and accepts it against the formula); one job per forward + backward; ledgers equal cost();
bad options are refused with what to do."""

import itertools
import math

import numpy as np
import pytest
import torch

from hqnn import Hybrid, angle_encoder, entangling_ansatz
from hqnn.cost import JobCost
from hqnn.executors import EmulatorExecutor
from hqnn.stats import mean_pvalue
from hqnn.strategies import SPSA, ReverseMode, SampledShift
from hqnn.randomness import ShotStream

ACCEPT, REJECT = 1e-2, 1e-6
MODEL = angle_encoder(3).then(entangling_ansatz(3, reps=1))  # 3 inputs, 12 weights


def layer(diff_method="sampled-shift", shots=100, seed=0, model=MODEL, **options):
    return Hybrid("emulator", shots, **model.hybrid_kwargs(), readout="z", seed=seed, diff_method=diff_method,
                  diff_options=options or None)  # fmt: skip


def angles(model, draws, seed=1):
    """One fixed sample's angles γ, repeated ``draws`` times: each row gets its own random rows and shots."""
    net = layer("shift", model=model)
    x = torch.rand(1, model_inputs(model), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    gamma = net.spec.angle_map(x, net.weights.detach())
    return net, gamma.repeat(draws, 1)


def model_inputs(model):
    return len(model.inputs)


def exact_jacobian(spec, gamma):
    """Reverse mode's Jacobian (n_out, K) of one row of angles."""
    reverse = ReverseMode(spec, ShotStream(0))
    return torch.autograd.functional.jacobian(lambda g: reverse.outputs(g[None])[0], gamma[0])


def draws_of(strategy, gamma):
    _, jacobian = strategy.evaluate(gamma, True, True)
    return jacobian.reshape(len(gamma), -1).numpy()


@pytest.mark.parametrize("k", [1, 5])
def test_sampled_shift_is_unbiased_and_the_test_rejects_planted_biases(k):
    net, gamma = angles(MODEL, 3000)
    strategy = SampledShift(EmulatorExecutor(net.spec, 200, seed=7), math.pi / 2, k=k)
    samples = draws_of(strategy, gamma)
    exact = exact_jacobian(net.spec, gamma).reshape(-1).numpy()
    assert mean_pvalue(samples, exact) > ACCEPT

    class Unscaled(SampledShift):  # forgets the K_w / k that keeps the estimate unbiased
        def reduce_directions(self, plus, minus, offsets, sampled):
            return super().reduce_directions(plus, minus, offsets, sampled) * self.k / len(sampled)

    planted = Unscaled(EmulatorExecutor(net.spec, 200, seed=7), math.pi / 2, k=k)
    assert mean_pvalue(draws_of(planted, gamma), exact) < REJECT
    assert mean_pvalue(samples, 2 * exact) < REJECT  # the chapter's rule (no 1/(2 sin s)) is rejected too
    assert mean_pvalue(samples, exact + 0.05 * np.sign(exact)) < REJECT


def test_sampled_shift_with_fewer_shots_on_shifted_rows_stays_unbiased():
    net, gamma = angles(MODEL, 3000)
    strategy = SampledShift(EmulatorExecutor(net.spec, 100, seed=3), math.pi / 2, k=2, shift_shots=5)
    exact = exact_jacobian(net.spec, gamma).reshape(-1).numpy()
    samples = draws_of(strategy, gamma)
    assert mean_pvalue(samples, exact) > ACCEPT
    assert mean_pvalue(samples, 1.1 * exact) < REJECT


def spsa_expectation(spec, gamma, sampled, c):
    """E over every Rademacher Δ of ((f(γ+cΔ) − f(γ−cΔ)) / 2c)·Δ, exactly (2^K_w directions)."""
    reverse = ReverseMode(spec, ShotStream(0))
    signs = torch.tensor(list(itertools.product((-1.0, 1.0), repeat=len(sampled))), dtype=torch.float64)
    offsets = torch.zeros(len(signs), spec.n_angles, dtype=torch.float64)
    offsets[:, sampled] = c * signs
    with torch.no_grad():
        slope = (reverse.outputs(gamma[:1] + offsets) - reverse.outputs(gamma[:1] - offsets)) / (2 * c)
    return torch.einsum("do,dk->ok", slope, offsets / c) / len(signs)


def spsa_formula(spec, gamma, sampled, c):
    """(sin c / c)·∂_j f̄_j: f̄_j the mean of f over every other sampled angle at ±c (spsa.py's claim)."""
    result = torch.zeros(spec.n_outputs, spec.n_angles, dtype=torch.float64)
    for j in sampled:
        others = [i for i in sampled if i != j]
        total = 0
        for signs in itertools.product((-1.0, 1.0), repeat=len(others)):
            shifted = gamma[:1].clone()
            shifted[0, others] += c * torch.tensor(signs, dtype=torch.float64)
            total = total + exact_jacobian(spec, shifted)[:, j]
        result[:, j] = math.sin(c) / c * total / 2 ** len(others)
    return result


SMALL = angle_encoder(2).then(entangling_ansatz(2, reps=1, rotations=("ry",)))  # 2 inputs, 4 weights


@pytest.mark.parametrize("c", [0.2, 0.8])
def test_spsa_is_biased_by_the_documented_formula(c):
    net, gamma = angles(SMALL, 1)
    sampled = np.flatnonzero(net.spec.angle_map.uses_weights & ~net.spec.angle_map.uses_inputs)
    expectation = spsa_expectation(net.spec, gamma, sampled, c)
    assert torch.allclose(expectation, spsa_formula(net.spec, gamma, sampled, c), atol=1e-10)
    bias = (expectation - exact_jacobian(net.spec, gamma))[:, sampled].abs().max().item()
    half = (spsa_expectation(net.spec, gamma, sampled, c / 2) - exact_jacobian(net.spec, gamma))[:, sampled]
    assert bias > 1e-3 and 3 < bias / half.abs().max().item() < 4.5  # O(c²): halving c quarters the bias


def test_spsa_mean_matches_the_formula_and_is_rejected_against_reverse_mode():
    net, gamma = angles(SMALL, 4000)
    sampled = np.flatnonzero(net.spec.angle_map.uses_weights & ~net.spec.angle_map.uses_inputs)
    strategy = SPSA(EmulatorExecutor(net.spec, 1000, seed=5), c=0.8)
    samples = draws_of(strategy, gamma)
    exact = exact_jacobian(net.spec, gamma).clone()
    expected = exact.clone()
    expected[:, sampled] = spsa_formula(net.spec, gamma, sampled, 0.8)[:, sampled]
    assert mean_pvalue(samples, expected.reshape(-1).numpy()) > ACCEPT
    assert mean_pvalue(samples, exact.reshape(-1).numpy()) < REJECT


@pytest.mark.parametrize(
    "diff_method, options, rows",
    [
        ("shift", {}, 1 + 2 * 15),
        ("sampled-shift", {"k": 2}, 1 + 2 * 3 + 2 * 2),
        ("sampled-shift", {"k": 3, "shift_shots": 7}, 1 + 2 * 3 + 2 * 3),
        ("spsa", {"directions": 2}, 1 + 2 * 3 + 2 * 2),
        ("spsa", {"shift_shots": 1}, 1 + 2 * 3 + 2),
    ],
)
def test_one_job_per_step_and_the_ledger_equals_cost_times_steps(diff_method, options, rows, count_calls):
    net = layer(diff_method, shots=50, **options)
    jobs = [count_calls(net.strategy.executor, name) for name in ("run", "run_shift_plan")]
    batch, steps = 4, 3
    for step in range(steps):
        x = torch.rand(batch, 3, dtype=torch.float64, requires_grad=True)
        net(x).sum().backward()
        assert sum(j.calls for j in jobs) == step + 1
    cost = net.cost(batch)
    assert cost.circuits == batch * rows
    shifted = options.get("shift_shots", 50)
    assert cost == JobCost(1, batch * rows, batch * (50 + (rows - 1) * shifted))
    assert net.strategy.ledger.total == cost * steps
    assert net.executions == cost.executions * steps


@pytest.mark.parametrize("diff_method, options", [("sampled-shift", {"k": 3}), ("spsa", {"c": 0.3})])
def test_estimators_are_seeded_and_reproducible(diff_method, options):
    x = torch.rand(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2), requires_grad=True)
    grads = []
    for seed in (11, 11, 12):
        net = layer(diff_method, seed=seed, **options)
        net(x).sum().backward()
        grads.append(net.weights.grad.clone())
    assert torch.equal(grads[0], grads[1]) and not torch.equal(grads[0], grads[2])


def test_bad_estimator_options_say_what_to_do():
    with pytest.raises(ValueError, match=r"k .* must be a whole number in 1\.\.12"):
        layer(k=0)
    with pytest.raises(ValueError, match=r"1\.\.12"):
        layer(k=13)
    with pytest.raises(ValueError, match="needs a shot backend"):
        Hybrid("analytic", None, **MODEL.hybrid_kwargs(), diff_method="spsa")
    with pytest.raises(ValueError, match="needs a shot backend"):
        Hybrid("emulator", None, **MODEL.hybrid_kwargs(), diff_method="sampled-shift")
    with pytest.raises(ValueError, match="one shot count per job"):
        Hybrid("aer", 10, **MODEL.hybrid_kwargs(), diff_method="spsa", diff_options={"shift_shots": 1})
    with pytest.raises(ValueError, match=r"unknown diff_options \['k'\] for diff_method='spsa'"):
        layer("spsa", k=1)
    with pytest.raises(ValueError, match="apply to"):
        layer("shift", k=1)
    with pytest.raises(ValueError, match=r"c .* must be a number in \(0, π\]"):
        layer("spsa", c=0.0)
    with pytest.raises(ValueError, match="shift_shots must be a positive integer"):
        layer(shift_shots=0)
    with pytest.raises(ValueError, match="no weights"):
        Hybrid("emulator", 10, diff_method="sampled-shift")
