"""The project's proof: exact paths agree to 1e-10 (float64) across strategies — closed form, shift rule (on the
numba kernel, the torch statevector and Aer) and reverse mode — and each layer's strategy is chosen once."""

import pytest
import torch
from qiskit_aer import AerSimulator

from hqnn import (
    AerExecutor,
    RYKernelExecutor,
    ClosedForm,
    EmulatorExecutor,
    Hybrid,
    ReverseMode,
    ShiftRule,
    AerStatevectorExecutor,
    SimulatorExecutor,
    angle_encoder,
    chapter_circuit,
    entangling_ansatz,
    reuploading,
)

from closed_forms import dp1_closed, p1_closed
from sample_circuits import entangling_circuit

ATOL = 1e-10


def jacobians(layer: Hybrid, x: torch.Tensor):
    """Values, d/dx (B, n_out, B, n_in) and d/dweights of ``layer`` at ``x``."""

    def f(a, w):
        return torch.func.functional_call(layer, {"weights": w}, (a,))

    weights = layer.weights.detach().clone()
    j_x, j_w = torch.autograd.functional.jacobian(f, (x, weights))
    return f(x, weights).detach(), j_x, j_w


def assert_same(a, b):
    for left, right in zip(a, b):
        torch.testing.assert_close(left, right, atol=ATOL, rtol=0)


@pytest.mark.parametrize("readout", ["p1", "z"])
@pytest.mark.parametrize("n_qubits", [1, 3])
def test_chapter_circuit_closed_form_shift_rule_and_reverse_mode_agree(readout, n_qubits):
    spec = chapter_circuit(n_qubits, readout)
    theta = torch.linspace(-7, 7, 41, dtype=torch.float64)[:, None]
    layers = {
        "closed-form": Hybrid("analytic", None, readout=readout) if n_qubits == 1 else None,
        "shift on the numba kernel": Hybrid(RYKernelExecutor(spec), shift=0.7),
        "shift on the torch statevector": Hybrid(SimulatorExecutor(spec), shift=0.7),
        "shift on Aer's statevector": Hybrid(AerStatevectorExecutor(spec), shift=1.1),
    }
    reverse = Hybrid("analytic", None, readout=readout, diff_method="reverse")
    if n_qubits > 1:
        del layers["closed-form"]
        reverse = None
    scale, offset = (1.0, 0.0) if readout == "p1" else (-2.0, 1.0)
    t = theta.numpy()
    expected_values = torch.from_numpy(offset + scale * p1_closed(t)).repeat(1, n_qubits)
    expected_slopes = torch.from_numpy(scale * dp1_closed(t)).repeat(1, n_qubits)
    for name, layer in [*layers.items(), *([("reverse", reverse)] if reverse else [])]:
        x = theta.clone().requires_grad_()
        values = layer(x)
        torch.testing.assert_close(values.detach(), expected_values, atol=ATOL, rtol=0, msg=name)
        grads = [torch.autograd.grad(values[:, o].sum(), x, retain_graph=True)[0][:, 0] for o in range(n_qubits)]
        torch.testing.assert_close(torch.stack(grads, 1), expected_slopes, atol=ATOL, rtol=0, msg=name)


def entangling():
    """The shared entangling circuit, then a crx with a product angle, a u and an ry of sin(x0·x1)."""
    qc, (x0, x1), (w0, w1) = entangling_circuit()
    qc.crx(w0 * x0, 0, 2)
    qc.u(x1, w1, 0.3, 1)
    qc.ry((x0 * x1).sin(), 0)
    return {"circuit": qc, "inputs": [x0, x1], "weights": [w0, w1]}


