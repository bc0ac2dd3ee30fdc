"""A statevector simulator for many rows of angles, with adjoint-method gradients, in numba.

A *program* is a list of operations: a fused run of single-qubit gates on one qubit (the product of its factors,
one 2×2 matrix per row), a dense gate on 2–3 qubits, or a permutation of the whole index space with phases (CX,
CZ, SWAP … merged). A factor is a constant matrix or a rotation A + cos(f·γ)·C + sin(f·γ)·S of one angle γ.

Rows are simulated a chunk at a time, amplitude-major (amplitude i of every row of the chunk side by side, real
and imaginary parts apart), so every loop runs over contiguous rows and vectorizes while the chunk stays in
cache. The backward pass walks the operations in reverse, undoing each on the state and on the incoming gradient:
no stored intermediate states, about three forward passes whatever the number of angles. Amplitudes are
little-endian: bit q of an index is qubit q.
"""

import math
from collections import namedtuple

import numba
import numpy as np

#: Dense gates act on at most this many qubits (a d×d matrix, d = 2**k).
MAX_DENSE_QUBITS = 3
#: Operation kinds.
RUN, DENSE, PERMUTATION = 1, 2, 3
#: Rows simulated together (their states side by side).
CHUNK = 64
#: Rows × amplitudes from which numba's thread pool is used (below it, waking the pool costs more).
PARALLEL_MIN = 1 << 18

_D = 1 << MAX_DENSE_QUBITS

#: How a factor's matrix is made for a row (numba reads the fields by name): cos and sin of f·γ per row and
#: rotation, each factor's rotation index (−1: constant), its frequency, and where its matrices start in the pool.
Factors = namedtuple("Factors", "trig_cos trig_sin rotation frequency pool_start pool")
#: The operations as flat arrays: ``kind``, ``op_qubit`` (the qubit of a run, the arity of a dense gate),
#: ``op_first``/``op_last`` (factor range), ``op_dim``, ``op_offsets``, ``op_ordered`` (dense gates),
#: ``perm_start``, ``phase_start``, ``perm_pool``, ``phase_pool`` (permutations), ``max_run``; ``n`` qubits.
Ops = namedtuple(
    "Ops",
    "n kind op_qubit op_first op_last op_dim op_offsets op_ordered perm_start phase_start perm_pool phase_pool max_run",
)
#: One operation as :class:`Program` records it: ``target`` is a run's qubit, a dense gate's arity, or a
#: permutation's index.
Operation = namedtuple("Operation", "kind target first last dim offsets ordered")


# --- 2×2 matrices of a chunk's rows, as 8 real rows: m00 re, im, m01 re, im, m10 re, im, m11 re, im -------------
# ``factors`` is a :data:`Factors`.


@numba.njit(cache=True, inline="always")
def _factor_rows(f, r0, rows, factors, out, derivative):
    """Factor f (2×2) for rows r0 … r0 + rows − 1 into ``out`` (8, CHUNK), or its derivative by its angle."""
    trig_cos, trig_sin, rotation = factors.trig_cos, factors.trig_sin, factors.rotation
    frequency, pool_start, pool = factors.frequency, factors.pool_start, factors.pool
    start, k = pool_start[f], rotation[f]
    for e in range(4):
        a = pool[start + e]
        if k < 0:
            for c in range(rows):
                out[2 * e, c] = 0.0 if derivative else a.real
                out[2 * e + 1, c] = 0.0 if derivative else a.imag
            continue
        cm, sm, w = pool[start + 4 + e], pool[start + 8 + e], frequency[f]
        for c in range(rows):
            co, si = trig_cos[r0 + c, k], trig_sin[r0 + c, k]
            if derivative:
                out[2 * e, c] = w * (-si * cm.real + co * sm.real)
                out[2 * e + 1, c] = w * (-si * cm.imag + co * sm.imag)
            else:
                out[2 * e, c] = a.real + co * cm.real + si * sm.real
                out[2 * e + 1, c] = a.imag + co * cm.imag + si * sm.imag


