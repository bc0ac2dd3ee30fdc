"""The systems hqnn is timed against: the chapter's per-sample algorithm and qiskit-machine-learning.

Both compute the chapter's layer, P(1) of H·RY(θ) with 100 shots, forward and backward, as their authors
wrote it, ported to current Qiskit (``assemble`` is gone: ``parameter_binds`` go to ``backend.run``).
"""

from __future__ import annotations

import numpy as np
import qiskit
import torch
from qiskit import transpile
from qiskit_aer import AerSimulator
from torch.autograd import Function

QML_HINT = "qiskit-machine-learning is not installed: pip install -e '.[bench]' to time the peer baseline"


class ChapterCircuit:
    """The chapter's ``QuantumCircuit``: transpile and one job on every ``run``."""

    def __init__(self, n_qubits: int, backend, shots: int):
        self._circuit = qiskit.QuantumCircuit(n_qubits)
        self.theta = qiskit.circuit.Parameter("theta")
        self._circuit.h(range(n_qubits))
        self._circuit.barrier()
        self._circuit.ry(self.theta, range(n_qubits))
        self._circuit.measure_all()
        self.backend = backend
        self.shots = shots

    def run(self, thetas) -> np.ndarray:
        t_qc = transpile(self._circuit, self.backend)
        job = self.backend.run(t_qc, shots=self.shots, parameter_binds=[{self.theta: list(thetas)}])
        result = job.result().get_counts()
        counts = np.array(list(result.values()))
        states = np.array(list(result.keys())).astype(float)
        return np.array([np.sum(states * counts / self.shots)])


class ChapterFunction(Function):
    """The chapter's ``HybridFunction``: one job forward, two jobs per sample backward (its rule, as printed)."""

    @staticmethod
    def forward(ctx, inputs, quantum_circuit, shift):
        ctx.shift = shift
        ctx.quantum_circuit = quantum_circuit
        expectation_z = quantum_circuit.run(inputs[0].tolist())
        result = torch.tensor(np.array([expectation_z]))
        ctx.save_for_backward(inputs, result)
        return result

    @staticmethod
    def backward(ctx, grad_output):
        inputs, _ = ctx.saved_tensors
        input_list = np.array(inputs.tolist())
        shift_right = input_list + np.ones(input_list.shape) * ctx.shift
        shift_left = input_list - np.ones(input_list.shape) * ctx.shift
        gradients = []
        for i in range(len(input_list)):
            expectation_right = ctx.quantum_circuit.run(shift_right[i])
            expectation_left = ctx.quantum_circuit.run(shift_left[i])
            gradients.append(torch.tensor(np.array([expectation_right])) - torch.tensor(np.array([expectation_left])))
        gradients = np.array([g.numpy() for g in gradients]).T
        return torch.tensor(gradients).float() * grad_output.float(), None, None


def chapter_layer(shots: int = 100, shift: float = np.pi / 2):
    """``x (1, 1) → P(1)``: the chapter's ``Hybrid`` for one sample (it only supports batch 1), on an
    ``AerSimulator`` with one OpenMP thread (as hqnn's)."""
    circuit = ChapterCircuit(1, AerSimulator(max_parallel_threads=1), shots)
    return lambda x: ChapterFunction.apply(x, circuit, shift)


def qml_layer(shots: int = 100, seed: int = 0) -> torch.nn.Module:
    """qiskit-machine-learning's TorchConnector + SamplerQNN (parameter-shift sampler gradient) on Aer's
    SamplerV2; output P(1) of H·RY(θ) per sample."""
    from qiskit_aer.primitives import SamplerV2
    from qiskit_machine_learning.connectors import TorchConnector
    from qiskit_machine_learning.gradients import ParamShiftSamplerGradient
    from qiskit_machine_learning.neural_networks import SamplerQNN

    theta = qiskit.circuit.Parameter("theta")
    circuit = qiskit.QuantumCircuit(1)
    circuit.h(0)
    circuit.ry(theta, 0)
    circuit.measure_all()
    # One OpenMP thread, as hqnn's Aer jobs use: many small experiments, and threads only add overhead.
    sampler = SamplerV2(default_shots=shots, seed=seed, options={"backend_options": {"max_parallel_threads": 1}})
    qnn = SamplerQNN(
        circuit=circuit,
        sampler=sampler,
        input_params=[theta],
        weight_params=[],
        gradient=ParamShiftSamplerGradient(sampler),
        input_gradients=True,
    )
    return TorchConnector(qnn)


#: The multi-qubit benchmark circuit: an RY encoder, then LAYERS × (RY and RZ on every qubit, a CX chain).
LAYERS = 3
PENNYLANE_HINT = "pennylane is not installed: pip install -e '.[bench]' to time the PennyLane baseline"


def scale_circuit(n_qubits: int):
    """(circuit, inputs, weights) of the benchmark circuit, ⟨Z⟩ read on every qubit."""
    from qiskit.circuit import ParameterVector

    x, w = ParameterVector("x", n_qubits), ParameterVector("w", 2 * n_qubits * LAYERS)
    circuit = qiskit.QuantumCircuit(n_qubits)
    for q in range(n_qubits):
        circuit.ry(x[q], q)
    k = 0
    for _ in range(LAYERS):
        for gate in (circuit.ry, circuit.rz):
            for q in range(n_qubits):
                gate(w[k], q)
                k += 1
        for q in range(n_qubits - 1):
            circuit.cx(q, q + 1)
    return circuit, list(x), list(w)


def pennylane_layer(n_qubits: int):
    """The same circuit as a PennyLane ``default.qubit`` QNode, torch interface, backprop, inputs broadcast over
    the batch: ``f(x (B, n), w (2·n·LAYERS,)) → ⟨Z⟩ (B, n)``."""
    import pennylane as qml

    device = qml.device("default.qubit", wires=n_qubits)

    @qml.qnode(device, interface="torch", diff_method="backprop")
    def circuit(x, w):
        for q in range(n_qubits):
            qml.RY(x[..., q], wires=q)
        k = 0
        for _ in range(LAYERS):
            for gate in (qml.RY, qml.RZ):
                for q in range(n_qubits):
                    gate(w[k], wires=q)
                    k += 1
            for q in range(n_qubits - 1):
                qml.CNOT(wires=[q, q + 1])
        return [qml.expval(qml.PauliZ(q)) for q in range(n_qubits)]

    return lambda x, w: torch.stack(circuit(x, w), -1)


def zz_real_amplitudes_qnn(estimator):
    """qiskit-machine-learning's canonical model: ``zz_feature_map(2)`` then ``real_amplitudes(2)``, ⟨Z⊗Z⟩."""
    from qiskit.circuit.library import real_amplitudes, zz_feature_map
    from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient
    from qiskit_machine_learning.neural_networks import EstimatorQNN

    features, ansatz = zz_feature_map(2), real_amplitudes(2)
    return EstimatorQNN(
        circuit=features.compose(ansatz),
        estimator=estimator,
        input_params=list(features.parameters),
        weight_params=list(ansatz.parameters),
        gradient=ParamShiftEstimatorGradient(estimator),
        input_gradients=True,
    )
