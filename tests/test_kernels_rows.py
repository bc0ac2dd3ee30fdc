"""Issue 13: the kernels' rows on every core (hqnn.kernels.rows). A row's arithmetic does not depend on the thread
count or the chunk it falls in, so states and angle gradients are bit-identical to the serial kernels for every
count, and run to run; the layer's outputs and gradients move by ≤ 1e-12 with torch's thread count (torch's own
sums over rows)."""

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector

from hqnn import CircuitSpec, Hybrid
from hqnn.kernels import rows
from hqnn.schmidt import SchmidtCut
from hqnn.simulator import TorchStatevector

from sample_circuits import entangling_circuit
from test_simulator import every_gate_circuit


def layered_circuit(n=6, layers=2):
    """RY encoder, then layers of RY, RZ on every qubit and a CX chain, one CZ and one RZZ."""
    x, w = ParameterVector("x", n), ParameterVector("w", 2 * n * layers + layers)
    qc = QuantumCircuit(n)
    k = 0
    for q in range(n):
        qc.ry(x[q], q)
    for _ in range(layers):
        for gate in (qc.ry, qc.rz):
            for q in range(n):
                gate(w[k], q)
                k += 1
        for q in range(n - 1):
            qc.cx(q, q + 1)
        qc.cz(0, n - 1)
        qc.rzz(w[k], 1, 3)
        k += 1
    return qc, list(x), list(w)


CIRCUITS = {"every-gate": every_gate_circuit, "entangling": entangling_circuit, "layered": layered_circuit}


def program_and_angles(name, rows_count=37, seed=0):
    qc, inputs, weights = CIRCUITS[name]()
    spec = CircuitSpec.from_circuit(qc, inputs=inputs, weights=weights)  # expressions become angles
    program = TorchStatevector(spec.circuit, spec.angles).program
    gamma = np.random.default_rng(seed).uniform(-4, 4, (rows_count, spec.n_angles))
    return program, gamma


@pytest.mark.parametrize("name", CIRCUITS)
@pytest.mark.parametrize("rows_count", [1, 37, 200])
def test_threads_give_bit_identical_states_and_gradients(name, rows_count, monkeypatch):
    monkeypatch.setattr(rows, "PARALLEL_MIN", 0)  # threads at any size
    program, gamma = program_and_angles(name, rows_count)
    states = program.states(gamma)
    grads = np.random.default_rng(1).normal(size=states.shape) + 1j * np.random.default_rng(2).normal(size=states.shape)
    # the fused backward takes the leading runs' gradients from the product state: equal to the run-by-run
    # sweep to rounding, and bit-identical to itself on any thread count
    reference = rows.angle_gradients(program, gamma, states, grads, 1)
    np.testing.assert_allclose(reference, program.angle_gradients(gamma, states, grads), atol=1e-12, rtol=0)
    for threads in (1, 2, 3, 1):
        assert np.array_equal(rows.states(program, gamma, threads), states)
        assert np.array_equal(rows.angle_gradients(program, gamma, states, grads, threads), reference)


@pytest.mark.parametrize("rows_count", [1, 37, 200])
def test_two_programs_in_one_region_equal_each_alone(rows_count, monkeypatch):
    """A Schmidt cut's two sides (3 + V and 5 + V qubits) on the same rows, their chunks in one parallel region:
    each side's states bit-identical to its own call, the gradients equal to the sum of the two calls', and
    bit-identical on any thread count."""
    monkeypatch.setattr(rows, "PARALLEL_MIN", 0)
    qc, inputs, weights = layered_circuit(8)
    spec = CircuitSpec.from_circuit(qc, inputs=inputs, weights=weights, readout="z")
    programs = tuple(side.program for side in SchmidtCut(spec.circuit, spec.angles, spec.readout, 3)._side_simulators())
    angles = np.random.default_rng(3).uniform(-4, 4, (rows_count, spec.n_angles))
    factors = tuple(p._factor_tables(angles) for p in programs)
    alone = [rows.states(p, angles, 1) for p in programs]
    grads = [np.random.default_rng(4).normal(size=s.shape) + 1j for s in alone]
    summed = sum(rows.angle_gradients(p, angles, s, g, 1) for p, s, g in zip(programs, alone, grads))
    reference = rows.angle_gradients_of_two(programs, angles, alone, grads, 1, factors)
    np.testing.assert_allclose(reference, summed, atol=1e-12, rtol=0)
    for threads in (1, 2, 3):
        together = rows.states_of_two(programs, angles, threads, factors)
        assert all(np.array_equal(a, b) for a, b in zip(together, alone))
        assert np.array_equal(rows.angle_gradients_of_two(programs, angles, alone, grads, threads, factors), reference)