@numba.njit(cache=True, inline="always")
def _mul_rows(a, b, out, rows):
    """out = a @ b row by row (out may not alias a or b)."""
    for i in range(2):
        for j in range(2):
            for c in range(rows):
                xr = a[4 * i, c] * b[2 * j, c] - a[4 * i + 1, c] * b[2 * j + 1, c]
                xi = a[4 * i, c] * b[2 * j + 1, c] + a[4 * i + 1, c] * b[2 * j, c]
                yr = a[4 * i + 2, c] * b[4 + 2 * j, c] - a[4 * i + 3, c] * b[4 + 2 * j + 1, c]
                yi = a[4 * i + 2, c] * b[4 + 2 * j + 1, c] + a[4 * i + 3, c] * b[4 + 2 * j, c]
                out[4 * i + 2 * j, c] = xr + yr
                out[4 * i + 2 * j + 1, c] = xi + yi


@numba.njit(cache=True, inline="always")
def _dagger_rows(m, out, rows):
    """out = m† row by row."""
    for c in range(rows):
        out[0, c], out[1, c] = m[0, c], -m[1, c]
        out[2, c], out[3, c] = m[4, c], -m[5, c]
        out[4, c], out[5, c] = m[2, c], -m[3, c]
        out[6, c], out[7, c] = m[6, c], -m[7, c]


@numba.njit(cache=True, inline="always")
def _identity_rows(out, rows):
    for e in range(8):
        for c in range(rows):
            out[e, c] = 1.0 if e == 0 or e == 6 else 0.0


@numba.njit(cache=True, inline="always")
def _run_matrix(first, last, r0, rows, factors, out, factor, tmp):
    """A run's product F_m … F_1 (factors ``first`` … ``last`` − 1) per row into ``out`` (8, CHUNK)."""
    _factor_rows(first, r0, rows, factors, out, False)
    for f in range(first + 1, last):
        _factor_rows(f, r0, rows, factors, factor, False)
        _mul_rows(factor, out, tmp, rows)
        out[:, :rows] = tmp[:, :rows]


@numba.njit(cache=True, inline="always")
def _pair(re, im, i, j, m, rows):
    """The per-row 2×2 matrices m (8, chunk) on amplitudes i, j of every row of the chunk."""
    for c in range(rows):
        xr, xi, yr, yi = re[i, c], im[i, c], re[j, c], im[j, c]
        re[i, c] = m[0, c] * xr - m[1, c] * xi + m[2, c] * yr - m[3, c] * yi
        im[i, c] = m[0, c] * xi + m[1, c] * xr + m[2, c] * yi + m[3, c] * yr
        re[j, c] = m[4, c] * xr - m[5, c] * xi + m[6, c] * yr - m[7, c] * yi
        im[j, c] = m[4, c] * xi + m[5, c] * xr + m[6, c] * yi + m[7, c] * yr


@numba.njit(cache=True, inline="always")
def _apply_run(re, im, size, q, m, rows):
    """Apply the per-row 2×2 matrices m (8, CHUNK) to qubit q of every row of the chunk."""
    stride = 1 << q
    for hi in range(0, size, 2 * stride):
        for i in range(hi, hi + stride):
            j = i + stride
            _pair(re, im, i, j, m, rows)


@numba.njit(cache=True, inline="always")
def _undo_run(sre, sim, lre, lim, size, q, m, rows, g):
    """Apply m (= the run's matrix, daggered) to the state s and the adjoint l; meanwhile
    g[·, c] = Σ conj(l_a)·s_b over the qubit's pairs (l before, s after), so that Re⟨l| D |s⟩ =
    Re Σ D[a, b]·g[a, b] for any 2×2 D on that qubit. Three vectorized passes (s, the correlation, l): one fused
    loop writing five arrays defeats the compiler's vectorization and measured 1.8× slower."""
    _apply_run(sre, sim, size, q, m, rows)
    _correlate_run(sre, sim, lre, lim, size, q, rows, g)
    _apply_run(lre, lim, size, q, m, rows)


