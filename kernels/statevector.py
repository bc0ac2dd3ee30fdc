"""A statevector simulator for many rows of angles, with adjoint-method gradients, in numba.

A *program* is a list of operations: a fused run of single-qubit gates on one qubit (the product of its factors,
one 2×2 matrix per row), a dense gate on 2–3 qubits, or a permutation of the whole index space with phases (CX,
CZ, SWAP … merged). A factor is a constant matrix or a rotation A + cos(f·γ)·C + sin(f·γ)·S of one angle γ.
Each row's state stays in cache while every operation runs over it, with real and imaginary parts in separate
arrays so the loops vectorize. The backward pass walks the operations in reverse, undoing each on the state and
on the incoming gradient: no stored intermediate states, about three forward passes whatever the number of
angles. Amplitudes are little-endian: bit q of an index is qubit q.
"""

import numba
import numpy as np

#: Dense gates act on at most this many qubits (a d×d matrix, d = 2**k).
MAX_DENSE_QUBITS = 3
#: Operation kinds.
RUN, DENSE, PERMUTATION = 1, 2, 3
#: Rows × amplitudes from which numba's thread pool is used (below it, waking the pool costs more).
PARALLEL_MIN = 1 << 18

_D = 1 << MAX_DENSE_QUBITS


@numba.njit(cache=True, inline="always")
def _factor(f, r, trig_cos, trig_sin, rotation, frequency, pool_start, pool, d, out, derivative):
    """Factor f's matrix for row r into ``out`` (d×d), or its derivative by its angle."""
    start = pool_start[f]
    size = d * d
    k = rotation[f]
    if k < 0:
        for i in range(d):
            for j in range(d):
                out[i, j] = 0j if derivative else pool[start + i * d + j]
        return
    c, s = trig_cos[r, k], trig_sin[r, k]
    w = frequency[f]
    for i in range(d):
        for j in range(d):
            cm, sm = pool[start + size + i * d + j], pool[start + 2 * size + i * d + j]
            if derivative:
                out[i, j] = w * (-s * cm + c * sm)
            else:
                out[i, j] = pool[start + i * d + j] + c * cm + s * sm


@numba.njit(cache=True, inline="always")
def _matmul2(a, b, out):
    """out = a @ b for 2×2 matrices (out may not alias a or b)."""
    for i in range(2):
        for j in range(2):
            out[i, j] = a[i, 0] * b[0, j] + a[i, 1] * b[1, j]


@numba.njit(cache=True)
def _apply1(re, im, n, q, m, adjoint):
    """Apply the 2×2 matrix m (or m†) to qubit q."""
    if adjoint:
        a, b, c, d = np.conj(m[0, 0]), np.conj(m[1, 0]), np.conj(m[0, 1]), np.conj(m[1, 1])
    else:
        a, b, c, d = m[0, 0], m[0, 1], m[1, 0], m[1, 1]
    ar, ai, br, bi, cr, ci, dr, di = a.real, a.imag, b.real, b.imag, c.real, c.imag, d.real, d.imag
    stride = 1 << q
    for hi in range(0, 1 << n, 2 * stride):
        for i in range(hi, hi + stride):
            j = i + stride
            xr, xi, yr, yi = re[i], im[i], re[j], im[j]
            re[i] = ar * xr - ai * xi + br * yr - bi * yi
            im[i] = ar * xi + ai * xr + br * yi + bi * yr
            re[j] = cr * xr - ci * xi + dr * yr - di * yi
            im[j] = cr * xi + ci * xr + dr * yi + di * yr


@numba.njit(cache=True)
def _overlaps1(lre, lim, sre, sim, n, q, derivatives, count, out):
    """out[i] = Re ⟨l| D_i on qubit q |s⟩ for the ``count`` 2×2 matrices ``derivatives[i]``, in one pass."""
    stride = 1 << q
    for t in range(count):
        out[t] = 0.0
    for hi in range(0, 1 << n, 2 * stride):
        for i in range(hi, hi + stride):
            j = i + stride
            x = complex(sre[i], sim[i])
            y = complex(sre[j], sim[j])
            u = complex(lre[i], -lim[i])
            v = complex(lre[j], -lim[j])
            for t in range(count):
                m = derivatives[t]
                out[t] += (u * (m[0, 0] * x + m[0, 1] * y) + v * (m[1, 0] * x + m[1, 1] * y)).real


@numba.njit(cache=True, inline="always")
def _base(b, ordered, k):
    """The b-th index whose bits at the sorted qubits ``ordered[:k]`` are all zero."""
    for i in range(k):
        q = ordered[i]
        b = ((b >> q) << (q + 1)) | (b & ((1 << q) - 1))
    return b


