"""The chapter's hybrid CNN: two conv layers and two linear layers squeeze a digit to one angle θ, the
quantum layer turns θ into p = P(measure 1), and the output is the class probabilities (p, 1 − p).
``head="classical"`` puts a sigmoid where the circuit was: the control the chapter's "What now?" asks for.
With ``n_qubits > 1`` or more classes, n angles feed an entangling circuit whose ⟨Z⟩ readouts a linear layer
maps to the classes (the classical control: tanh in place of the circuit). That model has no dropout upstream of
the angles: the encoder is periodic, and dropout makes the angles at evaluation (dropout off) differ from those
trained on (by 2.65 rad on average in issue 16's collapsed run), which can carry them across π, where ⟨Z⟩ changes
sign: a model that is evaluated as a different function than the one trained. Without it both are one function.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..ansatz import angle_encoder, entangling_ansatz
from .config import RunConfig
from ..backends import DEFAULT_SHOTS
from ..layer import Hybrid

HEADS = ("hybrid", "classical")


class Net(nn.Module):
    """``Net()`` is the chapter's network for any batch: (B, 1, 28, 28) → (B, n_classes) probabilities.

    ``backend``, ``shots``, ``shift`` and ``seed`` go to :class:`hqnn.Hybrid` (ignored by the classical head).
    ``n_qubits = 1`` with two classes is the chapter's model; otherwise the multi-qubit model (module doc).
    """

    def __init__(
        self,
        head: str = "hybrid",
        backend="aer",
        shots: int | None = DEFAULT_SHOTS,
        shift: float = math.pi / 2,
        *,
        n_classes: int = 2,
        n_qubits: int = 1,
        reps: int = 2,
        seed: int | None = None,
        diff_method: str = "auto",
        diff_options: dict | None = None,
    ):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}: use one of {HEADS}")
        if n_classes < 2 or n_qubits < 1:
            raise ValueError(f"need at least 2 classes and 1 qubit, got {n_classes} classes and {n_qubits} qubits")
        self.n_classes = n_classes
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        chapter = n_qubits == 1 and n_classes == 2
        self.dropout = nn.Dropout2d() if chapter else nn.Identity()  # no dropout before the angles: module doc
        self.fc1 = nn.Linear(256, 64)
        self.fc2 = nn.Linear(64, n_qubits)
        if head == "classical":
            self.head = nn.Sigmoid() if chapter else nn.Tanh()
        elif chapter:
            self.head = Hybrid(backend, shots, shift, seed=seed, diff_method=diff_method, diff_options=diff_options)
        else:
            self.head = Hybrid(
                backend, shots, shift, **head_kwargs(n_qubits, reps), seed=seed,
                diff_method=diff_method, diff_options=diff_options,
            )
        self.classifier = None if chapter else nn.Linear(n_qubits, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(x)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = self.head(self.fc2(x))
        if self.classifier is None:
            return torch.cat((x, 1 - x), -1)
        return torch.softmax(self.classifier(x), -1)


def head_kwargs(n_qubits: int, reps: int) -> dict:
    """The multi-qubit head's circuit for :class:`hqnn.Hybrid`: angle encoder, entangling ansatz, ⟨Z⟩ per qubit."""
    circuit = angle_encoder(n_qubits).then(entangling_ansatz(n_qubits, reps))
    return {**circuit.hybrid_kwargs(), "readout": "z"}


@functools.lru_cache(maxsize=64)  # run admission scans qubit counts: each spec is built once
def head_spec(chapter_model: bool, n_qubits: int, reps: int):
    """The circuit spec of a run's quantum head (the chapter's, or the multi-qubit one), without a layer."""
    from ..circuits import CircuitSpec, chapter_circuit

    if chapter_model:
        return chapter_circuit()
    kwargs = head_kwargs(n_qubits, reps)
    return CircuitSpec.from_circuit(kwargs["circuit"], kwargs["inputs"], kwargs["weights"], kwargs["readout"])


def build_model(config: RunConfig, rank: int = 0) -> Net:
    """The network ``config`` describes, its weights drawn from ``config.seed`` (global RNG untouched).

    ``rank`` (a data-parallel process) offsets only the quantum layer's shot-noise seed.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return Net(
            config.head,
            config.backend,
            None if config.backend == "analytic" else config.shots,  # the README: --shots is ignored there
            config.shift,
            n_classes=config.n_classes,
            n_qubits=config.qubits,
            reps=config.reps,
            seed=config.seed + rank,
            diff_method=config.diff_method,
            diff_options=config.diff_options,
        )
