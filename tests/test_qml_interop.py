"""A qiskit-machine-learning model moves over unchanged: ``from_qnn`` gives the same values and Jacobians (inputs
and weights) as EstimatorQNN / SamplerQNN on exact primitives, to 1e-9, through reverse mode and the shift rule."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.circuit.library import real_amplitudes, zz_feature_map
from qiskit.primitives import BaseSamplerV2, StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_machine_learning.neural_networks import EstimatorQNN, SamplerQNN

from hqnn import ReverseMode, ShiftRule, from_qnn

ATOL = 1e-9


class ExactSampler(BaseSamplerV2):
    """A SamplerV2 whose 'counts' are exact probabilities (floats), for exact SamplerQNN references:
    SamplerQNN and its parameter-shift gradient normalise counts by their sum."""

    def run(self, pubs, *, shots=None):
        results = []
        for pub in pubs:
            circuit, values = pub[0], np.asarray(pub[1] if len(pub) > 1 else [], dtype=np.float64)
            body = circuit.remove_final_measurements(inplace=False)
            rows = values.reshape(-1, circuit.num_parameters)
            dists = [Statevector(body.assign_parameters(row)).probabilities_dict() for row in rows]
            counts = SimpleNamespace(get_counts=lambda loc=None, d=dists: d[0 if loc is None else loc])
            results.append(SimpleNamespace(data=SimpleNamespace(meas=counts)))
        return SimpleNamespace(result=lambda: results)


def zz_real_amplitudes():
    features, ansatz = zz_feature_map(2), real_amplitudes(2)
    return features.compose(ansatz), list(features.parameters), list(ansatz.parameters)


def rotations():
    """crx, cry and u3 with inputs and weights in several arguments."""
    x, w = ParameterVector("x", 2), ParameterVector("w", 4)
    qc = QuantumCircuit(2)
    qc.h([0, 1])
    qc.crx(x[0], 0, 1)
    qc.cry(w[0] * x[1], 1, 0)
    qc.u(w[1], x[0] + w[2], w[3], 0)
    qc.cx(0, 1)
    qc.ry(x[1], 1)
    return qc, list(x), list(w)


def estimator_qnn(build, observables=None):
    circuit, inputs, weights = build()
    return EstimatorQNN(
        circuit=circuit,
        estimator=StatevectorEstimator(),
        observables=observables,
        input_params=inputs,
        weight_params=weights,
        input_gradients=True,
        default_precision=0.0,
    )


def sampler_qnn(build, interpret=None, output_shape=None):
    circuit, inputs, weights = build()
    return SamplerQNN(
        circuit=circuit,
        sampler=ExactSampler(),
        input_params=inputs,
        weight_params=weights,
        interpret=interpret,
        output_shape=output_shape,
        input_gradients=True,
    )


CASES = {
    "zz+ra, Z⊗Z (EstimatorQNN's default)": lambda: estimator_qnn(zz_real_amplitudes),
    "zz+ra, XI ZZ YY": lambda: estimator_qnn(zz_real_amplitudes, [SparsePauliOp(p) for p in ("XI", "ZZ", "YY")]),
    "crx cry u3, ZI + 0.5·XX": lambda: estimator_qnn(rotations, [SparsePauliOp(["ZI", "XX"], [1.0, 0.5])]),
    "zz+ra, SamplerQNN parity": lambda: sampler_qnn(zz_real_amplitudes, lambda b: bin(b).count("1") % 2, 2),
    "crx cry u3, SamplerQNN distribution": lambda: sampler_qnn(rotations),
}


def hqnn_jacobians(layer, x):
    def f(a, w):
        return torch.func.functional_call(layer, {"weights": w}, (a,))

    weights = layer.weights.detach().clone()
    j_x, j_w = torch.autograd.functional.jacobian(f, (x, weights))
    rows = torch.arange(len(x))
    return f(x, weights).detach().numpy(), j_x[rows, :, rows].numpy(), j_w.numpy()


@pytest.mark.parametrize("diff_method", ["reverse", "shift"])
@pytest.mark.parametrize("case", CASES)
def test_values_and_jacobians_equal_qiskit_machine_learning(case, diff_method):
    qnn = CASES[case]()
    rng = np.random.default_rng(7)
    x = rng.uniform(-np.pi, np.pi, (4, qnn.num_inputs))
    w = rng.uniform(-np.pi, np.pi, qnn.num_weights)
    layer = from_qnn(qnn, "analytic", None, initial_weights=w, diff_method=diff_method)
    assert isinstance(layer.strategy, ReverseMode if diff_method == "reverse" else ShiftRule)
    values, j_x, j_w = hqnn_jacobians(layer, torch.from_numpy(x))
    input_grad, weight_grad = qnn.backward(x, w)
    np.testing.assert_allclose(values, qnn.forward(x, w), atol=ATOL, rtol=0)
    np.testing.assert_allclose(j_x, input_grad, atol=ATOL, rtol=0)
    np.testing.assert_allclose(j_w, weight_grad, atol=ATOL, rtol=0)


@pytest.mark.parametrize("case", CASES)
def test_gradcheck(case):
    layer = from_qnn(CASES[case](), "analytic", None, seed=3)
    x = torch.rand(3, layer.spec.n_inputs, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    w = layer.weights.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda a, b: torch.func.functional_call(layer, {"weights": b}, (a,)), (x.requires_grad_(), w)
    )


def test_from_qnn_uses_the_qnn_primitive_by_default():
    layer = from_qnn(estimator_qnn(zz_real_amplitudes))
    assert type(layer.strategy.executor).__name__ == "EstimatorExecutor"
    assert layer.strategy.executor.precision is None  # exact: the estimator's own default
    with pytest.raises(TypeError, match="EstimatorQNN or SamplerQNN"):
        from_qnn(object())
    with pytest.raises(ValueError, match="initial_weights has shape"):
        from_qnn(estimator_qnn(zz_real_amplitudes), initial_weights=[0.1])


def test_a_mid_circuit_measurement_is_named():
    from qiskit.circuit import Parameter

    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(2, 3)
    qc.ry(x, 0)
    qc.measure(0, 0)
    qc.ry(w, 0)
    qc.cx(0, 1)
    qc.measure([0, 1], [1, 2])
    qnn = SamplerQNN(circuit=qc, input_params=[x], weight_params=[w])
    with pytest.raises(ValueError, match="measures qubit 0 more than once \\(a mid-circuit measurement\\)"):
        from_qnn(qnn, "analytic")