@numba.njit(cache=True)
def _apply_dense(re, im, n, offsets, ordered, k, m, adjoint, amps):
    """Apply the d×d matrix m (or m†) to the gate's qubits (local state j at index base + offsets[j])."""
    d = 1 << k
    for b in range((1 << n) >> k):
        base = _base(b, ordered, k)
        for j in range(d):
            amps[j] = complex(re[base + offsets[j]], im[base + offsets[j]])
        for i in range(d):
            total = 0j
            for j in range(d):
                total += (np.conj(m[j, i]) if adjoint else m[i, j]) * amps[j]
            re[base + offsets[i]] = total.real
            im[base + offsets[i]] = total.imag


@numba.njit(cache=True)
def _overlap_dense(lre, lim, sre, sim, n, offsets, ordered, k, m, amps):
    """Re ⟨l| M on the gate's qubits |s⟩."""
    d = 1 << k
    total = 0.0
    for b in range((1 << n) >> k):
        base = _base(b, ordered, k)
        for j in range(d):
            amps[j] = complex(sre[base + offsets[j]], sim[base + offsets[j]])
        for i in range(d):
            value = 0j
            for j in range(d):
                value += m[i, j] * amps[j]
            total += (complex(lre[base + offsets[i]], -lim[base + offsets[i]]) * value).real
    return total


@numba.njit(cache=True)
def _permute(re, im, source, phase, phased, scratch_re, scratch_im, adjoint):
    """new[i] = phase[i]·old[source[i]], or its inverse old[source[i]] = conj(phase[i])·new[i]."""
    size = len(source)
    scratch_re[:size] = re[:size]
    scratch_im[:size] = im[:size]
    for i in range(size):
        if adjoint:
            xr, xi = scratch_re[i], scratch_im[i]
            if phased:
                p = np.conj(phase[i])
                xr, xi = p.real * xr - p.imag * xi, p.real * xi + p.imag * xr
            re[source[i]], im[source[i]] = xr, xi
        else:
            xr, xi = scratch_re[source[i]], scratch_im[source[i]]
            if phased:
                p = phase[i]
                xr, xi = p.real * xr - p.imag * xi, p.real * xi + p.imag * xr
            re[i], im[i] = xr, xi


@numba.njit(cache=True)
def _op_matrix(o, r, op_first, op_last, op_dim, trig_cos, trig_sin, rotation, frequency, pool_start, pool,
               out, tmp, factor):
    """Operation o's matrix for row r: the product of its factors (a run), or its single factor (dense)."""
    d = op_dim[o]
    _factor(op_first[o], r, trig_cos, trig_sin, rotation, frequency, pool_start, pool, d, out, False)
    for f in range(op_first[o] + 1, op_last[o]):
        _factor(f, r, trig_cos, trig_sin, rotation, frequency, pool_start, pool, 2, factor, False)
        _matmul2(factor, out, tmp)
        out[:2, :2] = tmp[:2, :2]


@numba.njit(cache=True)
def _forward_row(r, n, kind, op_qubit, op_first, op_last, op_dim, op_offsets, op_ordered, perm_start, phase_start,
                 rotation, frequency, pool_start, pool, perm_pool, phase_pool, trig_cos, trig_sin, states, work):
    size = 1 << n
    re, im, scratch_re, scratch_im, sre, sim, matrix, derivative, tmp, factor, suffix, prefix, derivatives, which, \
        values, amps = work
    re[:] = 0.0
    im[:] = 0.0
    re[0] = 1.0
    for o in range(len(kind)):
        if kind[o] == PERMUTATION:
            start, phased = perm_start[o], phase_start[o] >= 0
            _permute(re, im, perm_pool[start : start + size], phase_pool[max(phase_start[o], 0) :], phased,
                     scratch_re, scratch_im, False)
            continue
        _op_matrix(o, r, op_first, op_last, op_dim, trig_cos, trig_sin, rotation, frequency, pool_start, pool,
                   matrix, tmp, factor)
        if kind[o] == RUN:
            _apply1(re, im, n, op_qubit[o], matrix, False)
        else:
            _apply_dense(re, im, n, op_offsets[o], op_ordered[o], op_qubit[o], matrix, False, amps)
    for i in range(size):
        states[r, i] = complex(re[i], im[i])