@numba.njit(cache=True, inline="always")
def _correlate_pair(sre, sim, lre, lim, i, j, g, rows):
    """Adds the pair (i, j)'s terms of the correlation Σ λ̄ ⊗ ψ (2×2 complex, as re/im rows of ``g``) per row."""
    for c in range(rows):
        pr, pi, qr, qi = sre[i, c], sim[i, c], sre[j, c], sim[j, c]
        ur, ui, vr, vi = lre[i, c], lim[i, c], lre[j, c], lim[j, c]
        g[0, c] += ur * pr + ui * pi
        g[1, c] += ur * pi - ui * pr
        g[2, c] += ur * qr + ui * qi
        g[3, c] += ur * qi - ui * qr
        g[4, c] += vr * pr + vi * pi
        g[5, c] += vr * pi - vi * pr
        g[6, c] += vr * qr + vi * qi
        g[7, c] += vr * qi - vi * qr


@numba.njit(cache=True, inline="always")
def _correlate_run(sre, sim, lre, lim, size, q, rows, g):
    """g[·, c] = Σ conj(l_a)·s_b over qubit q's pairs (a, b ∈ {0, 1}), as 8 real rows."""
    for e in range(8):
        for c in range(rows):
            g[e, c] = 0.0
    stride = 1 << q
    for hi in range(0, size, 2 * stride):
        for i in range(hi, hi + stride):
            j = i + stride
            _correlate_pair(sre, sim, lre, lim, i, j, g, rows)


# --- dense gates on 2–3 qubits (per-row d×d complex matrices) -----------------------------------------------------


@numba.njit(cache=True, inline="always")
def _base(b, ordered, k):
    """The b-th index whose bits at the sorted qubits ``ordered[:k]`` are all zero."""
    for i in range(k):
        q = ordered[i]
        b = ((b >> q) << (q + 1)) | (b & ((1 << q) - 1))
    return b


