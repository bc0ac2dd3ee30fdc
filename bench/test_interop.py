"""Group ``qml-model``: qiskit-machine-learning's zz_feature_map + real_amplitudes model (⟨Z⊗Z⟩), B = 64,
1000 shots, forward + backward: its TorchConnector on Aer's EstimatorV2 against the same QNN moved to hqnn with
``from_qnn`` on an AerSimulator."""

from __future__ import annotations

import math

import pytest
import torch

from baselines import QML_HINT

BATCH, SHOTS = 64, 1000


@pytest.mark.parametrize("system", ["hqnn-aer", "qiskit-machine-learning"])
def test_qml_model(benchmark, system, smoke):
    pytest.importorskip("qiskit_machine_learning", reason=QML_HINT)
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import EstimatorV2
    from qiskit_machine_learning.connectors import TorchConnector

    from baselines import zz_real_amplitudes_qnn
    from hqnn import from_qnn

    batch = 4 if smoke else BATCH
    benchmark.group = "qml-model"
    benchmark.extra_info.update(system=system, batch=batch, samples=batch)
    # Aer's EstimatorV2 draws N(⟨O⟩, precision): precision 1/√shots is the spread of 1000 shots.
    estimator = EstimatorV2(options={"default_precision": 1 / math.sqrt(SHOTS), "run_options": {"seed": 0}})
    qnn = zz_real_amplitudes_qnn(estimator)
    if system == "hqnn-aer":
        model = from_qnn(qnn, AerSimulator(), SHOTS, seed=0)
    else:
        model = TorchConnector(qnn)
    x = torch.rand(batch, 2, generator=torch.Generator().manual_seed(0), requires_grad=True)

    def step():
        x.grad = None
        model(x).sum().backward()

    benchmark.pedantic(step, rounds=1 if smoke else 5, warmup_rounds=0 if smoke else 1)
    assert x.grad.shape == (batch, 2)