@numba.njit(cache=True)
def _backward_row(r, n, kind, op_qubit, op_first, op_last, op_dim, op_offsets, op_ordered, perm_start, phase_start,
                  rotation, frequency, pool_start, pool, perm_pool, phase_pool, trig_cos, trig_sin,
                  states, grads, out, work):
    size = 1 << n
    lre, lim, scratch_re, scratch_im, sre, sim, matrix, derivative, tmp, factor, suffix, prefix, derivatives, which, \
        values, amps = work
    for i in range(size):
        sre[i], sim[i] = states[r, i].real, states[r, i].imag
        lre[i], lim[i] = grads[r, i].real, grads[r, i].imag
    for o in range(len(kind) - 1, -1, -1):
        if kind[o] == PERMUTATION:
            start, phased = perm_start[o], phase_start[o] >= 0
            phases = phase_pool[max(phase_start[o], 0) :]
            _permute(sre, sim, perm_pool[start : start + size], phases, phased, scratch_re, scratch_im, True)
            _permute(lre, lim, perm_pool[start : start + size], phases, phased, scratch_re, scratch_im, True)
            continue
        _op_matrix(o, r, op_first, op_last, op_dim, trig_cos, trig_sin, rotation, frequency, pool_start, pool,
                   matrix, tmp, factor)
        if kind[o] == DENSE:
            k = op_qubit[o]
            _apply_dense(sre, sim, n, op_offsets[o], op_ordered[o], k, matrix, True, amps)
            f = op_first[o]
            if rotation[f] >= 0:
                _factor(f, r, trig_cos, trig_sin, rotation, frequency, pool_start, pool, op_dim[o], derivative, True)
                out[r, rotation[f]] += _overlap_dense(lre, lim, sre, sim, n, op_offsets[o], op_ordered[o], k,
                                                      derivative, amps)
            _apply_dense(lre, lim, n, op_offsets[o], op_ordered[o], k, matrix, True, amps)
            continue
        q = op_qubit[o]
        _apply1(sre, sim, n, q, matrix, True)  # the state before the run
        # prefix[t] = F_t … F_1 (prefix[0] = I); the run is F_m … F_1 applied right to left.
        first, last = op_first[o], op_last[o]
        prefix[0, 0, 0], prefix[0, 0, 1], prefix[0, 1, 0], prefix[0, 1, 1] = 1.0, 0.0, 0.0, 1.0
        for t in range(last - first):
            _factor(first + t, r, trig_cos, trig_sin, rotation, frequency, pool_start, pool, 2, factor, False)
            _matmul2(factor, prefix[t], prefix[t + 1])
        count = 0
        suffix[0, 0], suffix[0, 1], suffix[1, 0], suffix[1, 1] = 1.0, 0.0, 0.0, 1.0
        for t in range(last - first - 1, -1, -1):  # suffix = F_m … F_{t+2}, then D_t = suffix · dF_t · prefix[t]
            f = first + t
            if rotation[f] >= 0:
                _factor(f, r, trig_cos, trig_sin, rotation, frequency, pool_start, pool, 2, factor, True)
                _matmul2(factor, prefix[t], tmp)
                _matmul2(suffix, tmp, derivatives[count])
                which[count] = rotation[f]
                count += 1
            _factor(f, r, trig_cos, trig_sin, rotation, frequency, pool_start, pool, 2, factor, False)
            _matmul2(suffix, factor, tmp)
            suffix[:, :] = tmp
        if count:
            _overlaps1(lre, lim, sre, sim, n, q, derivatives, count, values)
            for t in range(count):
                out[r, which[t]] += values[t]
        _apply1(lre, lim, n, q, matrix, True)


@numba.njit(cache=True)
def _workspace(n, max_run):
    """Per-row buffers: two states (real and imaginary parts), their scratch, and small matrices."""
    size = 1 << n
    return (np.empty(size), np.empty(size), np.empty(size), np.empty(size), np.empty(size), np.empty(size),
            np.empty((_D, _D), dtype=np.complex128), np.empty((_D, _D), dtype=np.complex128),
            np.empty((2, 2), dtype=np.complex128), np.empty((2, 2), dtype=np.complex128),
            np.empty((2, 2), dtype=np.complex128), np.empty((max_run + 1, 2, 2), dtype=np.complex128),
            np.empty((max_run, 2, 2), dtype=np.complex128), np.empty(max_run, dtype=np.int64), np.empty(max_run),
            np.empty(_D, dtype=np.complex128))


