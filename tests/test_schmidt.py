"""The Schmidt cut (:mod:`hqnn.schmidt`) against the statevector kernels: outputs and gradients equal to 1e-10 at
every cut, for every kind of gate across it (CX both ways, CZ, CP, RZZ, RXX, RYY, RZX both ways, SWAP, ECR, iSWAP,
CCX, CRX) and every parity readout (⟨Z⟩, P(1), Pauli observables with X and Y); float32; gradcheck and a
differentiable backward; thread counts that give bit-identical results. A layer picks the cut only where it is
less work, and its outputs and gradients equal the shift rule on Aer's statevector."""

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector

import hqnn.threads
from hqnn import Hybrid
from hqnn.kernels import rows
from hqnn.schmidt import SchmidtCut, plan

CROSSINGS = {
    "cx": lambda qc, w: qc.cx(1, 2),
    "cx-upward": lambda qc, w: qc.cx(3, 0),
    "cz": lambda qc, w: qc.cz(0, 2),
    "cp": lambda qc, w: qc.cp(0.7, 1, 3),
    "rzz": lambda qc, w: qc.rzz(w[5], 1, 2),
    "rxx": lambda qc, w: qc.rxx(w[5], 0, 3),
    "ryy": lambda qc, w: qc.ryy(w[5], 3, 1),
    "rzx": lambda qc, w: qc.rzx(w[5], 1, 2),
    "rzx-upward": lambda qc, w: qc.rzx(w[5], 2, 1),
    "swap": lambda qc, w: qc.swap(1, 2),
    "ecr": lambda qc, w: qc.ecr(2, 0),
    "iswap": lambda qc, w: qc.iswap(1, 3),
    "ccx": lambda qc, w: qc.ccx(0, 1, 2),
    "ccx-split-controls": lambda qc, w: qc.ccx(0, 3, 1),
    "crx": lambda qc, w: qc.crx(w[5] * 2, 1, 2),
}
READOUTS = {
    "z": {"readout": "z"},
    "p1": {"readout": "p1", "qubits": [3, 0]},
    "observables": {"observables": ["XZIY", "YYXX", "ZIIZ", "IXII", "IIII", "XIIX"]},
}


def _circuit(crossing: str):
    """4 qubits: an RY encoder, gates inside each half, the crossing gate, more gates; x0 re-uploaded in an
    expression with a weight."""
    x, w = ParameterVector("x", 4), ParameterVector("w", 6)
    qc = QuantumCircuit(4)
    for q in range(4):
        qc.ry(x[q], q)
    qc.rx(w[0], 0)
    qc.rz(w[1], 3)
    qc.cx(0, 1)
    qc.cx(3, 2)
    CROSSINGS[crossing](qc, w)
    qc.ry(w[2], 1)
    qc.ry(w[3], 2)
    qc.cx(1, 2)
    qc.rz(x[0] * w[4], 2)
    qc.h(3)
    return qc, list(x), list(w)


def _layer(crossing: str, readout: str) -> Hybrid:
    circuit, x, w = _circuit(crossing)
    return Hybrid("analytic", None, circuit=circuit, inputs=x, weights=w, seed=1, **READOUTS[readout])


