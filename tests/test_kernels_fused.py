"""Issue 13: runs on distinct qubits applied a group at a time, tile by tile, after a product-state start for the
runs before the first multi-qubit gate (hqnn.kernels.fused). The states are bit-identical to the run-by-run kernels' for every group size (diagonal runs right after a permutation are merged
into its pass); the angle gradients equal theirs to 1e-12 and are
bit-identical run to run and for any thread count. The layer (which runs the fused kernels) equals the shift rule
on Aer's statevector and passes gradcheck."""

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.circuit.library import efficient_su2, real_amplitudes, zz_feature_map
from qiskit_aer import AerSimulator

from hqnn import CircuitSpec, Hybrid
from hqnn.kernels import fused, rows
from hqnn.simulator import TorchStatevector

from sample_circuits import entangling_circuit
from test_kernels_rows import layered_circuit
from test_simulator import every_gate_circuit


def su2_circuit(n=5):
    x = ParameterVector("x", n)
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(x[q], q)
    ansatz = efficient_su2(n, entanglement="full", reps=2)
    return qc.compose(ansatz), list(x), list(ansatz.parameters)


def zz_circuit(n=4):
    features, ansatz = zz_feature_map(n, reps=2), real_amplitudes(n, reps=2)
    return features.compose(ansatz), list(features.parameters), list(ansatz.parameters)


def reupload_circuit(n=4):
    """Inputs re-uploaded between entangling layers, a weight shared by two gates, an expression."""
    x, w = ParameterVector("x", n), ParameterVector("w", 2 * n)
    qc = QuantumCircuit(n)
    for layer in range(2):
        for q in range(n):
            qc.rx(x[q], q)
            qc.ry(w[layer * n + q], q)
            qc.rz(2 * w[(layer * n + q + 1) % (2 * n)] - 0.3, q)
        for q in range(n - 1):
            qc.cx(q, q + 1)
        qc.rzz(w[0], 0, n - 1)
    qc.h(range(n))
    return qc, list(x), list(w)


def product_only_circuit():
    """Single-qubit gates only, qubit 2 untouched: the product-state start is the whole forward."""
    x, w = ParameterVector("x", 3), ParameterVector("w", 3)
    qc = QuantumCircuit(4)
    for q, p in zip((0, 1, 3), x):
        qc.ry(p, q)
    qc.h(1)
    for q, p in zip((3, 0, 1), w):
        qc.rz(p, q)
        qc.rx(p, q)
    return qc, list(x), list(w)


def entangler_first_circuit():
    """A multi-qubit gate first: no product-state start."""
    x, w = ParameterVector("x", 3), ParameterVector("w", 2)
    qc = QuantumCircuit(3)
    qc.rzz(w[0], 0, 2)
    qc.cx(0, 1)
    for q in range(3):
        qc.ry(x[q], q)
    qc.cx(1, 2)
    qc.rz(w[1], 2)
    return qc, list(x), list(w)


def diagonal_circuit():
    """Diagonal runs (RZ, P, S, T, Z, an expression, a shared weight) right after permutations (CX, CZ, SWAP),
    some next to non-diagonal runs: merged into the permutation's pass."""
    x, w = ParameterVector("x", 3), ParameterVector("w", 3)
    qc = QuantumCircuit(4)
    qc.h(range(4))
    for q in range(3):
        qc.ry(x[q], q)
    for layer in range(2):
        qc.cx(0, 1)
        qc.rz(w[0], 1)
        qc.p(2 * x[1] + 0.5, 2)
        qc.s(3)
        qc.t(0)
        qc.cx(0, 1)
        qc.cz(1, 3)
        qc.z(2)
        qc.rz(w[1], 2)
        qc.p(w[0], 0)
        qc.ry(w[2], 3)
        qc.swap(2, 3)
        qc.rz(x[0], 3)
    return qc, list(x), list(w)


CIRCUITS = {"diagonal": diagonal_circuit, "product-only": product_only_circuit, "entangler-first": entangler_first_circuit, "every-gate": every_gate_circuit, "entangling": entangling_circuit, "layered": lambda: layered_circuit(7),
            "efficient-su2-full": su2_circuit, "zz-real-amplitudes": zz_circuit, "reupload": reupload_circuit}


def setup(name, count=29, seed=0, shared=False):
    """Program, angles and incoming gradients; ``shared``: the weights' angles the same in every row, as in a
    layer (those runs take the kernels' uniform path)."""
    qc, inputs, weights = CIRCUITS[name]()
    spec = CircuitSpec.from_circuit(qc, inputs=inputs, weights=weights)
    program = TorchStatevector(spec.circuit, spec.angles).program
    rng = np.random.default_rng(seed)
    gamma = rng.uniform(-4, 4, (count, spec.n_angles))
    if shared:
        weights_only = ~spec.angle_map.uses_inputs
        gamma[:, weights_only] = gamma[0, weights_only]
    size = (count, 1 << program.n_qubits)
    grads = rng.normal(size=size) + 1j * rng.normal(size=size)
    return program, gamma, grads


