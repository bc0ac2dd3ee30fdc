"""Noise through Aer: contrast shrinks as the channel says, exact noisy gradients match finite differences."""

import numpy as np
import pytest
import torch
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

from hqnn import Hybrid, AerStatevectorExecutor, angle_encoder, reuploading
from hqnn.stats import fit_pvalue

THETA = torch.linspace(-np.pi, np.pi, 41, dtype=torch.float64)[:, None]


def depolarizing(p1: float, p2: float = 0.0) -> NoiseModel:
    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(p1, 1), ["rx", "ry", "rz"])
    if p2:
        model.add_all_qubit_quantum_error(depolarizing_error(p2, 2), ["cx"])
    return model


def contrast(layer: Hybrid) -> float:
    with torch.no_grad():
        values = layer(THETA)
    return float(values.max() - values.min())


@pytest.mark.parametrize("method", ["density_matrix", "automatic"])
def test_exact_depolarized_contrast_is_one_minus_p(method):
    # RY(θ)|0⟩ then ρ → (1 − p)ρ + p·I/2: P(1) = p/2 + (1 − p)·sin²(θ/2), contrast exactly 1 − p.
    # "automatic" picks a statevector with ONE sampled noise trajectory unless hqnn asks for the density matrix.
    layer = Hybrid(AerSimulator(noise_model=depolarizing(0.2), method=method), None, **angle_encoder(1).hybrid_kwargs())
    assert isinstance(layer.strategy.executor, AerStatevectorExecutor)
    expected = 0.1 + 0.8 * torch.sin(THETA / 2) ** 2
    torch.testing.assert_close(layer(THETA).detach(), expected, atol=1e-9, rtol=0)
    assert abs(contrast(layer) - 0.8) < 1e-6


def test_shot_noise_contrast_shrinks_measurably():
    kwargs = angle_encoder(1).hybrid_kwargs()
    clean = contrast(Hybrid(AerSimulator(), 2000, **kwargs, seed=1))
    noisy = contrast(Hybrid(AerSimulator(noise_model=depolarizing(0.3)), 2000, **kwargs, seed=1))
    assert clean > 0.97 and noisy < 0.77  # 1 − 0.3 = 0.7, plus at most a few σ of shot noise


def test_exact_readout_error_matches_confusion_and_shots():
    model = NoiseModel()
    model.add_all_qubit_readout_error(ReadoutError([[0.9, 0.1], [0.2, 0.8]]))
    kwargs = angle_encoder(2).hybrid_kwargs()
    x = torch.rand(25, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 * np.pi
    exact = Hybrid(AerSimulator(noise_model=model), None, **kwargs, qubits=[1, 0])(x).detach().numpy()
    true = np.sin(x.numpy()[:, [1, 0]] / 2) ** 2
    np.testing.assert_allclose(exact, 0.1 * (1 - true) + 0.8 * true, atol=1e-9)
    shots = 4000
    sampled = Hybrid(AerSimulator(noise_model=model), shots, **kwargs, qubits=[1, 0], seed=4)(x).detach().numpy()
    for p, label in ((exact, "exact"), (true, "planted: no readout error")):
        pvalue = fit_pvalue(sampled, p, shots)
        assert (pvalue > 1e-3) if label == "exact" else (pvalue < 1e-6), label


def noisy_jacobians(backend, x: torch.Tensor, weights: torch.Tensor, model) -> tuple[torch.Tensor, torch.Tensor]:
    layer = Hybrid(backend, None, **model.hybrid_kwargs(), readout="z", qubits=[0])
    return torch.autograd.functional.jacobian(
        lambda x, w: torch.func.functional_call(layer, {"weights": w}, (x,)), (x, weights)
    )


def central_differences(layer: Hybrid, x: torch.Tensor, weights: torch.Tensor, eps: float = 1e-5):
    def f(x, w):
        with torch.no_grad():
            return torch.func.functional_call(layer, {"weights": w}, (x,))

    def differences(t, g):
        cols = []
        for i in range(t.numel()):
            step = torch.zeros_like(t).flatten()
            step[i] = eps
            step = step.view_as(t)
            cols.append((g(t + step) - g(t - step)) / (2 * eps))
        return torch.stack(cols, dim=-1).reshape(*f(x, weights).shape, *t.shape)

    return differences(x, lambda t: f(t, weights)), differences(weights, lambda t: f(x, t))


def test_exact_noisy_gradients_match_finite_differences():
    model = reuploading(2, layers=2, reps=1, rotations=("ry",))
    noisy = AerSimulator(noise_model=depolarizing(0.05, 0.1), method="density_matrix")
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(3, 2, dtype=torch.float64, generator=gen) * 2 * np.pi
    weights = torch.rand(len(model.weights), dtype=torch.float64, generator=gen) * 2 * np.pi
    j_x, j_w = noisy_jacobians(noisy, x, weights, model)
    layer = Hybrid(noisy, None, **model.hybrid_kwargs(), readout="z", qubits=[0])
    fd_x, fd_w = central_differences(layer, x, weights)
    torch.testing.assert_close(j_x, fd_x, atol=1e-6, rtol=0)
    torch.testing.assert_close(j_w, fd_w, atol=1e-6, rtol=0)
    # Planted wrong model: the noiseless gradient is not the gradient of the noisy expectation.
    clean_x, _ = noisy_jacobians("analytic", x, weights, model)
    assert (clean_x - fd_x).abs().max() > 1e-2


def reset_circuit():
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    x = Parameter("x")
    qc = QuantumCircuit(2)
    qc.ry(x, 0)
    qc.cx(0, 1)
    qc.reset(0)  # qubit 1 keeps a mixed state: P(1) = sin²(x/2)
    qc.ry(x, 0)
    return qc, x


def test_a_mid_circuit_reset_is_exact_on_aer_through_the_density_matrix():
    qc, x = reset_circuit()
    theta = torch.tensor([[0.3], [2.0]], dtype=torch.float64, requires_grad=True)
    expected = torch.cos(theta.detach()).repeat(1, 2)  # ⟨Z0⟩ = ⟨Z1⟩ = cos x
    for backend in (AerSimulator(), "aer"):
        layer = Hybrid(backend, None, circuit=qc, inputs=[x], readout="z")
        for _ in range(2):  # the same exact values every call, not one random trajectory
            torch.testing.assert_close(layer(theta), expected, atol=1e-10, rtol=0)
    out = layer(theta)
    (grad,) = torch.autograd.grad(out.sum(), theta)
    torch.testing.assert_close(grad, -2 * torch.sin(theta.detach()), atol=1e-10, rtol=0)


def test_a_reset_on_hqnns_statevector_names_the_density_matrix():
    qc, x = reset_circuit()
    with pytest.raises(ValueError, match=r"'reset' on qubits \[0\] is not unitary.*backend='aer' with shots=None \(Aer's density matrix"):
        Hybrid("analytic", None, circuit=qc, inputs=[x], readout="z")
