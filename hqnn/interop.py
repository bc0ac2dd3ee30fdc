"""Bring a qiskit-machine-learning model over unchanged: :func:`from_qnn` reads an ``EstimatorQNN`` or
``SamplerQNN`` (circuit, input and weight parameters, observables or interpret) and builds the ``Hybrid`` that
computes the same function, on the QNN's own primitive unless told otherwise."""

from __future__ import annotations

import numpy as np
import torch
from qiskit import QuantumCircuit

from .layer import Hybrid
from .randomness import SeedLike

#: Shots for a sampler that does not say how many it takes by default.
DEFAULT_SHOTS = 1024


def from_qnn(
    qnn, backend=None, shots: int | None = None, *, seed: SeedLike = None, initial_weights=None, **options
) -> Hybrid:
    """A :class:`~hqnn.Hybrid` with ``qnn``'s circuit, parameters and outputs.

    ``qnn``: an ``EstimatorQNN`` (outputs ⟨O⟩ for its observables; Z⊗…⊗Z by default) or a ``SamplerQNN``
    (outputs the joint distribution of its measured qubits, or the classes of its ``interpret``).
    ``backend`` defaults to the QNN's estimator or sampler; ``shots`` to exact for an estimator and to the
    sampler's ``default_shots`` for a sampler. ``initial_weights`` (like ``TorchConnector``'s) sets
    ``layer.weights``; other ``options`` (``shift``, ``diff_method``) go to ``Hybrid``.
    """
    if not (hasattr(qnn, "circuit") and hasattr(qnn, "input_params") and hasattr(qnn, "weight_params")):
        raise TypeError(f"expected a qiskit-machine-learning EstimatorQNN or SamplerQNN, got {type(qnn).__name__}")
    circuit = qnn.circuit
    kwargs = {"circuit": circuit, "inputs": list(qnn.input_params), "weights": list(qnn.weight_params)}
    if hasattr(qnn, "observables"):
        primitive = getattr(qnn, "estimator", None)
        kwargs["observables"] = list(qnn.observables)
    elif hasattr(qnn, "interpret"):
        primitive = getattr(qnn, "sampler", None)
        kwargs.update(readout="probabilities", qubits=measured_qubits(circuit))
        if qnn.interpret is not None:
            shape = tuple(np.atleast_1d(qnn.output_shape))
            if len(shape) != 1:
                raise ValueError(f"interpret with output_shape {shape}: hqnn's outputs are one vector per sample")
            kwargs.update(interpret=qnn.interpret, output_shape=int(shape[0]))
        if backend is None and shots is None:
            shots = getattr(primitive, "default_shots", None) or DEFAULT_SHOTS
    else:
        raise TypeError(f"expected a qiskit-machine-learning EstimatorQNN or SamplerQNN, got {type(qnn).__name__}")
    layer = Hybrid(primitive if backend is None else backend, shots, **kwargs, seed=seed, **options)
    if initial_weights is not None:
        values = torch.as_tensor(np.asarray(initial_weights, dtype=np.float64))
        if values.shape != layer.weights.shape:
            raise ValueError(
                f"initial_weights has shape {tuple(values.shape)}, the QNN has {layer.spec.n_weights} weights"
            )
        with torch.no_grad():
            layer.weights.copy_(values)
    return layer


def measured_qubits(circuit: QuantumCircuit) -> tuple[int, ...]:
    """The qubit read into each classical bit, in bit order (all qubits if the circuit measures none, as
    SamplerQNN then adds ``measure_all``)."""
    measured = {}
    for inst in circuit.data:
        if inst.operation.name == "measure":
            qubit = circuit.find_bit(inst.qubits[0]).index
            if qubit in measured.values():
                raise ValueError(
                    f"the QNN's circuit measures qubit {qubit} more than once (a mid-circuit measurement): hqnn "
                    "reads each measured qubit once, at the end; keep only the final measurement of each qubit"
                )
            measured[circuit.find_bit(inst.clbits[0]).index] = qubit
    if not measured:
        return tuple(range(circuit.num_qubits))
    if sorted(measured) != list(range(circuit.num_clbits)):
        raise ValueError("every classical bit must hold one measurement for the outcome index to be defined")
    return tuple(measured[bit] for bit in range(circuit.num_clbits))