def test_chunk_sizes_do_not_change_a_row():
    program, gamma = program_and_angles("layered", 50)
    ops = program.arrays()[0]
    factors = program._factor_tables(gamma)
    reference = program.states(gamma)
    for chunk in (8, 16, 24, 64):
        out = np.empty_like(reference)
        rows.forward_rows(ops, factors, out, program.n_qubits, rows._max_run(ops), chunk, 2)
        assert np.array_equal(out, reference)


def test_small_calls_stay_on_one_thread():
    assert rows._threads(2, 32, 12) == 1  # 32 · 4,096 amplitudes: under PARALLEL_MIN
    assert rows._threads(2, 256, 12) == min(2, rows.numba.config.NUMBA_NUM_THREADS)


def test_chunk_rows():
    assert rows.chunk_rows(12, 256, 1) == 64
    assert rows.chunk_rows(12, 256, 2) == 64
    assert rows.chunk_rows(12, 32, 2) == 16
    assert rows.chunk_rows(4, 3, 2) == 8
    assert all(rows.chunk_rows(n, r, t) % rows.MIN_CHUNK == 0 for n in (2, 12) for r in (1, 9, 300) for t in (1, 2, 5))


def test_layer_thread_count_changes_results_by_at_most_1e_12(monkeypatch):
    import hqnn.threads

    monkeypatch.setattr(rows, "PARALLEL_MIN", 0)  # threads at any size
    monkeypatch.setattr(hqnn.threads, "PARALLEL_MIN", 0)
    qc, inputs, weights = layered_circuit(7, 2)
    x = torch.rand(45, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) * 6 - 3
    previous = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2, 1):
            torch.set_num_threads(threads)
            layer = Hybrid("analytic", None, circuit=qc, inputs=inputs, weights=weights, readout="z", seed=3)
            xx = x.clone().requires_grad_()
            out = layer(xx)
            (out * torch.linspace(-1, 1, out.shape[1], dtype=out.dtype)).sum().backward()
            results.append((out.detach(), xx.grad, layer.weights.grad))
    finally:
        torch.set_num_threads(previous)
    for a, b in zip(results[0], results[1]):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    for a, b in zip(results[0], results[2]):
        assert torch.equal(a, b)  # same thread count: bit-identical


@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64])
def test_probabilities_kernel_equals_torch_and_ignores_threads(dtype, monkeypatch):
    import hqnn.threads
    from hqnn.simulator import _probabilities

    monkeypatch.setattr(hqnn.threads, "PARALLEL_MIN", 0)  # threads at any size

    generator = torch.Generator().manual_seed(4)
    state = torch.randn(70, 64, dtype=dtype, generator=generator)
    weights = torch.randn(70, 64, dtype=state.real.dtype, generator=generator)
    results = []
    previous = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            leaf = state.clone().requires_grad_()
            probs = _probabilities(leaf)
            (probs * weights).sum().backward()
            results.append((probs.detach(), leaf.grad))
    finally:
        torch.set_num_threads(previous)
    leaf = state.clone().requires_grad_()
    reference = leaf.real.square() + leaf.imag.square()
    (reference * weights).sum().backward()
    tolerance = 1e-15 if dtype == torch.complex128 else 1e-6
    assert results[0][0].dtype == reference.dtype and results[0][1].dtype == dtype
    torch.testing.assert_close(results[0][0], reference.detach(), atol=tolerance, rtol=0)
    torch.testing.assert_close(results[0][1], leaf.grad, atol=tolerance, rtol=0)
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
