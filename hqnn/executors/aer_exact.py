"""Exact expectations for any circuit spec: one Aer job with ``save_probabilities`` per measurement setting."""

from __future__ import annotations

import numpy as np
import torch
from qiskit import transpile
from qiskit_aer import AerSimulator

from ..circuits import CircuitSpec
from ..memory import aer_exact_job_bytes
from .aer_assembly import AssembledJobs, reuses_assembly
from .aer_job import bound_columns, run_bound
from .base import Executor, SeedLike, host_angles, to_device


class AerStatevectorExecutor(Executor):
    """Exact features (``shots=None``) from Aer; a backend with a noise model gives the exact noisy values
    (density matrix, readout errors applied as confusion matrices)."""

    def __init__(self, spec: CircuitSpec, backend=None, seed: SeedLike = None):
        super().__init__(spec, None, seed)
        self.backend = AerSimulator(method="statevector") if backend is None else backend
        noise = getattr(self.backend.options, "noise_model", None)
        # A noisy statevector run samples ONE noise trajectory, and so does a circuit with a reset: the density
        # matrix is the exact (noisy, or reset) state.
        non_unitary = any(inst.operation.name == "reset" for inst in spec.circuit.data)
        self._options = {"method": "density_matrix"} if noise is not None or non_unitary else {}
        self._jobs, self._confusions = [], []
        for setting in spec.readout.settings:
            # Transpile first (a device's basis has no save instruction), then save the measured physical qubits.
            circuit = transpile(spec.rotated(setting), self.backend)
            layout = circuit.layout
            where = layout.final_index_layout() if layout else range(circuit.num_qubits)
            physical = [where[q] for q in setting.qubits]
            circuit.save_probabilities(physical)
            self._jobs.append((circuit, bound_columns(circuit, spec.angles)))
            self._confusions.append(readout_confusion(noise, physical))
        self._assembled = AssembledJobs(self.backend) if reuses_assembly(self.backend) else None

    def memory(self, rows: int) -> int:
        width = self._jobs[0][0].num_qubits  # a device's width, after transpilation
        if self._options:  # a density matrix: 4**n entries, the size of a 2n-qubit statevector
            width *= 2
        return aer_exact_job_bytes(width, rows * len(self._jobs))

    @classmethod
    def planned_memory(cls, spec, shots, rows):
        return aer_exact_job_bytes(spec.n_qubits, rows * len(spec.readout.settings))

    def distributions(self, angles: np.ndarray) -> list[np.ndarray]:
        """Per setting, the joint probabilities (R, 2**m) of its measured qubits, bit i ↔ its qubit i."""
        results = run_bound(
            self.backend, self._jobs, angles, self._assembled, shots=1, seed_simulator=self.next_seed(), **self._options
        )
        out = []
        for i, (setting, confusion) in enumerate(zip(self.spec.readout.settings, self._confusions)):
            size = 2 ** len(setting.qubits)
            part = results[i * len(angles) : (i + 1) * len(angles)]
            joint = np.array([np.asarray(r.data.probabilities).reshape(size) for r in part])
            out.append(joint if confusion is None else apply_confusion(joint, confusion))
        return out

    def run(self, angles: torch.Tensor) -> torch.Tensor:
        joints = self.distributions(host_angles(angles))
        settings = self.spec.readout.settings
        return torch.cat([s.from_distribution(to_device(joint, angles)) for s, joint in zip(settings, joints)], 1)


def readout_confusion(noise_model, physical: list[int]) -> list[np.ndarray] | None:
    """Per-readout-qubit 2×2 matrices P(read m | true t) of a noise model's readout errors, or None if it has none."""
    if noise_model is None:
        return None
    default, local = None, {}
    for error in noise_model.to_dict()["errors"]:
        if error["type"] != "roerror":
            continue
        matrix = np.asarray(error["probabilities"], dtype=np.float64)
        if matrix.shape != (2, 2):
            raise ValueError("exact mode supports single-qubit readout errors only; use shots for correlated ones")
        if "gate_qubits" in error:
            local.update({tuple(q)[0]: matrix for q in error["gate_qubits"]})
        else:
            default = matrix
    matrices = [local.get(q, default) for q in physical]
    if all(m is None for m in matrices):
        return None
    return [np.eye(2) if m is None else m for m in matrices]


def apply_confusion(joint: np.ndarray, confusion: list[np.ndarray]) -> np.ndarray:
    """Measured joint probabilities (R, 2**n) from true ones and each readout bit's confusion matrix."""
    n = len(confusion)
    tensor = joint.reshape((len(joint),) + (2,) * n)
    for i, matrix in enumerate(confusion):
        axis = n - i  # bit i of the little-endian index is axis n - i (axis 0 is the row)
        tensor = np.moveaxis(np.moveaxis(tensor, axis, -1) @ matrix, -1, axis)
    return tensor.reshape(joint.shape)