MODELS = {
    "entangling": entangling(),
    "reupload": reuploading(3, layers=2, reps=1).hybrid_kwargs(),
    "ring": angle_encoder(4, "rx").then(entangling_ansatz(4, 2, entanglement="ring")).hybrid_kwargs(),
}
READOUTS = {
    "z": {"readout": "z"},
    "p1-two": {"qubits": [2, 0]},
    "paulis": {"observables": ["ZZI", "IXY", "YIX"]},
    "probabilities": {"readout": "probabilities", "qubits": [1, 0]},
}


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("model", MODELS)
def test_shift_rule_jacobians_equal_reverse_mode(model, readout):
    kwargs = dict(MODELS[model])
    options = dict(READOUTS[readout])
    if "observables" in options:
        options["observables"] = [label.rjust(kwargs["circuit"].num_qubits, "I") for label in options["observables"]]
    x = torch.rand(5, len(kwargs["inputs"]), dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 6 - 3
    reverse = Hybrid("analytic", None, **kwargs, **options, seed=2)
    shift = Hybrid("analytic", None, 0.9, **kwargs, **options, seed=2, diff_method="shift")
    assert isinstance(reverse.strategy, ReverseMode) and isinstance(shift.strategy, ShiftRule)
    assert_same(jacobians(shift, x), jacobians(reverse, x))


def test_shift_rule_on_aer_statevector_equals_reverse_mode():
    """An independent simulator (Aer) behind the shift rule gives the same exact Jacobians."""
    kwargs = MODELS["entangling"]
    x = torch.rand(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    aer = Hybrid(AerSimulator(method="statevector"), None, **kwargs, observables=["ZZI", "IXY"], seed=4)
    reverse = Hybrid("analytic", None, **kwargs, observables=["ZZI", "IXY"], seed=4)
    assert isinstance(aer.strategy.executor, AerStatevectorExecutor)
    assert_same(jacobians(aer, x), jacobians(reverse, x))


def test_strategies_are_chosen_once_by_backend_shots_and_diff_method():
    model = MODELS["reupload"]
    assert isinstance(Hybrid("analytic").strategy, ClosedForm)
    assert isinstance(Hybrid("emulator", None).strategy, ClosedForm)  # hqnn's simulator, exact
    assert isinstance(Hybrid("aer", None).strategy.executor, AerStatevectorExecutor)  # "aer" runs Aer, exactly
    assert isinstance(Hybrid("emulator", 100).strategy, ClosedForm)
    assert isinstance(Hybrid("emulator", 100, diff_method="shift").strategy.executor, EmulatorExecutor)
    assert isinstance(Hybrid("aer", 100).strategy.executor, AerExecutor)
    assert isinstance(Hybrid("analytic", **model).strategy, ReverseMode)
    assert isinstance(Hybrid("emulator", None, **model).strategy, ReverseMode)
    assert isinstance(Hybrid("aer", None, **model).strategy.executor, AerStatevectorExecutor)
    assert isinstance(Hybrid("emulator", 100, **model).strategy.executor, EmulatorExecutor)
    assert isinstance(Hybrid("analytic", diff_method="shift").strategy.executor, RYKernelExecutor)
    assert isinstance(Hybrid("analytic", diff_method="reverse").strategy, ReverseMode)
    with pytest.raises(ValueError, match="only the shift rule"):
        Hybrid("aer", 100, diff_method="reverse")
    with pytest.raises(ValueError, match="closed form needs the chapter circuit"):
        Hybrid("analytic", **model, diff_method="closed-form")
    with pytest.raises(ValueError, match="unknown diff_method 'adjoint'"):
        Hybrid("analytic", diff_method="adjoint")


def test_names_do_what_they_say_and_no_argument_is_dropped():
    with pytest.raises(ValueError, match="backend 'analytic' is exact and has no shots, got shots=100"):
        Hybrid("analytic", 100)
    assert Hybrid("analytic").strategy.spec.n_outputs == 1  # the default shots do not apply to "analytic"
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None]
    aer = Hybrid("aer", None)  # Aer's exact probabilities, differentiated by the (exact) shift rule
    torch.testing.assert_close(aer(x), Hybrid("analytic")(x), atol=ATOL, rtol=0)


def test_strategy_follows_the_executors_declared_capabilities():
    model = MODELS["entangling"]
    exact_outside = Hybrid(AerStatevectorExecutor(Hybrid("analytic", None, **model).spec))
    assert exact_outside.strategy.executor.exact and not exact_outside.strategy.executor.statevector
    with pytest.raises(ValueError, match="AerStatevectorExecutor gives exact values computed outside hqnn"):
        Hybrid(AerStatevectorExecutor(exact_outside.spec), diff_method="reverse")
    ours = SimulatorExecutor(exact_outside.spec)  # a user's executor that is hqnn's statevector
    assert isinstance(Hybrid(ours).strategy, ShiftRule) and Hybrid(ours).strategy.executor is ours  # it runs
    layer = Hybrid(ours, diff_method="reverse")  # and reverse mode may use its statevector
    assert isinstance(layer.strategy, ReverseMode) and layer.strategy.executor is ours
    with pytest.raises(ValueError, match="AerExecutor gives shot estimates"):
        Hybrid("aer", 100, diff_method="reverse")


def test_reverse_mode_shows_its_compile_fallback_and_its_memory():
    layer = Hybrid("analytic", **MODELS["reupload"])
    assert repr(layer.strategy) == "ReverseMode(under torch.compile: ShiftRule(SimulatorExecutor(shots=None, outputs=3), shift=1.5708))"
    strategy, batch = layer.strategy, 8
    rows = batch * (1 + 2 * layer.spec.n_angles)
    assert strategy.compiled_memory(batch, "cpu") == strategy.compiled_fallback.executor.memory(rows) > 0


def test_every_diff_method_is_one_registration():
    from hqnn.strategies import AUTO_ORDER, METHODS
    from hqnn.validation import DIFF_METHODS

    assert set(METHODS) | {"auto"} == set(DIFF_METHODS) and set(AUTO_ORDER) <= set(METHODS)
    assert METHODS["reverse"].needs_exact and METHODS["reverse"].needs_statevector
    assert not any(vars(METHODS["shift"])[f] for f in ("needs_exact", "needs_shots", "needs_statevector"))


def test_an_exact_estimator_is_refused_reverse_mode_with_a_true_message():
    from qiskit.primitives import StatevectorEstimator

    layer = Hybrid(StatevectorEstimator(), None, **MODELS["entangling"], observables=["ZZI"])
    assert isinstance(layer.strategy, ShiftRule) and layer.strategy.executor.exact
    with pytest.raises(ValueError, match="EstimatorExecutor gives exact values computed outside hqnn"):
        Hybrid(StatevectorEstimator(), None, **MODELS["entangling"], observables=["ZZI"], diff_method="reverse")