def _angles(layer: Hybrid, rows_: int = 5) -> torch.Tensor:
    x = torch.rand(rows_, layer.spec.n_inputs, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 6 - 3
    return layer.spec.angle_map(x, layer.weights.detach().double()).detach().requires_grad_()


def _outputs_and_grads(function, gamma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    out = function(gamma)
    cotangent = torch.rand(out.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64).to(out.dtype)
    (grad,) = torch.autograd.grad(out, gamma, cotangent)
    return out.detach(), grad


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("crossing", CROSSINGS)
def test_every_cut_equals_the_statevector(crossing, readout):
    layer = _layer(crossing, readout)
    spec, simulator = layer.spec, layer.strategy.simulator
    gamma = _angles(layer)
    reference = _outputs_and_grads(lambda g: simulator.outputs(g, spec.readout), gamma)
    for cut in (1, 2, 3):
        found = _outputs_and_grads(SchmidtCut(spec.circuit, spec.angles, spec.readout, cut).outputs, gamma)
        for mine, theirs in zip(found, reference):
            torch.testing.assert_close(mine, theirs, atol=1e-10, rtol=0, msg=f"cut after qubit {cut - 1}")


def test_float32_follows_float64():
    layer = _layer("rzz", "observables")
    spec = layer.spec
    cut = SchmidtCut(spec.circuit, spec.angles, spec.readout, 2)
    gamma = _angles(layer)
    single = _outputs_and_grads(cut.outputs, gamma.detach().float().requires_grad_())
    double = _outputs_and_grads(cut.outputs, gamma)
    for mine, theirs in zip(single, double):
        assert mine.dtype == torch.float32
        torch.testing.assert_close(mine.double(), theirs, atol=1e-5, rtol=0)


def test_gradcheck_and_double_backward():
    layer = _layer("ccx-split-controls", "observables")
    spec = layer.spec
    cut = SchmidtCut(spec.circuit, spec.angles, spec.readout, 2)
    gamma = _angles(layer, rows_=2)
    assert torch.autograd.gradcheck(cut.outputs, (gamma,))
    assert torch.autograd.gradgradcheck(cut.outputs, (gamma,))


def test_thread_counts_give_identical_results(monkeypatch):
    monkeypatch.setattr(rows, "PARALLEL_MIN", 0)  # threads at any size
    monkeypatch.setattr(hqnn.threads, "PARALLEL_MIN", 0)
    layer = _layer("rxx", "observables")
    spec = layer.spec
    cut = SchmidtCut(spec.circuit, spec.angles, spec.readout, 2)
    gamma = _angles(layer, rows_=64)
    before = torch.get_num_threads()
    try:
        found = []
        for threads in (1, 2, 1):
            torch.set_num_threads(threads)
            found.append(_outputs_and_grads(cut.outputs, gamma))
    finally:
        torch.set_num_threads(before)
    for other in found[1:]:
        assert all(torch.equal(a, b) for a, b in zip(found[0], other))


def test_refusals_name_what_cannot_be_cut():
    layer = _layer("cx", "z")
    spec = layer.spec
    with pytest.raises(ValueError, match="between 1 and 3"):
        SchmidtCut(spec.circuit, spec.angles, spec.readout, 4)
    circuit, x, w = _circuit("cx")
    joint = Hybrid("analytic", None, circuit=circuit, inputs=x, weights=w, readout="probabilities", qubits=[0, 3])
    with pytest.raises(ValueError, match="parities only"):
        SchmidtCut(joint.spec.circuit, joint.spec.angles, joint.spec.readout, 2)
    assert plan(joint.spec.circuit, joint.spec.angles, joint.spec.readout) is None
    qc = QuantumCircuit(4)
    qc.h(0)
    qc.cswap(0, 1, 2)  # the swapped pair straddles the cut after qubit 1: diagonal on neither side
    with pytest.raises(ValueError, match="'cswap' on qubits \\[0, 1, 2\\] crosses the cut after qubit 1"):
        SchmidtCut(qc, (), spec.readout, 2)


def _layered(n: int, layers: int = 3):
    """An RY encoder, then ``layers`` × (RY, RZ on every qubit, a CX chain): the chain crosses any cut once."""
    x, w = ParameterVector("x", n), ParameterVector("w", 2 * n * layers)
    qc = QuantumCircuit(n)
    for q in range(n):
        qc.ry(x[q], q)
    for layer in range(layers):
        for q in range(n):
            qc.ry(w[2 * n * layer + q], q)
            qc.rz(w[2 * n * layer + n + q], q)
        for q in range(n - 1):
            qc.cx(q, q + 1)
    return qc, list(x), list(w)


@pytest.mark.parametrize("n, expected", [(4, None), (8, None), (10, 5), (14, 7)])
def test_plan_cuts_only_where_it_is_less_work(n, expected):
    circuit, x, w = _layered(n)
    layer = Hybrid("analytic", None, circuit=circuit, inputs=x, weights=w, readout="z")
    chosen = layer.strategy.cut
    assert (None if chosen is None else chosen.cut) == expected
    entangled = QuantumCircuit(n)  # CX between every pair: a cut is never less work
    for a in range(n):
        for b in range(a + 1, n):
            entangled.cx(a, b)
    assert plan(entangled, (), layer.spec.readout) is None


def test_layer_on_the_cut_equals_the_shift_rule_on_aer():
    circuit, x, w = _layered(10, layers=2)
    options = {"circuit": circuit, "inputs": x, "weights": w, "observables": ["Z" * 10, "IIIIXXIIII", "YIIIIIIIIZ"]}
    cut_layer = Hybrid("analytic", None, seed=0, **options)
    aer_layer = Hybrid("aer", None, seed=0, **options)
    assert cut_layer.strategy.cut is not None and "shift" in repr(aer_layer.strategy).lower()
    with torch.no_grad():
        aer_layer.weights.copy_(cut_layer.weights)
    inputs = torch.rand(3, 10, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 3
    results = []
    for layer in (cut_layer, aer_layer):
        leaf = inputs.clone().requires_grad_()
        out = layer(leaf)
        out.sum().backward()
        results.append((out.detach(), leaf.grad, layer.weights.grad))
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), atol=1e-10, rtol=0)


def test_exact_shift_rule_runs_through_the_cut_and_equals_reverse_mode_and_the_statevector():
    """The exact shift rule's executor (also reverse mode's under torch.compile) takes the cut on the CPU: its
    features equal the statevector's, and the shift rule's values and gradients equal reverse mode's, to 1e-10."""
    circuit, x, w = _layered(10, layers=2)
    options = {"circuit": circuit, "inputs": x, "weights": w, "observables": ["Z" * 10, "IIIIXXIIII", "YIIIIIIIIZ"]}
    reverse = Hybrid("analytic", None, seed=0, **options)
    shift = Hybrid("analytic", None, seed=0, diff_method="shift", **options)
    executor = shift.strategy.executor
    assert executor.cut is not None and reverse.strategy.cut is reverse.strategy.executor.cut
    with torch.no_grad():
        shift.weights.copy_(reverse.weights)
    inputs = torch.rand(3, 10, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 3
    rows = shift.spec.angle_map(inputs, shift.weights).detach()
    features = executor.run(rows)
    with torch.no_grad():
        statevector = executor.simulator.features(rows, shift.spec.readout)
    np.testing.assert_allclose(features.numpy(), statevector.numpy(), atol=1e-10, rtol=0)
    results = []
    for layer in (reverse, shift):
        leaf = inputs.clone().requires_grad_()
        out = layer(leaf)
        (out * torch.linspace(-1, 1, out.shape[1], dtype=out.dtype)).sum().backward()
        results.append((out.detach(), leaf.grad, layer.weights.grad))
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), atol=1e-10, rtol=0)
