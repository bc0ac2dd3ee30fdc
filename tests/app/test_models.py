"""The chapter's Net: batch-aware shapes, (p, 1 − p) outputs, gradients through the quantum layer, the control."""

from __future__ import annotations

import math

import pytest
import torch

import hqnn
from hqnn.app.config import RunConfig
from hqnn.app.models import Net, build_model


def test_chapter_layers_and_batch_shapes():
    net = Net(backend="analytic")
    assert (net.conv1.in_channels, net.conv1.out_channels, net.conv1.kernel_size) == (1, 6, (5, 5))
    assert (net.conv2.out_channels, net.fc1.in_features, net.fc1.out_features, net.fc2.out_features) == (16, 256, 64, 1)
    assert isinstance(net.dropout, torch.nn.Dropout2d) and isinstance(net.head, hqnn.Hybrid)
    net.eval()
    for batch in (1, 5):
        probs = net(torch.rand(batch, 1, 28, 28))
        assert probs.shape == (batch, 2)
        assert torch.allclose(probs.sum(-1), torch.ones(batch))


def test_hybrid_head_is_the_chapter_circuit():
    """Output 0 is P(1) = (1 + sin θ)/2 of the angle fc2 hands the circuit."""
    net = Net(backend="analytic").eval()
    x = torch.rand(3, 1, 28, 28)
    captured = {}
    net.fc2.register_forward_hook(lambda module, inputs, output: captured.setdefault("theta", output))
    probs = net(x)
    assert torch.allclose(probs[:, :1], (1 + torch.sin(captured["theta"])) / 2, atol=1e-6)


@pytest.mark.parametrize("backend", ["analytic", "aer"])
def test_gradients_reach_the_first_conv_layer(backend):
    net = Net(backend=backend, seed=1)  # default shots: 100 on Aer, exact on "analytic"
    loss = net(torch.rand(4, 1, 28, 28))[:, 0].sum()
    loss.backward()
    assert net.conv1.weight.grad is not None and float(net.conv1.weight.grad.abs().sum()) > 0


def test_classical_head_is_a_sigmoid():
    net = Net(head="classical").eval()
    assert isinstance(net.head, torch.nn.Sigmoid)
    x = torch.rand(2, 1, 28, 28)
    probs = net(x)
    theta = net.fc2(torch.relu(net.fc1(_features(net, x))))  # eval mode: dropout is the identity
    assert torch.allclose(probs[:, 0], torch.sigmoid(theta)[:, 0])


def _features(net: Net, x: torch.Tensor) -> torch.Tensor:
    x = torch.max_pool2d(torch.relu(net.conv1(x)), 2)
    return torch.max_pool2d(torch.relu(net.conv2(x)), 2).flatten(1)


def test_build_model_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = build_model(RunConfig(backend="analytic")), build_model(RunConfig(backend="analytic"))
    assert torch.equal(torch.rand(1), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = build_model(RunConfig(backend="analytic", seed=1))
    assert not torch.equal(a.fc1.weight, c.fc1.weight)


def test_bad_heads_and_class_counts():
    with pytest.raises(ValueError, match="unknown head 'quantum'"):
        Net(head="quantum")
    with pytest.raises(ValueError, match="at least 2 classes"):
        Net(n_classes=1)


def test_multi_qubit_model_for_more_digits():
    """Three digits, three qubits: angles → entangling circuit → ⟨Z⟩ → linear → softmax; gradients reach all."""
    net = build_model(RunConfig(digits=(0, 1, 2), qubits=3, reps=1, backend="analytic"))
    assert net.fc2.out_features == 3 and net.head.spec.n_outputs == 3 and net.head.spec.readout.kind == "z"
    assert net.head.weights.numel() == 2 * 2 * 3  # (reps + 1) · (ry, rz) · qubits
    probs = net(torch.rand(4, 1, 28, 28))
    assert probs.shape == (4, 3)
    torch.testing.assert_close(probs.sum(-1), torch.ones(4))
    probs[:, 0].sum().backward()
    assert float(net.head.weights.grad.abs().sum()) > 0 and float(net.conv1.weight.grad.abs().sum()) > 0
    control = build_model(RunConfig(digits=(0, 1, 2), qubits=3, backend="classical"))
    assert isinstance(control.head, torch.nn.Tanh) and control(torch.rand(2, 1, 28, 28)).shape == (2, 3)


def test_shift_reaches_the_layer():
    net = Net(backend="aer", shift=math.pi / 4)
    assert net.head.strategy.plan.shift == pytest.approx(math.pi / 4)