@numba.njit(cache=True, inline="always")
def _dense_rows(f, r0, rows, d, factors, out, derivative):
    """A dense factor's d×d matrix per row into ``out`` (CHUNK, d, d) complex, or its derivative."""
    trig_cos, trig_sin, rotation = factors.trig_cos, factors.trig_sin, factors.rotation
    frequency, pool_start, pool = factors.frequency, factors.pool_start, factors.pool
    start, k, size = pool_start[f], rotation[f], d * d
    for c in range(rows):
        for e in range(size):
            if k < 0:
                value = 0j if derivative else pool[start + e]
            else:
                co, si = trig_cos[r0 + c, k], trig_sin[r0 + c, k]
                cm, sm = pool[start + size + e], pool[start + 2 * size + e]
                value = frequency[f] * (-si * cm + co * sm) if derivative else pool[start + e] + co * cm + si * sm
            out[c, e // d, e % d] = value


@numba.njit(cache=True, inline="always")
def _apply_dense(re, im, size, offsets, ordered, k, m, adjoint, rows, amps):
    """Apply the per-row d×d matrices m (or m†) to the gate's qubits (local state j at base + offsets[j])."""
    d = 1 << k
    for b in range(size >> k):
        base = _base(b, ordered, k)
        for c in range(rows):
            for j in range(d):
                amps[j] = complex(re[base + offsets[j], c], im[base + offsets[j], c])
            for i in range(d):
                total = 0j
                for j in range(d):
                    total += (np.conj(m[c, j, i]) if adjoint else m[c, i, j]) * amps[j]
                re[base + offsets[i], c] = total.real
                im[base + offsets[i], c] = total.imag


@numba.njit(cache=True, inline="always")
def _overlap_dense(lre, lim, sre, sim, size, offsets, ordered, k, m, rows, amps, out):
    """out[c] = Re ⟨l| M on the gate's qubits |s⟩ for each row of the chunk."""
    d = 1 << k
    for c in range(rows):
        out[c] = 0.0
    for b in range(size >> k):
        base = _base(b, ordered, k)
        for c in range(rows):
            for j in range(d):
                amps[j] = complex(sre[base + offsets[j], c], sim[base + offsets[j], c])
            for i in range(d):
                value = 0j
                for j in range(d):
                    value += m[c, i, j] * amps[j]
                out[c] += (complex(lre[base + offsets[i], c], -lim[base + offsets[i], c]) * value).real


# --- permutations of the whole index space --------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _permute_into(re, im, new_re, new_im, size, source, phase, phased, adjoint, rows):
    """(new_re, new_im)[i] = phase[i]·old[source[i]], or the inverse new[source[i]] = conj(phase[i])·old[i]."""
    for i in range(size):
        s = source[i]
        pr, pi = (phase[i].real, phase[i].imag) if phased else (1.0, 0.0)
        if adjoint:
            pi = -pi
        for c in range(rows):
            if adjoint:
                xr, xi = re[i, c], im[i, c]
                new_re[s, c], new_im[s, c] = pr * xr - pi * xi, pr * xi + pi * xr
            else:
                xr, xi = re[s, c], im[s, c]
                new_re[i, c], new_im[i, c] = pr * xr - pi * xi, pr * xi + pi * xr


@numba.njit(cache=True, inline="always")
def _permute(re, im, size, source, phase, phased, scratch_re, scratch_im, adjoint, rows):
    """:func:`_permute_into` in place (through a copy in the scratch buffers)."""
    for i in range(size):
        for c in range(rows):
            scratch_re[i, c], scratch_im[i, c] = re[i, c], im[i, c]
    _permute_into(scratch_re, scratch_im, re, im, size, source, phase, phased, adjoint, rows)


# --- a chunk of rows: forward and backward ------------------------------------------------------------------------
# ``ops`` is an :data:`Ops`.


@numba.njit(cache=True)
def _workspace(n, max_run, chunk):
    """Buffers of a chunk of ``chunk`` rows (the serial kernels, the threaded ones and the fused ones share it)."""
    size = 1 << n
    states = np.empty((6, size, chunk))  # re, im, scratch re, scratch im, adjoint re, adjoint im
    small = np.empty((5, 8, chunk))  # matrix, factor, tmp, suffix, correlation
    prefix = np.empty((max_run + 1, 8, chunk))
    dense = np.empty((2, chunk, _D, _D), dtype=np.complex128)
    return states, small, prefix, dense, np.empty(_D, dtype=np.complex128), np.empty(chunk)


@numba.njit(cache=True, inline="always")
def _permute_op(o, ops, re, im, scratch_re, scratch_im, adjoint, rows):
    n, perm_start, phase_start = ops.n, ops.perm_start, ops.phase_start
    perm_pool, phase_pool = ops.perm_pool, ops.phase_pool
    size, start = 1 << n, perm_start[o]
    phases = phase_pool[max(phase_start[o], 0) :]
    _permute(
        re,
        im,
        size,
        perm_pool[start : start + size],
        phases,
        phase_start[o] >= 0,
        scratch_re,
        scratch_im,
        adjoint,
        rows,
    )


@numba.njit(cache=True, inline="always")
def _forward_chunk(r0, rows, ops, factors, out, work):
    n, kind, op_qubit, op_first, op_last = ops.n, ops.kind, ops.op_qubit, ops.op_first, ops.op_last
    op_dim, op_offsets, op_ordered = ops.op_dim, ops.op_offsets, ops.op_ordered
    size = 1 << n
    buffers, small, _, dense, amps, _ = work
    re, im, scratch_re, scratch_im = buffers[0], buffers[1], buffers[2], buffers[3]
    matrix, factor, tmp = small[0], small[1], small[2]
    for i in range(size):
        for c in range(rows):
            re[i, c], im[i, c] = 0.0, 0.0
    for c in range(rows):
        re[0, c] = 1.0
    for o in range(len(kind)):
        if kind[o] == PERMUTATION:
            _permute_op(o, ops, re, im, scratch_re, scratch_im, False, rows)
        elif kind[o] == RUN:
            _run_matrix(op_first[o], op_last[o], r0, rows, factors, matrix, factor, tmp)
            _apply_run(re, im, size, op_qubit[o], matrix, rows)
        else:
            _dense_rows(op_first[o], r0, rows, op_dim[o], factors, dense[0], False)
            _apply_dense(re, im, size, op_offsets[o], op_ordered[o], op_qubit[o], dense[0], False, rows, amps)
    for c in range(rows):
        for i in range(size):
            out[r0 + c, i] = complex(re[i, c], im[i, c])


@numba.njit(cache=True, inline="always")
def _undo_dense(o, r0, rows, size, op_first, op_qubit, op_dim, op_offsets, op_ordered, factors, sre, sim, lre, lim,
                dense, amps, overlaps, out):
    """Backward through dense operation o: undo it on the state and the adjoint, and add its angle's derivative."""
    rotation = factors.rotation
    f, k, offsets, ordered = op_first[o], op_qubit[o], op_offsets[o], op_ordered[o]
    _dense_rows(f, r0, rows, op_dim[o], factors, dense[0], False)
    _apply_dense(sre, sim, size, offsets, ordered, k, dense[0], True, rows, amps)
    if rotation[f] >= 0:
        _dense_rows(f, r0, rows, op_dim[o], factors, dense[1], True)
        _overlap_dense(lre, lim, sre, sim, size, offsets, ordered, k, dense[1], rows, amps, overlaps)
        for c in range(rows):
            out[r0 + c, rotation[f]] += overlaps[c]
    _apply_dense(lre, lim, size, offsets, ordered, k, dense[0], True, rows, amps)


@numba.njit(cache=True, inline="always")
def _run_prefix(first, last, r0, rows, factors, factor, prefix):
    """prefix[t] = F_t … F_1 per row, for the run F_m … F_1 of factors ``first`` .. ``last`` − 1 (prefix[0] = I)."""
    _identity_rows(prefix[0], rows)
    for t in range(last - first):
        _factor_rows(first + t, r0, rows, factors, factor, False)
        _mul_rows(factor, prefix[t], prefix[t + 1], rows)


@numba.njit(cache=True, inline="always")
def _run_angle_gradients(first, last, r0, rows, factors, correlation, prefix, factor, tmp, suffix, matrix, out,
                         width):
    """Adds to ``out`` each rotation factor's derivative in the run: dM/dγ_t = (F_m … F_{t+1}) · dF_t ·
    (F_{t−1} … F_1) against the run's ``correlation``, with ``prefix`` from :func:`_run_prefix`. The matrices are
    taken over the first ``width`` rows: ``rows``, or 1 for a run that is the same matrix in every row (then row 0's
    derivatives serve every row, the same numbers without their products per row)."""
    rotation = factors.rotation
    _identity_rows(suffix, width)
    for t in range(last - first - 1, -1, -1):
        f = first + t
        if rotation[f] >= 0:
            _factor_rows(f, r0, width, factors, factor, True)
            _mul_rows(factor, prefix[t], tmp, width)
            _mul_rows(suffix, tmp, matrix, width)
            for c in range(rows):
                m = min(c, width - 1)
                total = 0.0
                for e in range(4):
                    total += matrix[2 * e, m] * correlation[2 * e, c]
                    total -= matrix[2 * e + 1, m] * correlation[2 * e + 1, c]
                out[r0 + c, rotation[f]] += total
        _factor_rows(f, r0, width, factors, factor, False)
        _mul_rows(suffix, factor, tmp, width)
        suffix[:, :width] = tmp[:, :width]


@numba.njit(cache=True, inline="always")
def _backward_chunk(r0, rows, ops, factors, states, grads, out, work):
    n, kind, op_qubit, op_first, op_last = ops.n, ops.kind, ops.op_qubit, ops.op_first, ops.op_last
    op_dim, op_offsets, op_ordered = ops.op_dim, ops.op_offsets, ops.op_ordered
    size = 1 << n
    buffers, small, prefix, dense, amps, overlaps = work
    sre, sim, scratch_re, scratch_im, lre, lim = buffers[0], buffers[1], buffers[2], buffers[3], buffers[4], buffers[5]
    matrix, factor, tmp, suffix, correlation = small[0], small[1], small[2], small[3], small[4]
    for c in range(rows):
        for i in range(size):
            sre[i, c], sim[i, c] = states[r0 + c, i].real, states[r0 + c, i].imag
            lre[i, c], lim[i, c] = grads[r0 + c, i].real, grads[r0 + c, i].imag
    for o in range(len(kind) - 1, -1, -1):
        if kind[o] == PERMUTATION:
            _permute_op(o, ops, sre, sim, scratch_re, scratch_im, True, rows)
            _permute_op(o, ops, lre, lim, scratch_re, scratch_im, True, rows)
            continue
        if kind[o] == DENSE:
            _undo_dense(o, r0, rows, size, op_first, op_qubit, op_dim, op_offsets, op_ordered, factors, sre, sim,
                        lre, lim, dense, amps, overlaps, out)
            continue
        # A run F_m … F_1: undo it, then each angle's derivative against the correlation.
        first, last = op_first[o], op_last[o]
        _run_prefix(first, last, r0, rows, factors, factor, prefix)
        _dagger_rows(prefix[last - first], matrix, rows)
        _undo_run(sre, sim, lre, lim, size, op_qubit[o], matrix, rows, correlation)
        _run_angle_gradients(first, last, r0, rows, factors, correlation, prefix, factor, tmp, suffix, matrix, out,
                             rows)


@numba.njit(cache=True)
def _forward_serial(ops, factors, out):
    work = _workspace(ops.n, ops.max_run, CHUNK)
    for r0 in range(0, len(out), CHUNK):
        _forward_chunk(r0, min(CHUNK, len(out) - r0), ops, factors, out, work)


@numba.njit(cache=True, parallel=True)
def _forward_parallel(ops, factors, out):
    for chunk in numba.prange((len(out) + CHUNK - 1) // CHUNK):
        r0 = chunk * CHUNK
        _forward_chunk(r0, min(CHUNK, len(out) - r0), ops, factors, out, _workspace(ops.n, ops.max_run, CHUNK))


@numba.njit(cache=True)
def _backward_serial(ops, factors, states, grads, out):
    work = _workspace(ops.n, ops.max_run, CHUNK)
    for r0 in range(0, len(out), CHUNK):
        _backward_chunk(r0, min(CHUNK, len(out) - r0), ops, factors, states, grads, out, work)


@numba.njit(cache=True, parallel=True)
def _backward_parallel(ops, factors, states, grads, out):
    for chunk in numba.prange((len(out) + CHUNK - 1) // CHUNK):
        r0 = chunk * CHUNK
        _backward_chunk(r0, min(CHUNK, len(out) - r0), ops, factors, states, grads, out, _workspace(ops.n, ops.max_run, CHUNK))


@numba.njit(cache=True)
def _add_columns(per_rotation, columns, out):
    """out[r, columns[k]] += per_rotation[r, k] in the order of k: each angle's gradient, summed over the rotations
    that read it (``np.add.at``'s sums, 5× faster at 32 rows)."""
    for r in range(per_rotation.shape[0]):
        for k in range(per_rotation.shape[1]):
            out[r, columns[k]] += per_rotation[r, k]


# --- cos and sin tables: np.cos and np.sin of each phase not the same as the row above's ----------------------
# Rows often repeat most angles (the weights in every row, a shift rule's rows repeating their base row): the
# tables take np.cos/np.sin of the changed phases only, so they are bit-identical to np.cos/np.sin of every phase.


@numba.njit(cache=True)
def _fresh_phases(angles, columns, frequencies, fresh):
    """Writes to ``fresh`` each phase angles[r, columns[k]]·frequencies[k] not the same as row r − 1's, in
    row-major order; returns their count."""
    count = 0
    for r in range(len(angles)):
        for k in range(len(columns)):
            phase = angles[r, columns[k]] * frequencies[k]
            if r == 0 or not _same(phase, angles[r - 1, columns[k]] * frequencies[k]):
                fresh[count] = phase
                count += 1
    return count


@numba.njit(cache=True)
def _spread_trig(angles, columns, frequencies, fresh_cos, fresh_sin, trig_cos, trig_sin):
    """Fills the tables (R, K) from the fresh phases' cos and sin (:func:`_fresh_phases`' order), copying the
    row above where the phase repeats."""
    count = 0
    for r in range(len(angles)):
        for k in range(len(columns)):
            phase = angles[r, columns[k]] * frequencies[k]
            if r == 0 or not _same(phase, angles[r - 1, columns[k]] * frequencies[k]):
                trig_cos[r, k], trig_sin[r, k] = fresh_cos[count], fresh_sin[count]
                count += 1
            else:
                trig_cos[r, k], trig_sin[r, k] = trig_cos[r - 1, k], trig_sin[r - 1, k]


@numba.njit(cache=True, inline="always")
def _same(a, b):
    """a and b are the same float64 (−0.0 is not 0.0, a NaN is never the same), so their cos and sin are too."""
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


class Program:
    """Operations as flat arrays for the kernels (see the module docstring).

    Build it with :meth:`add_run`, :meth:`add_dense` and :meth:`add_permutation`; a factor is a constant matrix,
    or ``((A, C, S), frequency, column)`` for a rotation of the angle in column ``column``.
    """

    def __init__(self, n_qubits: int):
        self.n_qubits = n_qubits
        self._ops: list[Operation] = []
        self._factors: list[tuple] = []  # (rotation index or −1, frequency, pool offset)
        self._pool: list[np.ndarray] = []
        self._pool_size = 0
        self._rotations: list[tuple[int, float]] = []  # (angle column, frequency) of each rotation factor
        self._perms: list[np.ndarray] = []
        self._phases: list[np.ndarray | None] = []
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
        self._ops.append(Operation(RUN, qubit, first, len(self._factors), 2, (), ()))

    def add_dense(self, qubits: list[int], factor) -> None:
        """One gate on 2–3 ``qubits`` (bit j of its matrix index ↔ qubits[j])."""
        if len(qubits) > MAX_DENSE_QUBITS:
            raise ValueError(f"gates on more than {MAX_DENSE_QUBITS} qubits are not supported, got {len(qubits)}")
        first = self._factor(factor)
        local = np.arange(1 << len(qubits))
        offsets = sum(((local >> i) & 1) << q for i, q in enumerate(qubits))
        self._ops.append(Operation(DENSE, len(qubits), first, first + 1, 1 << len(qubits), offsets, sorted(qubits)))

    def add_permutation(self, source: np.ndarray, phase: np.ndarray | None) -> None:
        """new[i] = phase[i]·old[source[i]] over the whole index space."""
        self._perms.append(np.asarray(source, dtype=np.int64))
        self._phases.append(None if phase is None else np.asarray(phase, dtype=np.complex128))
        self._ops.append(Operation(PERMUTATION, len(self._perms) - 1, 0, 0, 0, (), ()))

    def arrays(self) -> tuple:
        """(the kernels' ``ops``, the factors' arrays, each rotation factor's angle column and frequency); built
        once."""
        if self._arrays is None:
            self._arrays = self._build()
        return self._arrays

    def _build(self) -> tuple:
        count = len(self._ops)
        kind, op_qubit, op_first, op_last, op_dim = (
            np.array([getattr(op, field) for op in self._ops], dtype=np.int64).reshape(count)
            for field in ("kind", "target", "first", "last", "dim")
        )
        op_offsets = np.zeros((count, _D), dtype=np.int64)
        op_ordered = np.zeros((count, MAX_DENSE_QUBITS), dtype=np.int64)
        perm_start = np.full(count, -1, dtype=np.int64)
        phase_start = np.full(count, -1, dtype=np.int64)
        perm_offset = phase_offset = 0
        for o, op in enumerate(self._ops):
            op_offsets[o, : len(op.offsets)] = op.offsets
            op_ordered[o, : len(op.ordered)] = op.ordered
            if op.kind == PERMUTATION:
                perm_start[o] = perm_offset
                perm_offset += 1 << self.n_qubits
                if self._phases[op.target] is not None:
                    phase_start[o] = phase_offset
                    phase_offset += 1 << self.n_qubits
        factors = np.array(self._factors, dtype=np.float64).reshape(-1, 3)
        pool = np.concatenate(self._pool) if self._pool else np.zeros(1, dtype=np.complex128)
        perm_pool = np.concatenate(self._perms) if self._perms else np.zeros(1, dtype=np.int64)
        phases = [p for p in self._phases if p is not None]
        phase_pool = np.concatenate(phases) if phases else np.zeros(1, dtype=np.complex128)
        max_run = max((op.last - op.first for op in self._ops if op.kind == RUN), default=1)
        ops = Ops(
            self.n_qubits,
            kind,
            op_qubit,
            op_first,
            op_last,
            op_dim,
            op_offsets,
            op_ordered,
            perm_start,
            phase_start,
            perm_pool,
            phase_pool,
            max_run,
        )
        factor_arrays = (factors[:, 0].astype(np.int64), factors[:, 1].copy(), factors[:, 2].astype(np.int64), pool)
        trig = np.array(self._rotations, dtype=np.float64).reshape(-1, 2)
        return ops, factor_arrays, trig[:, 0].astype(np.int64), trig[:, 1]

    def _factor_tables(self, angles: np.ndarray) -> tuple:
        """The kernels' ``factors``: cos and sin of frequency·angle for every row and rotation factor, then the
        factors' rotation index, frequency, pool start and the pool."""
        _, factor_arrays, columns, frequencies = self.arrays()
        angles = np.ascontiguousarray(angles, dtype=np.float64)
        trig_cos = np.empty((len(angles), len(columns)))
        trig_sin = np.empty_like(trig_cos)
        fresh = np.empty(trig_cos.size)
        count = _fresh_phases(angles, columns, frequencies, fresh)
        _spread_trig(angles, columns, frequencies, np.cos(fresh[:count]), np.sin(fresh[:count]), trig_cos, trig_sin)
        return Factors(trig_cos, trig_sin, *factor_arrays)

    def states(self, angles: np.ndarray) -> np.ndarray:
        """Final states (R, 2**n) complex128 of every row of ``angles`` (R, K) float64."""
        states = np.empty((len(angles), 1 << self.n_qubits), dtype=np.complex128)
        kernel = _forward_parallel if states.size >= PARALLEL_MIN else _forward_serial
        kernel(self.arrays()[0], self._factor_tables(angles), states)
        return states

    def angle_gradients(self, angles: np.ndarray, states: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """dL/dγ (R, K) from the final ``states`` and ``grads`` = dL/dRe ψ + i·dL/dIm ψ (torch's convention)."""
        ops, _, columns, _ = self.arrays()
        per_rotation = np.zeros((len(angles), len(columns)))
        kernel = _backward_parallel if states.size >= PARALLEL_MIN else _backward_serial
        states = np.ascontiguousarray(states, dtype=np.complex128)
        kernel(ops, self._factor_tables(angles), states, np.ascontiguousarray(grads, dtype=np.complex128), per_rotation)
        out = np.zeros(np.shape(angles))
        _add_columns(per_rotation, columns, out)
        return out
