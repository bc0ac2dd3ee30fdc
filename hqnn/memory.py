"""Memory estimates of the engine's jobs (statevectors, shots) from their sizes alone, and what this machine has
available, so a layer refuses a batch that cannot fit before any work starts. The constants are measurements of
hqnn's executors on CPython 3.11, numpy 2, torch 2.14, Aer 0.18."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

MIB, GIB = 2**20, 2**30
#: Peak of a reverse-mode forward + backward over its ``batch × 2**n`` complex amplitudes on the CPU: the final
#: states, their gradient and the readout's probabilities and their gradients (high-water mark of a fresh
#: process with large blocks mapped straight from the kernel: 4.1× at 12 and 14 qubits, 5.2× at 16). On a GPU
#: autograd also keeps every step's state: one more copy per simulation step.
REVERSE_COPIES = 6
#: Each further measurement setting (a basis of grouped observables) rotates and reads its own copy of the states
#: (measured 1.2× one batch of states per extra setting at 15 qubits, B = 128: 3 settings peaked at 7.5×).
SETTING_COPIES = 2
#: Peak of an exact or emulated job over its rows' ``rows × 2**n`` amplitudes: the states, probabilities and the
#: multinomial's partial sums (measured the same way: 3.0–3.3× at 6–10 qubits, 7,000–22,000 rows).
ROWS_COPIES = 4
#: Peak of an exact Aer job (``save_probabilities``): a fixed ~21× one statevector (results held as Python
#: objects) plus ~1.3–1.6× per bound row (measured at 18 to 24 qubits).
AER_EXACT_COPIES, AER_EXACT_ROW_COPIES = 24, 2
#: Aer shots: about one statevector per running experiment (measured 1.0–1.1× at 20–22 qubits, 2× allowed
#: for two experiments in flight), 120 bytes per shot while an experiment samples (measured at 10**6–10**7
#: shots), and ~210 bytes per distinct outcome kept in a job's counts.
AER_SHOT_COPIES, AER_SHOT_BYTES, AER_OUTCOME_BYTES = 2, 128, 256


class ResourceError(ValueError):
    """A run or layer needs more than this machine has; the message names the largest value that fits."""


def statevector_bytes(n_qubits: int, rows: int = 1, complex_bytes: int = 16) -> int:
    """Bytes of ``rows`` statevectors of ``n_qubits`` qubits (``2**n_qubits`` amplitudes each)."""
    return rows * 2**n_qubits * complex_bytes


def shift_rows(batch: int, n_angles: int) -> int:
    """Circuit rows of one training step: each sample's base row and two shifted rows per angle."""
    return batch * (1 + 2 * n_angles)


def reverse_mode_bytes(n_qubits: int, batch: int, steps_kept: int = 0, settings: int = 1) -> int:
    """Peak memory of a reverse-mode forward + backward of ``batch`` samples (``steps_kept``: states autograd
    keeps, the torch simulator's steps on a GPU; none with the CPU kernels; ``settings``: measurement settings
    of the readout, each one more rotated copy)."""
    copies = REVERSE_COPIES + steps_kept + SETTING_COPIES * (settings - 1)
    return copies * statevector_bytes(n_qubits, batch)


def readout_bytes(n_features: int, n_outputs: int, batch: int, device_copy: bool = False) -> int:
    """The readout's affine map outputs = features @ matrix + offset, differentiated: a few (batch ×
    features/outputs) arrays, and with ``device_copy`` the dense float64 matrix (a joint distribution of m qubits
    has 4**m entries) copied to another device. On the host the spec holds the matrix already (float32 keeps one
    converted copy, made once), so a batch allocates none."""
    return 8 * ((n_features * n_outputs if device_copy else 0) + 4 * batch * (n_features + n_outputs))


def rows_job_bytes(n_qubits: int, rows: int) -> int:
    """Peak memory of an exact or emulated job of ``rows`` statevector rows (shift-rule rows included)."""
    return ROWS_COPIES * statevector_bytes(n_qubits, rows)


def aer_exact_job_bytes(n_qubits: int, rows: int) -> int:
    """Peak memory of an exact Aer job (``save_probabilities``) of ``rows`` bound rows."""
    return (AER_EXACT_COPIES + AER_EXACT_ROW_COPIES * rows) * statevector_bytes(n_qubits)


def aer_shot_job_bytes(n_qubits: int, rows: int, shots: int, readout_bits: int) -> int:
    """Peak memory of an Aer shot job of ``rows`` experiments on ``n_qubits`` (all copies packed)."""
    outcomes = min(shots, 2**readout_bits)
    return AER_SHOT_COPIES * statevector_bytes(n_qubits) + AER_SHOT_BYTES * shots + AER_OUTCOME_BYTES * rows * outcomes


def available_bytes() -> int | None:
    """Memory a new allocation can get: /proc/meminfo's MemAvailable, capped by a cgroup memory limit (a
    container's); else the free physical pages that ``os.sysconf`` reports; ``None`` if the system tells neither."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except OSError:
        pass
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    for limit_file, usage_file in (
        ("memory.max", "memory.current"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
    ):
        try:
            limit = int(Path("/sys/fs/cgroup", limit_file).read_text())
            usage = int(Path("/sys/fs/cgroup", usage_file).read_text())
        except (OSError, ValueError):  # no such cgroup file, or "max" (no limit)
            continue
        available = min(available, max(0, limit - usage))
    return available


def format_bytes(n: float) -> str:
    """``n`` bytes in MiB below a GiB, GiB below 2^70 (``'512 MiB'``, ``'16.0 GiB'``), else as a power of two
    (``'2^5004.0 bytes'``: a statevector of thousands of qubits is an integer no float holds)."""
    if n < GIB:
        return f"{n / MIB:.0f} MiB"
    if n < 2**70:
        return f"{n / GIB:,.1f} GiB"
    return f"2^{math.log2(n):.1f} bytes"


def largest_fitting(cost: Callable[[int], int], limit: int, below: int) -> int | None:
    """The largest ``v`` in ``1 .. below - 1`` with ``cost(v) <= limit`` (``cost`` rising with ``v``), or None."""
    low, high = 0, below  # cost(low) fits (or low is 0), cost(high) does not
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if cost(middle) <= limit else (low, middle)
    return low or None
