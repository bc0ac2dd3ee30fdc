"""Readouts beyond per-qubit P(1): Pauli observables (grouped into qubit-wise commuting settings, one job for all
of them) and joint distributions with ``interpret``; EstimatorV2 backends; shot statistics; bad input."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

from hqnn import Hybrid
from hqnn.executors.aer_job import AER_SIMULATE
from hqnn.readout import observables
from hqnn.stats import fit_pvalue, shift_rule_pvalue

ACCEPT, REJECT = 1e-3, 1e-6


def circuit():
    """x0 and x1 each in exactly one gate (so a shot gradient by them is one shift-rule difference)."""
    x0, x1, w = Parameter("x0"), Parameter("x1"), Parameter("w")
    qc = QuantumCircuit(2)
    qc.ry(x0, 0)
    qc.rx(x1, 1)
    qc.cx(0, 1)
    qc.ry(w, 1)
    return {"circuit": qc, "inputs": [x0, x1], "weights": [w]}


def test_terms_are_grouped_qubit_wise_commuting():
    readout = observables(["XI", SparsePauliOp(["ZZ", "IZ"], [0.5, 2.0]), "YY", "XX", "II"], 2)
    assert sorted(s.basis for s in readout.settings) == ["XX", "YY", "ZZ"]  # XI and XX share one setting
    assert readout.n_features == 5 and readout.n_outputs == 5
    np.testing.assert_array_equal(readout.offset, [0, 0, 0, 0, 1])  # II is the constant 1


def test_parity_is_one_line_and_matches_the_closed_form():
    x = torch.tensor([[0.3, 1.1], [2.0, -0.4]], dtype=torch.float64)
    layer = Hybrid("analytic", None, **circuit(), observables=["ZZ"], seed=0)
    w = layer.weights.detach()
    # CX makes qubit 1 hold x0 ⊕ x1-ish: ⟨Z⊗Z⟩ = ⟨Z0⟩_after... checked against an independent statevector
    from qiskit.quantum_info import Statevector

    qc = circuit()["circuit"]
    expected = [
        Statevector(qc.assign_parameters({p: v for p, v in zip(qc.parameters, [w[0], *row])}))
        .expectation_value(SparsePauliOp("ZZ"))
        .real
        for row in x.numpy()
    ]
    np.testing.assert_allclose(layer(x).detach().numpy()[:, 0], expected, atol=1e-12)


@pytest.mark.parametrize(
    "observable, message",
    [
        ("ZZZ", "acts on 3 qubits but the circuit has 2"),
        (SparsePauliOp(["XY"], [1j]), "not Hermitian"),
        ("AB", "not a Pauli operator"),
    ],
)
def test_bad_observables_rejected(observable, message):
    with pytest.raises(ValueError, match=message):
        Hybrid("analytic", None, **circuit(), observables=[observable])


@pytest.mark.parametrize(
    "interpret, output_shape, message",
    [
        (lambda b: b + 1, 4, r"interpret\(3\) returned class 4, outside \[0, 4\)"),
        (lambda b: -1, None, "returned class -1"),
        (lambda b: 0.5, 2, "must return a class index"),
    ],
)
def test_bad_interpret_rejected(interpret, output_shape, message):
    with pytest.raises(ValueError, match=message):
        Hybrid("analytic", None, **circuit(), readout="probabilities", interpret=interpret, output_shape=output_shape)


def test_probabilities_and_interpret_classes_sum_to_one():
    x = torch.rand(5, 2, dtype=torch.float64)
    full = Hybrid("analytic", None, **circuit(), readout="probabilities", seed=1)
    parity = Hybrid(
        "analytic", None, **circuit(), readout="probabilities", interpret=lambda b: bin(b).count("1") % 2, seed=1
    )
    p = full(x)
    assert p.shape == (5, 4) and parity(x).shape == (5, 2)
    torch.testing.assert_close(p.sum(1), torch.ones(5, dtype=torch.float64))
    torch.testing.assert_close(parity(x)[:, 1], p[:, 1] + p[:, 2])


@pytest.mark.parametrize(
    "make", [lambda: AerSimulator(), lambda: AerSamplerV2(), lambda: "emulator"], ids=["aer", "aer-sampler", "emulator"]
)
def test_one_job_for_every_setting_row_and_shift(make, count_calls):
    backend = make()
    layer = Hybrid(backend, 200, **circuit(), observables=["XZ", "ZZ", "YI"], seed=2)
    executor = layer.strategy.executor
    owner = executor if isinstance(backend, str) else getattr(executor, "backend", None) or executor.sampler
    names = [AER_SIMULATE] if isinstance(backend, AerSimulator) else ["run"]
    names += ["run_shift_plan"] if owner is executor else []  # the emulator's shift-rule job
    jobs = [count_calls(owner, name) for name in names]
    x = torch.rand(4, 2, dtype=torch.float64, requires_grad=True)
    layer(x).sum().backward()
    assert sum(j.calls for j in jobs) == 1 and x.grad.shape == (4, 2)


def values_and_input_grads(x, observable, backend="analytic", shots=None, seed=None):
    """⟨observable⟩ and its gradient by the inputs at weight 0.7 (exact by default)."""
    layer = Hybrid(backend, shots, **circuit(), observables=[observable], seed=seed)
    with torch.no_grad():
        layer.weights.fill_(0.7)
    x = x.clone().requires_grad_()
    values = layer(x)
    values.sum().backward()
    return values.detach().numpy()[:, 0], x.grad.numpy()


@pytest.mark.parametrize("backend", ["aer", "emulator"])
def test_shot_observables_and_gradients_pass_chi2_and_reject_planted_errors(backend):
    shots, observable, s = 200, "YY", math.pi / 2  # both inputs move ⟨Y⊗Y⟩
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.uniform(-np.pi, np.pi, (600, 2)))
    values, grads = values_and_input_grads(x, observable, backend, shots, seed=5)
    exact, exact_grads = values_and_input_grads(x, observable)
    odd = (1 - exact) / 2  # ⟨P⟩ = 1 − 2·P(odd parity): the estimate of P(odd) is binomial
    keep = (odd > 0.02) & (odd < 0.98)
    assert fit_pvalue((1 - values[keep]) / 2, odd[keep], shots) > ACCEPT
    assert fit_pvalue((1 + values[keep]) / 2, odd[keep], shots) < REJECT  # planted: wrong sign
    for column in range(2):
        step = torch.zeros(2, dtype=torch.float64)
        step[column] = s
        up, _ = values_and_input_grads(x + step, observable)
        down, _ = values_and_input_grads(x - step, observable)
        p_up, p_down = (1 - up) / 2, (1 - down) / 2
        # a parity slope is −2 × the slope of P(odd): test the latter
        slope, model = -grads[:, column] / 2, -exact_grads[:, column] / 2
        assert shift_rule_pvalue(slope, model, p_up, p_down, shots, s) > ACCEPT
        assert shift_rule_pvalue(2 * slope, model, p_up, p_down, shots, s) < REJECT  # the chapter's rule
        assert shift_rule_pvalue(-slope, model, p_up, p_down, shots, s) < REJECT  # wrong sign


def test_statevector_estimator_is_exact_and_one_pub(count_calls):
    estimator = StatevectorEstimator()
    run = count_calls(estimator, "run")
    layer = Hybrid(estimator, None, **circuit(), observables=["XZ", SparsePauliOp(["ZZ", "YI"], [0.3, -1.0])], seed=4)
    reference = Hybrid(
        "analytic", None, **circuit(), observables=["XZ", SparsePauliOp(["ZZ", "YI"], [0.3, -1.0])], seed=4
    )
    x = torch.rand(6, 2, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert [len(args[0]) for args, _ in run.arguments] == [1]  # one job, one PUB: the batch and every shift
    grad = x.grad.clone()
    x.grad = None
    expected = reference(x)
    expected.sum().backward()
    torch.testing.assert_close(out, expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(grad, x.grad, atol=1e-10, rtol=0)


def test_aer_estimator_precision_comes_from_shots():
    """Aer's EstimatorV2 draws N(⟨O⟩, precision) with precision = 1/√shots: a χ² with that variance accepts it
    and rejects a planted bias."""
    shots = 1000
    x = torch.from_numpy(np.random.default_rng(1).uniform(-np.pi, np.pi, (300, 2)))
    estimator = AerEstimatorV2()
    layer = Hybrid(estimator, shots, **circuit(), observables=["ZI"], seed=3)
    assert layer.strategy.executor.precision == pytest.approx(1 / math.sqrt(shots))
    with torch.no_grad():
        layer.weights.fill_(0.7)
        values = layer(x).numpy()[:, 0]
    exact, _ = values_and_input_grads(x, "ZI")

    def pvalue(model):
        return stats.chi2.sf(np.sum((values - model) ** 2) * shots, df=len(values))

    assert pvalue(exact) > ACCEPT
    assert pvalue(exact + 0.03) < REJECT


def test_estimator_cannot_give_distributions():
    with pytest.raises(ValueError, match="use a sampler"):
        Hybrid(StatevectorEstimator(), None, **circuit(), readout="probabilities")


@pytest.mark.parametrize("backend, shots", [("analytic", None), ("aer", 100), ("emulator", 100), ("aer", None)])
def test_identity_observable_gives_one(backend, shots):
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(2)
    qc.ry(x, 0)
    qc.cx(0, 1)
    qc.rz(w, 1)
    layer = Hybrid(backend, shots, circuit=qc, inputs=[x], weights=[w], observables=["II", 2.5 * SparsePauliOp("II")],
                   seed=1)
    inputs = torch.tensor([[0.3], [1.7]], dtype=torch.float64, requires_grad=True)
    out = layer(inputs)
    torch.testing.assert_close(out, torch.tensor([[1.0, 2.5], [1.0, 2.5]], dtype=torch.float64))
    out.sum().backward()
    assert torch.equal(inputs.grad, torch.zeros_like(inputs))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_outputs_of_host_features_equal_the_torch_outputs(dtype):
    readout = observables([SparsePauliOp(["XZ", "ZZ"], [0.5, -2.0]), SparsePauliOp("YI")], 2)
    features = torch.rand(6, readout.n_features, generator=torch.Generator().manual_seed(0), dtype=dtype)
    host = readout.outputs(features.numpy())
    assert isinstance(host, np.ndarray) and host.dtype == features.numpy().dtype
    torch.testing.assert_close(torch.from_numpy(host), readout.outputs(features))


def test_features_of_a_host_distribution_equal_the_torch_features():
    setting = observables([SparsePauliOp(["XZ", "ZZ", "IZ"], [1.0, 1.0, 1.0])], 2).settings[0]
    counts = torch.randint(0, 50, (7, 4), generator=torch.Generator().manual_seed(1)).double()
    host = setting.from_distribution(counts.numpy())
    assert isinstance(host, np.ndarray)
    assert torch.equal(torch.from_numpy(host), setting.from_distribution(counts))
