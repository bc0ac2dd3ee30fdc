"""Aer executors: counts decoding, exact statevector path, backend choice."""

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit_aer import AerSimulator

from hqnn import AerExecutor, AnalyticExecutor, CircuitSpec, StatevectorExecutor, chapter_circuit, make_executor
from hqnn.executors.aer import counts_to_p1
from hqnn.executors.base import marginals

from closed_forms import p1_closed


def test_counts_decoding_per_bit():
    counts = [{"0x0": 6, "0x3": 4}, {"0x1": 10}, {"0x2": 5, "0x0": 5}]
    np.testing.assert_allclose(counts_to_p1(counts, 2, 10), [[0.4, 0.4], [1.0, 0.0], [0.0, 0.5]])


def test_counts_with_wrong_total_rejected():
    with pytest.raises(RuntimeError, match="shots per experiment"):
        counts_to_p1([{"0x0": 3}], 1, 10)


def test_marginals_little_endian():
    joint = np.array([[0.1, 0.2, 0.3, 0.4]])  # index = b0 + 2·b1
    np.testing.assert_allclose(marginals(joint, 2), [[0.6, 0.7]])


def test_aer_executor_one_run_for_all_rows(count_calls):
    spec = chapter_circuit(2)
    executor = AerExecutor(spec, shots=200, seed=0)
    jobs = count_calls(executor.backend, "run")
    angles = np.linspace(-1, 1, 40).reshape(20, 2)
    p1 = executor.run(angles)
    assert p1.shape == (20, 2) and jobs.calls == 1
    assert np.all((p1 >= 0) & (p1 <= 1))
    assert np.abs(p1 - p1_closed(angles)).max() < 0.2


def test_statevector_matches_closed_form_and_entangled_state():
    spec = chapter_circuit(2)
    angles = np.array([[0.3, -1.2], [2.0, 0.1]])
    np.testing.assert_allclose(StatevectorExecutor(spec).run(angles), p1_closed(angles), atol=1e-12)

    x = Parameter("x")
    qc = QuantumCircuit(2)
    qc.ry(x, 0)
    qc.cx(0, 1)  # Bell-like: both qubits read 1 with probability sin²(x/2)
    bell = CircuitSpec.from_circuit(qc, inputs=[x])
    probs = StatevectorExecutor(bell).probabilities(np.array([[1.0]]))
    p = np.sin(0.5) ** 2
    np.testing.assert_allclose(probs, [[1 - p, 0, 0, p]], atol=1e-12)


def test_parameter_removed_by_transpiler_is_tolerated():
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(1)
    qc.ry(x, 0)
    qc.rz(w, 0)  # diagonal right before measurement: may be optimized away
    spec = CircuitSpec.from_circuit(qc, inputs=[x], weights=[w])
    p1 = AerExecutor(spec, shots=100, seed=1).run(np.array([[np.pi / 2, 0.3]]))
    np.testing.assert_allclose(p1, [[0.5]], atol=0.2)


def test_make_executor_choices():
    spec = chapter_circuit()
    assert isinstance(make_executor("aer", spec, 100), AerExecutor)
    assert isinstance(make_executor("aer", spec, None), AnalyticExecutor)
    assert isinstance(make_executor("analytic", spec, 100), AnalyticExecutor)
    assert isinstance(make_executor(AerSimulator(), spec, None), StatevectorExecutor)
    aer = make_executor(AerSimulator(), spec, 10)
    assert isinstance(aer, AerExecutor) and aer.shots == 10
    with pytest.raises(ValueError, match="only the chapter circuit"):
        x = Parameter("x")
        qc = QuantumCircuit(1)
        qc.rx(x, 0)
        AnalyticExecutor(CircuitSpec.from_circuit(qc, inputs=[x]))