def run_fused(program, gamma, grads, chunk, k, threads):
    ops = program.arrays()[0]
    plan = fused.plan(program, k)
    factors = program._factor_tables(gamma)
    n, max_run = program.n_qubits, rows._max_run(ops)
    states = np.empty((len(gamma), 1 << n), dtype=np.complex128)
    fused.forward_rows(ops, plan.fields, plan.arrays, factors, states, n, max_run, chunk, k, threads)
    per_rotation = np.zeros((len(gamma), len(program.arrays()[2])))
    reference = program.states(gamma)
    fused.backward_rows(ops, plan.fields, plan.arrays, factors, reference, grads, per_rotation, n, max_run, chunk, k,
                        threads)
    out = np.zeros(gamma.shape)
    np.add.at(out, (slice(None), program.arrays()[2]), per_rotation)
    return states, out


@pytest.mark.parametrize("shared", [False, True], ids=["per-row", "shared-weights"])
@pytest.mark.parametrize("name", CIRCUITS)
def test_fused_states_bit_identical_and_gradients_equal_to_run_by_run(name, shared):
    program, gamma, grads = setup(name, shared=shared)
    states = program.states(gamma)
    reference = program.angle_gradients(gamma, states, grads)
    first = None
    for k in range(1, fused.MAX_GROUP + 1):
        for chunk, threads in ((8, 1), (16, 2), (64, 1)):
            fused_states, fused_grads = run_fused(program, gamma, grads, chunk, k, threads)
            assert np.array_equal(fused_states, states)
            np.testing.assert_allclose(fused_grads, reference, atol=1e-12, rtol=0)
            if k == 4 and first is None:
                first = fused_grads
            elif k == 4:
                assert np.array_equal(fused_grads, first)  # any thread count and chunk: the same bits


@pytest.mark.parametrize("shared", [False, True], ids=["per-row", "shared-weights"])
@pytest.mark.parametrize("name", CIRCUITS)
def test_default_path_is_fused_and_deterministic(name, shared, monkeypatch):
    monkeypatch.setattr(rows, "PARALLEL_MIN", 0)  # threads at any size
    program, gamma, grads = setup(name, 70, shared=shared)
    states = rows.states(program, gamma, 2)
    assert np.array_equal(states, rows.states(program, gamma, 2, fuse=False))
    assert np.array_equal(states, rows.states(program, gamma, 1))
    fused_grads = rows.angle_gradients(program, gamma, states, grads, 2)
    for threads in (1, 2, 3):
        assert np.array_equal(rows.angle_gradients(program, gamma, states, grads, threads), fused_grads)
    np.testing.assert_allclose(
        fused_grads, rows.angle_gradients(program, gamma, states, grads, 1, fuse=False), atol=1e-12, rtol=0
    )


@pytest.mark.parametrize("name", ["diagonal", "zz-real-amplitudes"])
def test_diagonal_runs_are_merged_into_permutations(name):
    program, _, _ = setup(name)
    diagonal = fused.diagonal_runs(program)
    assert diagonal.any() and not diagonal.all()
    for k in (1, 2, 5):
        absorbed = fused.plan(program, k).absorbed
        assert absorbed.sum() > 0 and absorbed.max() <= k


def test_group_size_keeps_a_tile_in_cache():
    assert fused.group_size(64) == 5 and fused.group_size(8) == fused.MAX_GROUP
    assert all((1 << fused.group_size(c)) * c * 16 <= fused.TILE_BYTES for c in (8, 16, 32, 64))


def jacobians(layer, x):
    x = x.clone().requires_grad_()
    out = layer(x)
    rows_ = []
    for i in range(out.shape[1]):
        gx, gw = torch.autograd.grad(out[:, i].sum(), (x, layer.weights), retain_graph=True)
        rows_.append(torch.cat([gx.reshape(-1), gw.reshape(-1)]))
    return out.detach(), torch.stack(rows_)


@pytest.mark.parametrize("name, options", [
    ("reupload", {"observables": ["ZZII", "IXYI", "YIIX"]}),
    ("diagonal", {"observables": ["ZZII", "IXYI", "YIIX"]}),
    ("efficient-su2-full", {"readout": "z"}),
    ("zz-real-amplitudes", {"readout": "probabilities", "qubits": [2, 0]}),
])
def test_fused_layer_equals_shift_rule_on_aer_statevector(name, options):
    qc, inputs, weights = CIRCUITS[name]()
    x = torch.rand(3, len(inputs), dtype=torch.float64, generator=torch.Generator().manual_seed(7)) * 4 - 2
    exact = Hybrid("analytic", None, circuit=qc, inputs=inputs, weights=weights, seed=1, **options)
    aer = Hybrid(AerSimulator(method="statevector"), None, circuit=qc, inputs=inputs, weights=weights, seed=1,
                 **options)
    aer.weights = exact.weights
    for a, b in zip(jacobians(exact, x), jacobians(aer, x)):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_fused_layer_gradcheck():
    qc, inputs, weights = reupload_circuit(3)
    layer = Hybrid("analytic", None, circuit=qc, inputs=inputs, weights=weights, seed=1, readout="z")
    x = torch.rand(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(8)).requires_grad_()
    w = layer.weights.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w: torch.func.functional_call(layer, {"weights": w}, (x,)), (x, w))


def test_complex64_for_float32_inputs():
    qc, inputs, weights = reupload_circuit(3)
    layer = Hybrid("analytic", None, circuit=qc, inputs=inputs, weights=weights, seed=1, readout="z")
    x = torch.rand(5, 3, generator=torch.Generator().manual_seed(9))
    out32 = layer.float()(x)
    out64 = layer.double()(x.double())
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), out64, atol=1e-6, rtol=0)
