"""Circuit library: shiftable gates, shared inputs for re-uploading, exact gradients through Hybrid."""

import math

import numpy as np
import pytest
import torch
from qiskit.circuit.library import real_amplitudes

from hqnn import Ansatz, Hybrid, angle_encoder, entangling_ansatz, reuploading
from hqnn.decompose import SHIFTABLE_GATES


def gates(ansatz: Ansatz) -> set[str]:
    return {inst.operation.name for inst in ansatz.circuit.data}


def occurrences(ansatz: Ansatz, parameter) -> int:
    return sum(parameter in getattr(p, "parameters", ()) for inst in ansatz.circuit.data for p in inst.operation.params)


def exact_layer(ansatz: Ansatz, **kwargs) -> Hybrid:
    return Hybrid("analytic", None, **ansatz.hybrid_kwargs(), seed=3, **kwargs)


DIFF_METHODS = ["reverse", "shift"]


def check_gradients(layer: Hybrid, batch: int, seed: int = 0) -> None:
    """``torch.autograd.gradcheck`` on inputs and circuit weights together (float64, exact mode)."""
    x = torch.rand(batch, layer.spec.n_inputs, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    x = (x * 2 * math.pi).requires_grad_()
    weights = layer.weights.detach().clone().requires_grad_()
    function = lambda x, w: torch.func.functional_call(layer, {"weights": w}, (x,))  # noqa: E731
    assert torch.autograd.gradcheck(function, (x, weights), eps=1e-6, atol=1e-5, fast_mode=True)


def test_encoder_has_one_input_per_qubit_and_no_weights():
    encoder = angle_encoder(3, rotation="rx")
    assert len(encoder.inputs) == 3 and encoder.weights == ()
    assert gates(encoder) == {"rx"}
    assert [occurrences(encoder, x) for x in encoder.inputs] == [1, 1, 1]
    assert gates(angle_encoder(2, rotation="rz")) == {"h", "rz"}


def test_entangling_ansatz_counts_weights_and_uses_shiftable_gates():
    ansatz = entangling_ansatz(3, reps=2, rotations=("ry", "rz"), entanglement="ring")
    assert ansatz.inputs == () and len(ansatz.weights) == (2 + 1) * 2 * 3
    parameterized = {i.operation.name for i in ansatz.circuit.data if i.operation.params}
    assert parameterized <= SHIFTABLE_GATES
    ring = [tuple(ansatz.circuit.find_bit(q).index for q in i.qubits) for i in ansatz.circuit.data if i.name == "cx"]
    assert (2, 0) in ring and len(ring) == 2 * 3
    assert gates(entangling_ansatz(1, reps=2)) == {"ry", "rz"}  # one qubit: no entangler


def test_reuploading_reuses_the_same_inputs_and_fresh_weights():
    model = reuploading(2, layers=3, reps=1)
    assert len(model.inputs) == 2
    assert [occurrences(model, x) for x in model.inputs] == [3, 3]
    assert len(model.weights) == 3 * (1 + 1) * 2 * 2 == len(set(model.weights))
    assert all(occurrences(model, w) == 1 for w in model.weights)


def test_then_keeps_shared_parameters_once():
    encoder = angle_encoder(2)
    chained = encoder.then(entangling_ansatz(2, reps=1)).then(encoder)
    assert chained.inputs == encoder.inputs and len(chained.weights) == 8
    with pytest.raises(ValueError, match="3-qubit"):
        encoder.then(angle_encoder(3))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: angle_encoder(0), "n_qubits"),
        (lambda: angle_encoder(2, rotation="h"), "rotation"),
        (lambda: entangling_ansatz(2, reps=-1), "reps"),
        (lambda: entangling_ansatz(2, rotations=()), "rotations"),
        (lambda: entangling_ansatz(2, entanglement="star"), "entanglement"),
        (lambda: entangling_ansatz(2, entangler="crx"), "entangler"),
        (lambda: reuploading(2, layers=0), "layers"),
    ],
)
def test_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_weights_are_a_trainable_parameter_in_the_state_dict():
    model = reuploading(2, layers=2)
    layer = exact_layer(model)
    assert layer.state_dict()["weights"].shape == (len(model.weights),)
    assert any(p is layer.weights for p in layer.parameters())


def test_encoder_alone_matches_closed_form():
    # RY(x_i)|0⟩ on each qubit: P(1) = sin²(x_i / 2), ⟨Z⟩ = cos x_i.
    layer = exact_layer(angle_encoder(3), readout="z", qubits=[2, 0])
    x = torch.tensor([[0.3, 1.1, 2.0], [-0.7, 0.0, 3.0]], dtype=torch.float64)
    expected = torch.cos(x[:, [2, 0]])
    torch.testing.assert_close(layer(x), expected, atol=1e-10, rtol=0)


@pytest.mark.parametrize(
    "model, kwargs",
    [
        (angle_encoder(2).then(entangling_ansatz(2, reps=1)), {}),
        (angle_encoder(3, rotation="rx").then(entangling_ansatz(3, reps=1, entanglement="ring")), {"readout": "z"}),
        (reuploading(2, layers=2, reps=1), {"qubits": [1]}),
        (reuploading(3, layers=2, reps=1, rotations=("ry",), entangler="cz"), {"readout": "z", "qubits": [0, 2]}),
        (reuploading(4, layers=2, reps=1, rotations=("ry",), entanglement="full"), {"qubits": [3]}),
    ],
    ids=["enc+ansatz-2q", "enc+ring-3q-z", "reupload-2q", "reupload-3q-cz-z", "reupload-4q-full"],
)
@pytest.mark.parametrize("diff_method", DIFF_METHODS)
def test_exact_gradients_pass_gradcheck(model, kwargs, diff_method):
    check_gradients(exact_layer(model, **kwargs, diff_method=diff_method), batch=2)


def test_gradcheck_catches_a_wrong_jacobian():
    layer = exact_layer(reuploading(2, layers=2, reps=1), qubits=[0], diff_method="shift")
    plan = layer.strategy.plan
    reduce = plan.reduce
    plan.reduce = lambda *args: (lambda values, jacobian: (values, 2 * jacobian))(*reduce(*args))  # no 1/(2 sin s)
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        check_gradients(layer, batch=2)


def test_qiskit_library_circuits_plug_in_directly():
    # real_amplitudes is RY + CX: usable as-is; its weights follow circuit.parameters.
    ansatz = real_amplitudes(2, reps=1)
    model = angle_encoder(2).then(Ansatz(ansatz, (), tuple(ansatz.parameters)))
    layer = exact_layer(model, readout="z")
    out = layer(torch.zeros(3, 2, dtype=torch.float64))
    assert out.shape == (3, 2) and np.all(np.abs(out.detach().numpy()) <= 1)


def test_numpy_integers_are_accepted_and_bad_counts_named():
    import numpy

    from hqnn import chapter_circuit, reuploading

    assert entangling_ansatz(numpy.int64(2), numpy.int64(1)).circuit.num_qubits == 2
    assert chapter_circuit(numpy.int32(3)).n_qubits == 3
    assert len(reuploading(numpy.int64(2), layers=numpy.int64(2)).inputs) == 2
    with pytest.raises(ValueError, match="reps must be a non-negative integer, got -1"):
        entangling_ansatz(2, -1)
    with pytest.raises(ValueError, match="layers must be a positive integer, got 0"):
        reuploading(2, layers=0)
