"""``Hybrid``: the drop-in quantum layer. Input (..., n_in) → output (..., n_out), differentiated by the strategy
chosen when the layer is built (shift rule, closed form or reverse mode)."""

from __future__ import annotations

import math
from numbers import Integral
from collections.abc import Callable, Sequence

import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from torch import nn

from .circuits import CircuitSpec, chapter_circuit
from .backends import DEFAULT_SHOTS
from .cost import JobCost
from .executors import Executor
from .executors.jobs import AUTO, JobPolicy
from .randomness import SeedLike
from .memory import MIB, ResourceError, available_bytes, format_bytes, largest_fitting
from .strategies import Strategy, choose_strategy
from .autograd import check_finite
from .validation import check_positive_int, check_seed


#: Batches whose estimated peak memory is below this are not checked (no system query on the hot path).
MEMORY_CHECK_MIN = 64 * MIB


class Hybrid(nn.Module):
    """A parameterized circuit as a PyTorch layer, evaluated for a whole batch (and all shifts) in one job.

    ``Hybrid(AerSimulator(), 100, np.pi / 2)`` is the chapter's layer (H·RY(θ), output P(1)), for any batch.
    ``backend``: ``"aer"`` (default), ``"analytic"`` (exact), ``"emulator"``, an Aer backend, a Qiskit
    ``BaseSamplerV2`` or ``BaseEstimatorV2``, another ``BackendV2`` (a fake device), or an
    :class:`~hqnn.executors.Executor` (which brings its own circuit, shots and seed). ``shots=None`` is exact; the default is
    100 (the chapter's), or exact on ``"analytic"``, which refuses an explicit ``shots`` (it has none).
    What each name runs: :mod:`hqnn.backends`.
    ``circuit`` with ordered ``inputs`` (one per feature) and trainable ``weights`` replaces the chapter's
    circuit. Outputs: ``readout="p1"`` or ``"z"`` for each of ``qubits``; ``readout="probabilities"`` for their
    joint distribution (summed into classes by ``interpret``, as in SamplerQNN); or ``observables``, a list of
    Pauli operators (``SparsePauliOp``, or labels such as ``"ZZ"``), one ⟨O⟩ each.
    ``diff_method``: ``"auto"``, ``"shift"``, ``"reverse"``, ``"closed-form"``, or the shot-saving estimators
    ``"sampled-shift"`` and ``"spsa"`` with ``diff_options`` (``k``; ``c``, ``directions``; ``shift_shots``).
    ``max_memory`` (bytes) bounds one batch's estimated peak memory; ``None`` is what the machine (or the GPU)
    has available at the call. A shift-rule batch over it runs as jobs that each fit, one after another; any
    other batch over it raises ``ResourceError`` naming the largest batch that fits.
    ``max_executions``: circuits × shots one job may hold; a forward + backward above it is split by rows into
    the fewest jobs that fit, all submitted before any result is awaited. ``"auto"`` (default) is the
    provider's limit for IBM Runtime samplers (5,000,000) and no limit for local simulators; ``None``: no limit.
    ``retries``: resubmissions of a failed job (that job only), after ``backoff`` · 2^k seconds; after the last,
    ``RuntimeError`` names the job id(s) and the provider's message. ``cost(batch)`` counts jobs before running.
    Circuit weights are an ``nn.Parameter`` initialised uniformly in [0, 2π) (from ``seed`` when given).
    """

    def __init__(
        self,
        backend="aer",
        shots: int | None = DEFAULT_SHOTS,
        shift: float = math.pi / 2,
        *,
        circuit: QuantumCircuit | None = None,
        inputs: Sequence[Parameter] | None = None,
        weights: Sequence[Parameter] | None = None,
        readout: str = "p1",
        qubits: Sequence[int] | None = None,
        observables: Sequence | None = None,
        interpret: Callable[[int], int] | None = None,
        output_shape: int | None = None,
        seed: SeedLike = None,
        diff_method: str = "auto",
        max_memory: int | None = None,
        diff_options: dict | None = None,
        max_executions: int | None | str = AUTO,
        retries: int = 2,
        backoff: float = 1.0,
    ):
        super().__init__()
        custom = (circuit, inputs, weights, qubits, observables, interpret, output_shape)
        if isinstance(backend, Executor):
            if any(part is not None for part in custom):
                raise ValueError(
                    "an Executor brings its own circuit spec: do not also pass circuit, inputs, weights, "
                    "qubits, observables or interpret"
                )
            spec = backend.spec
        elif circuit is None:
            if any(part is not None for part in custom):
                raise ValueError(
                    "inputs/weights/qubits/observables/interpret describe a custom circuit: pass circuit= too"
                )
            spec = chapter_circuit(readout=readout)
        else:
            if inputs is None:
                raise ValueError("a custom circuit needs inputs=[...]: the parameters fed by the input features")
            spec = CircuitSpec.from_circuit(
                circuit, inputs, weights or (), readout, qubits, observables, interpret, output_shape
            )
        if max_memory is not None and (
            isinstance(max_memory, bool) or not isinstance(max_memory, Integral) or max_memory < 1
        ):
            raise ValueError(
                f"max_memory must be a positive number of bytes or None (what is available), got {max_memory!r}"
            )
        max_memory = None if max_memory is None else int(max_memory)
        self.max_memory = max_memory
        seed = check_seed(seed)
        self.strategy: Strategy = choose_strategy(backend, spec, shots, shift, seed, diff_method, diff_options)
        executor = getattr(self.strategy, "executor", None)
        if max_executions == AUTO:
            max_executions = getattr(executor, "default_max_executions", None)
        self.strategy.jobs = JobPolicy(max_executions, retries, backoff)
        if executor is not None:  # a row that alone exceeds max_executions is refused now, not at the first batch
            self.strategy.jobs.rows_per_job(executor.circuits_per_row, executor.shots)
        self.check_memory(1, torch.device("cpu"))  # e.g. more shots than one job can hold
        generator = torch.Generator().manual_seed(seed) if isinstance(seed, int) else None
        self.weights = nn.Parameter(  # no circuit weights: nothing to train (and nothing for DDP to wait for)
            torch.rand(spec.n_weights, generator=generator, dtype=torch.float64) * (2 * math.pi),
            requires_grad=spec.n_weights > 0,
        )

    @property
    def spec(self) -> CircuitSpec:
        return self.strategy.spec

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.spec
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"Hybrid expects a floating-point tensor, got {type(x).__name__} {getattr(x, 'dtype', '')}")
        if x.dim() == 0 or x.shape[-1] != spec.n_inputs:
            raise ValueError(
                f"Hybrid expects input of shape (..., {spec.n_inputs}) (one angle per circuit input), "
                f"got {tuple(x.shape)}"
            )
        lead = x.shape[:-1]
        flat = x if x.dim() == 2 else x.reshape(lead.numel(), spec.n_inputs)
        if not len(flat):  # an empty batch: empty outputs, still attached to x
            return (flat @ flat.new_zeros(spec.n_inputs, spec.n_outputs)).reshape(*lead, spec.n_outputs)
        if not torch.compiler.is_compiling():
            check_finite(flat, "Hybrid input")
            if spec.n_weights:
                check_finite(self.weights, "Hybrid circuit weights")
            self.check_memory(len(flat), flat.device)
        grad = torch.is_grad_enabled()
        out = self.strategy.outputs_of(flat, self.weights, grad and x.requires_grad, grad and self.weights.requires_grad)
        out = out.to(x.dtype)
        return out if x.dim() == 2 else out.reshape(*lead, spec.n_outputs)  # (B, n_in) in: (B, n_out) already

    def cost(self, batch: int, backward: bool = True) -> JobCost:
        """Jobs (after splitting by ``max_executions``), circuits and executions (circuits × shots) of one
        forward + backward of ``batch`` samples (the gradients this layer's parameters need), computed without
        running anything; ``backward=False``: a forward alone (evaluation)."""
        batch = check_positive_int(batch, "batch")
        need_inputs = backward  # a layer inside a network passes gradients on to its inputs
        need_weights = backward and self.weights.requires_grad
        previous = self.strategy.memory_rows
        try:
            try:
                self.check_memory(batch, torch.device("cpu"))  # jobs split to fit memory count too
            except ResourceError:
                self.strategy.memory_rows = None  # such a batch is refused when it runs
            return self.strategy.cost(batch, need_inputs, need_weights)
        finally:
            self.strategy.memory_rows = previous

    @property
    def jobs(self) -> JobPolicy:
        """How a forward + backward becomes jobs: ``max_executions``, ``retries`` and ``backoff``."""
        return self.strategy.jobs

    def check_memory(self, batch: int, device: torch.device) -> None:
        """Fit a batch of ``batch`` samples on ``device`` into ``max_memory`` (default: what is available): a
        shift-rule batch over it is split by rows into jobs that each fit and run one after another (the same
        splitting as ``max_executions``); another that does not fit raises :class:`~hqnn.memory.ResourceError`
        naming the largest batch that fits."""
        self.strategy.memory_rows = None
        needed = self.strategy.memory(batch, device)
        if needed < MEMORY_CHECK_MIN:
            return
        limit = self.max_memory if self.max_memory is not None else _available(device)
        if limit is None or needed <= limit:
            return
        rows = self.strategy.rows_within(batch, limit, device)
        if rows is not None:
            self.strategy.memory_rows = rows
            return
        largest = largest_fitting(lambda b: self.strategy.memory(b, device), limit, batch)
        fix = (
            f"split it into batches of at most {largest}"
            if largest
            else "even one sample does not fit: use fewer shots or qubits"
        )
        source = "max_memory is" if self.max_memory is not None else f"{device.type} memory available is"
        raise ResourceError(
            f"Hybrid ({self.spec.n_qubits} qubits, {self.strategy!r}): a batch of {batch} needs "
            f"~{format_bytes(needed)}, {source} {format_bytes(limit)}: {fix}, or raise max_memory (bytes)"
        )

    @property
    def executions(self) -> int:
        """Executions (circuits × shots) this layer's jobs have submitted so far."""
        return self.strategy.ledger.executions

    def rng_state(self) -> dict:
        """The state of this layer's shot-noise stream (a checkpoint keeps it; see :meth:`set_rng_state`)."""
        return self.strategy.stream.state()

    def set_rng_state(self, state: dict) -> None:
        """Continue the shot-noise stream from a state returned by :meth:`rng_state`."""
        self.strategy.stream.set_state(state)

    def extra_repr(self) -> str:
        spec = self.spec
        return (
            f"inputs={spec.n_inputs}, weights={spec.n_weights}, outputs={spec.n_outputs}, "
            f"readout={spec.readout.kind!r}, strategy={self.strategy!r}"
        )


def _available(device: torch.device) -> int | None:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return available_bytes()