@numba.njit(cache=True)
def _forward_serial(n, kind, op_qubit, op_first, op_last, op_dim, op_offsets, op_ordered, perm_start, phase_start, rotation, frequency, pool_start, pool, perm_pool, phase_pool, max_run, trig_cos, trig_sin, states):
    work = _workspace(n, max_run)
    for r in range(len(states)):
        _forward_row(r, n, kind, op_qubit, op_first, op_last, op_dim, op_offsets, op_ordered, perm_start, phase_start, rotation, frequency, pool_start, pool, perm_pool, phase_pool, trig_cos, trig_sin, states, work)


@numba.njit(cache=True, parallel=True)
def _forward_parallel(n, kind, op_qubit, op_first, op_last, op_dim, op_offsets, op_ordered, perm_start, phase_start, rotation, frequency, pool_start, pool, perm_pool, phase_pool, max_run, trig_cos, trig_sin, states):
    for r in numba.prange(len(states)):
        _forward_row(r, n, kind, op_qubit, op_first, op_last, op_dim, op_offsets, op_ordered, perm_start, phase_start, rotation, frequency, pool_start, pool, perm_pool, phase_pool, trig_cos, trig_sin, states, _workspace(n, max_run))


@numba.njit(cache=True)
def _backward_serial(n, kind, op_qubit, op_first, op_last, op_dim, op_offsets, op_ordered, perm_start, phase_start, rotation, frequency, pool_start, pool, perm_pool, phase_pool, max_run, trig_cos, trig_sin, states, grads, out):
    work = _workspace(n, max_run)
    for r in range(len(states)):
        _backward_row(r, n, kind, op_qubit, op_first, op_last, op_dim, op_offsets, op_ordered, perm_start, phase_start, rotation, frequency, pool_start, pool, perm_pool, phase_pool, trig_cos, trig_sin, states, grads, out, work)


@numba.njit(cache=True, parallel=True)
def _backward_parallel(n, kind, op_qubit, op_first, op_last, op_dim, op_offsets, op_ordered, perm_start, phase_start, rotation, frequency, pool_start, pool, perm_pool, phase_pool, max_run, trig_cos, trig_sin, states, grads, out):
    for r in numba.prange(len(states)):
        _backward_row(r, n, kind, op_qubit, op_first, op_last, op_dim, op_offsets, op_ordered, perm_start, phase_start, rotation, frequency, pool_start, pool, perm_pool, phase_pool, trig_cos, trig_sin, states, grads, out, _workspace(n, max_run))


