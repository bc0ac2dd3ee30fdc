"""The drop-in layer: one job per forward+backward, shapes, dtypes, seeds and clear errors."""

import math

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit_aer import AerSimulator

import hqnn
from hqnn import Hybrid
from hqnn.executors.aer_job import AER_SIMULATE
from hqnn.stats import fit_pvalue


@pytest.mark.parametrize("batch", [1, 7, 256])
def test_one_aer_job_per_forward_and_backward(batch, count_calls):
    layer = Hybrid(AerSimulator(), 100, np.pi / 2, seed=0)
    jobs = count_calls(layer.strategy.executor.backend, AER_SIMULATE)
    x = torch.rand(batch, 1, requires_grad=True)
    out = layer(x)
    assert jobs.calls == 1
    out.sum().backward()
    assert jobs.calls == 1, "backward must not run a job"
    assert x.grad.shape == (batch, 1)


def test_no_grad_runs_base_rows_only(count_calls):
    layer = Hybrid("analytic", diff_method="shift")
    run = count_calls(layer.strategy.executor, "run")
    x = torch.rand(9, 1, requires_grad=True)
    with torch.no_grad():
        layer(x)
    layer(x.detach())  # no tensor needs a gradient: still base rows only
    layer(x)  # gradient needed: base + 2 shifted blocks
    seen = [args[0].shape for args, _ in run.arguments]
    assert seen == [(9, 1), (9, 1), (27, 1)] and run.calls == 3


def test_chapter_drop_in_positional_and_batch_one():
    layer = Hybrid(AerSimulator(), 100, np.pi / 2, seed=0)
    x = torch.tensor([[0.2]], requires_grad=True)
    y = layer(x)
    assert y.shape == (1, 1) and fit_pvalue(y.detach().numpy()[0], np.array([(1 + math.sin(0.2)) / 2]), 100) > 1e-4
    y = torch.cat((y, 1 - y), -1)
    assert y.shape == (1, 2) and float(y.sum()) == pytest.approx(1.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_output_keeps_dtype_and_device(dtype):
    layer = Hybrid("analytic")
    x = torch.rand(2, 3, 1, dtype=dtype, requires_grad=True)
    y = layer(x)
    assert y.dtype == dtype and y.device == x.device and y.shape == (2, 3, 1)
    y.sum().backward()
    assert x.grad.dtype == dtype


def test_same_seed_same_outputs_and_gradients():
    def run(seed):
        layer = Hybrid("aer", 100, seed=seed)
        x = torch.linspace(-2, 2, 50).reshape(50, 1).requires_grad_()
        y = layer(x)
        y.sum().backward()
        return y.detach(), x.grad

    y1, g1 = run(11)
    y2, g2 = run(11)
    y3, g3 = run(12)
    assert torch.equal(y1, y2) and torch.equal(g1, g2)
    assert not torch.equal(y1, y3) and not torch.equal(g1, g3)


def test_consecutive_jobs_draw_fresh_seeds():
    layer = Hybrid("aer", 100, seed=5)
    x = torch.zeros(200, 1)
    with torch.no_grad():
        assert not torch.equal(layer(x), layer(x))


def test_weights_are_parameters_in_state_dict():
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(1)
    qc.ry(x, 0)
    qc.rz(w, 0)
    qc.rx(w, 0)
    layer = Hybrid("analytic", circuit=qc, inputs=[x], weights=[w], seed=1)
    assert isinstance(layer.weights, torch.nn.Parameter)
    assert "weights" in layer.state_dict() and layer.weights.shape == (1,)
    assert 0 <= layer.weights.item() < 2 * math.pi
    assert torch.equal(layer.weights, Hybrid("analytic", circuit=qc, inputs=[x], weights=[w], seed=1).weights)


# ---- bad input -> clear exceptions ----------------------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_input_rejected(bad):
    with pytest.raises(ValueError, match="NaN or inf"):
        Hybrid("analytic")(torch.tensor([[0.1], [bad]]))


def test_non_finite_weights_rejected():
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(1)
    qc.ry(x + w, 0)
    layer = Hybrid("analytic", circuit=qc, inputs=[x], weights=[w])
    with torch.no_grad():
        layer.weights.fill_(float("nan"))
    with pytest.raises(ValueError, match="weights contain NaN"):
        layer(torch.zeros(1, 1))


@pytest.mark.parametrize("shape", [(4, 2), (4,), ()])
def test_wrong_input_shape_rejected(shape):
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 1\)"):
        Hybrid("analytic")(torch.zeros(shape))


