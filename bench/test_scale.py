"""Group ``scale``: exact and emulated (1000 shots) forward + backward by inputs and weights of the multi-qubit
benchmark circuit, against PennyLane ``default.qubit`` (torch backprop, broadcast), after checking that both
compute the same numbers."""

from __future__ import annotations

import pytest
import torch

from baselines import PENNYLANE_HINT, pennylane_layer, scale_circuit
from hqnn import Hybrid

SIZES = [(4, 32), (4, 256), (8, 32), (8, 256), (12, 32), (12, 256)]
EMULATED = {(4, 32), (4, 256), (8, 32), (8, 256)}  # 12 qubits: 2·84 + 1 rows of 4,096 outcomes per sample
SHOTS = 1000


def inputs(qubits: int, batch: int) -> torch.Tensor:
    x = torch.rand(batch, qubits, dtype=torch.float64, generator=torch.Generator().manual_seed(batch + qubits))
    return (x * 6 - 3).requires_grad_()


def hqnn_layer(qubits: int, backend: str, shots: int | None) -> Hybrid:
    circuit, x, w = scale_circuit(qubits)
    return Hybrid(backend, shots, circuit=circuit, inputs=x, weights=w, readout="z", seed=0)


def forward_backward(f, x, weights):
    x.grad = weights.grad = None
    f(x, weights).sum().backward()


def run_layer(layer: Hybrid):
    return lambda x, w: torch.func.functional_call(layer, {"weights": w}, (x,))


@pytest.mark.parametrize("qubits, batch", SIZES)
@pytest.mark.parametrize("system", ["hqnn-exact", "hqnn-emulator", "pennylane"])
def test_scale(benchmark, system, qubits, batch, smoke):
    if smoke and (qubits, batch) != (4, 32):
        pytest.skip("smoke run: 4 qubits, B = 32 only")
    if system == "hqnn-emulator" and (qubits, batch) not in EMULATED:
        pytest.skip("emulator timed up to 8 qubits")
    benchmark.group = "scale"
    benchmark.extra_info.update(system=system, batch=batch, samples=batch, qubits=qubits)
    exact = hqnn_layer(qubits, "analytic", None)
    weights = exact.weights.detach().clone().requires_grad_()
    x = inputs(qubits, batch)
    if system == "pennylane":
        pytest.importorskip("pennylane", reason=PENNYLANE_HINT)
        f = pennylane_layer(qubits)
        check_same_numbers(f, run_layer(exact), x, weights)
    elif system == "hqnn-emulator":
        f = run_layer(hqnn_layer(qubits, "emulator", SHOTS))
    else:
        f = run_layer(exact)
    rounds = 1 if smoke else (3 if qubits == 12 or system == "hqnn-emulator" else 7)
    benchmark.pedantic(forward_backward, (f, x, weights), rounds=rounds, warmup_rounds=0 if smoke else 1)
    assert x.grad.shape == x.shape and weights.grad.shape == weights.shape


def check_same_numbers(peer, mine, x, weights):
    """Values and gradients (inputs and weights) of the peer equal hqnn's exact ones to 1e-10."""
    results = []
    for f in (peer, mine):
        x.grad = weights.grad = None
        out = f(x, weights)
        (out * torch.linspace(-1, 1, out.shape[1], dtype=out.dtype)).sum().backward()
        results.append((out.detach(), x.grad.clone(), weights.grad.clone()))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