class Program:
    """Operations as flat arrays for the kernels (see the module docstring).

    Build it from ``runs`` and gates with :meth:`add_run`, :meth:`add_dense` and :meth:`add_permutation`; a
    factor is a constant matrix, or ``((A, C, S), frequency, column)`` for a rotation of angle column ``column``.
    """

    def __init__(self, n_qubits: int):
        self.n_qubits = n_qubits
        self._ops: list[tuple] = []
        self._factors: list[tuple] = []  # (rotation index or −1, frequency, pool offset)
        self._pool: list[np.ndarray] = []
        self._pool_size = 0
        self._rotations: list[tuple[int, float]] = []  # (angle column, frequency) of each rotation factor
        self._perms: list[np.ndarray] = []
        self._phases: list[np.ndarray] = []
        self._arrays = None

    def _factor(self, factor) -> int:
        if isinstance(factor, np.ndarray):
            matrices, rotation, frequency = [factor], -1, 0.0
        else:
            (a, c, s), frequency, column = factor
            matrices, rotation = [a, c, s], len(self._rotations)
            self._rotations.append((column, frequency))
        self._factors.append((rotation, frequency, self._pool_size))
        for m in matrices:
            m = np.asarray(m, dtype=np.complex128).reshape(-1)
            self._pool.append(m)
            self._pool_size += m.size
        return len(self._factors) - 1

    def add_run(self, qubit: int, factors: list) -> None:
        """Single-qubit factors on ``qubit``, in circuit order."""
        first = len(self._factors)
        for factor in factors:
            self._factor(factor)
        self._ops.append((RUN, qubit, first, len(self._factors), 2, (), ()))

    def add_dense(self, qubits: list[int], factor) -> None:
        """One gate on 2–3 ``qubits`` (bit j of its matrix index ↔ qubits[j])."""
        if len(qubits) > MAX_DENSE_QUBITS:
            raise ValueError(f"gates on more than {MAX_DENSE_QUBITS} qubits are not supported, got {len(qubits)}")
        first = self._factor(factor)
        local = np.arange(1 << len(qubits))
        offsets = sum(((local >> i) & 1) << q for i, q in enumerate(qubits))
        self._ops.append((DENSE, len(qubits), first, first + 1, 1 << len(qubits), offsets, sorted(qubits)))

    def add_permutation(self, source: np.ndarray, phase: np.ndarray | None) -> None:
        """new[i] = phase[i]·old[source[i]] over the whole index space."""
        self._perms.append(np.asarray(source, dtype=np.int64))
        self._phases.append(None if phase is None else np.asarray(phase, dtype=np.complex128))
        self._ops.append((PERMUTATION, len(self._perms) - 1, 0, 0, 0, (), ()))

    def arrays(self) -> tuple:
        if self._arrays is None:
            self._arrays = self._build()
        return self._arrays

    def _build(self) -> tuple:
        count = len(self._ops)
        kind = np.array([op[0] for op in self._ops], dtype=np.int64)
        op_qubit = np.array([op[1] for op in self._ops], dtype=np.int64)
        op_first = np.array([op[2] for op in self._ops], dtype=np.int64)
        op_last = np.array([op[3] for op in self._ops], dtype=np.int64)
        op_dim = np.array([op[4] for op in self._ops], dtype=np.int64)
        op_offsets = np.zeros((count, _D), dtype=np.int64)
        op_ordered = np.zeros((count, MAX_DENSE_QUBITS), dtype=np.int64)
        perm_start = np.full(count, -1, dtype=np.int64)
        phase_start = np.full(count, -1, dtype=np.int64)
        perm_offset = phase_offset = 0
        for o, op in enumerate(self._ops):
            op_offsets[o, : len(op[5])] = op[5]
            op_ordered[o, : len(op[6])] = op[6]
            if op[0] == PERMUTATION:
                perm_start[o] = perm_offset
                perm_offset += 1 << self.n_qubits
                if self._phases[op[1]] is not None:
                    phase_start[o] = phase_offset
                    phase_offset += 1 << self.n_qubits
        factors = np.array(self._factors, dtype=np.float64).reshape(-1, 3)
        rotation = factors[:, 0].astype(np.int64)
        frequency = factors[:, 1].copy()
        pool_start = factors[:, 2].astype(np.int64)
        pool = np.concatenate(self._pool) if self._pool else np.zeros(1, dtype=np.complex128)
        perm_pool = np.concatenate(self._perms) if self._perms else np.zeros(1, dtype=np.int64)
        phases = [p for p in self._phases if p is not None]
        phase_pool = np.concatenate(phases) if phases else np.zeros(1, dtype=np.complex128)
        runs = [op[3] - op[2] for op in self._ops if op[0] == RUN]
        max_run = max(runs, default=1)
        trig = np.array(self._rotations, dtype=np.float64).reshape(-1, 2)
        program = (self.n_qubits, kind, op_qubit, op_first, op_last, op_dim, op_offsets, op_ordered, perm_start,
                   phase_start, rotation, frequency, pool_start, pool, perm_pool, phase_pool)
        return program, max_run, trig[:, 0].astype(np.int64), trig[:, 1]

    def _trig(self, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """cos and sin of frequency·angle for every rotation factor and row, (R, n_rotations) each."""
        _, _, columns, frequencies = self.arrays()
        phases = angles[:, columns] * frequencies
        return np.ascontiguousarray(np.cos(phases)), np.ascontiguousarray(np.sin(phases))

    def states(self, angles: np.ndarray) -> np.ndarray:
        """Final states (R, 2**n) complex128 of every row of ``angles`` (R, K) float64."""
        angles = np.asarray(angles, dtype=np.float64)
        program, max_run, _, _ = self.arrays()
        states = np.empty((len(angles), 1 << self.n_qubits), dtype=np.complex128)
        kernel = _forward_parallel if states.size >= PARALLEL_MIN else _forward_serial
        kernel(*program, max_run, *self._trig(angles), states)
        return states

    def angle_gradients(self, angles: np.ndarray, states: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """dL/dγ (R, K) from the final ``states`` and ``grads`` = dL/dRe ψ + i·dL/dIm ψ (torch's convention)."""
        angles = np.asarray(angles, dtype=np.float64)
        program, max_run, columns, _ = self.arrays()
        per_rotation = np.zeros((len(angles), len(columns)))
        kernel = _backward_parallel if states.size >= PARALLEL_MIN else _backward_serial
        kernel(*program, max_run, *self._trig(angles), np.ascontiguousarray(states, dtype=np.complex128),
               np.ascontiguousarray(grads, dtype=np.complex128), per_rotation)
        out = np.zeros(angles.shape)
        np.add.at(out, (slice(None), columns), per_rotation)
        return out