def test_integer_input_rejected():
    with pytest.raises(TypeError, match="floating-point"):
        Hybrid("analytic")(torch.zeros(2, 1, dtype=torch.long))


@pytest.mark.parametrize("shots", [0, -5, 1.5, True, "100"])
def test_bad_shots_rejected(shots):
    with pytest.raises(ValueError, match="shots must be a positive integer"):
        Hybrid("aer", shots)


@pytest.mark.parametrize("shift", [0.0, math.pi, 2 * math.pi])
def test_shift_with_zero_sine_rejected(shift):
    with pytest.raises(ValueError, match=r"sin\(shift\)"):
        Hybrid("aer", 100, shift)


def test_unknown_backend_rejected():
    with pytest.raises(ValueError, match="unknown backend 'qasm'"):
        Hybrid("qasm")
    with pytest.raises(TypeError, match="unsupported backend of type int"):
        Hybrid(42)


def test_non_differentiable_angle_rejected():
    x = Parameter("x")
    qc = QuantumCircuit(2)
    qc.crx(x.sign(), 0, 1)
    with pytest.raises(ValueError, match="gate 'rx' on qubits \\[1\\] \\(from 'crx'\\): angle .*sign"):
        Hybrid("aer", circuit=qc, inputs=[x])


def test_angles_undefined_for_an_input_are_named():
    x = Parameter("x")
    qc = QuantumCircuit(1)
    qc.ry(x.log(), 0)
    layer = Hybrid("analytic", circuit=qc, inputs=[x])
    assert torch.isfinite(layer(torch.tensor([[2.0]]))).all()
    with pytest.raises(ValueError, match="circuit angles contain NaN or inf"):
        layer(torch.tensor([[-1.0]]))


@pytest.mark.parametrize("backend, kwargs", [("analytic", {}), ("aer", {}), ("emulator", {"diff_method": "shift"})])
@pytest.mark.parametrize("shape", [(0, 1), (3, 0, 1)])
def test_empty_batch_gives_empty_output(backend, kwargs, shape):
    x = torch.zeros(shape, requires_grad=True)
    out = Hybrid(backend, **kwargs)(x)  # default shots: 100, exact on "analytic"
    assert out.shape == shape
    out.sum().backward()
    assert x.grad.shape == shape


@pytest.mark.parametrize("shift", [None, "1.57", True])
def test_shift_must_be_a_number(shift):
    with pytest.raises(ValueError, match="shift must be a real number"):
        Hybrid("aer", 100, shift)


def test_failed_aer_job_raises_with_aer_message():
    layer = Hybrid(AerSimulator(method="stabilizer"), 100)
    with pytest.raises(RuntimeError, match="Aer job failed.*stabilizer"):
        layer(torch.tensor([[0.3]]))


def test_custom_circuit_arguments_checked():
    with pytest.raises(ValueError, match="pass circuit="):
        Hybrid("aer", inputs=[Parameter("x")])
    with pytest.raises(ValueError, match="needs inputs"):
        Hybrid("aer", circuit=QuantumCircuit(1))
    executor = hqnn.RYKernelExecutor(hqnn.chapter_circuit())
    with pytest.raises(ValueError, match="brings its own circuit"):
        Hybrid(executor, circuit=QuantumCircuit(1))
    assert Hybrid(executor).strategy.executor is executor


def test_circuit_without_inputs_takes_empty_feature_vectors():
    from qiskit.circuit.library import n_local

    circuit = n_local(2, "ry", "crx", reps=1)  # controlled rotations: rewritten exactly
    layer = Hybrid("analytic", None, circuit=circuit, inputs=[], weights=list(circuit.parameters), readout="z")
    out = layer(torch.zeros(3, 0))
    assert out.shape == (3, 2)
    out.sum().backward()
    assert layer.weights.grad.shape == (5,) and torch.isfinite(layer.weights.grad).all()


@pytest.mark.parametrize("seed", [-1, 1.5, "1", True])
def test_a_bad_seed_is_named(seed):
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer, a numpy.random.Generator or None"):
        Hybrid("aer", 100, seed=seed)


def test_numpy_integers_are_accepted_for_shots_and_seed():
    layer = Hybrid("aer", np.int64(50), seed=np.int64(3))
    twin = Hybrid("aer", 50, seed=3)
    x = torch.linspace(-2, 2, 5, dtype=torch.float64)[:, None]
    torch.testing.assert_close(layer(x), twin(x), atol=0, rtol=0)
