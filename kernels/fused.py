"""Fewer passes over the state: runs of single-qubit gates on distinct qubits applied in one pass.

Between two multi-qubit operations, a :class:`~hqnn.kernels.statevector.Program` holds runs on distinct qubits;
they commute. A *group* of up to k of them is applied tile by tile: a tile is the 2**k amplitudes that differ only
in the group's qubits (each one a line of the chunk's rows, side by side), small enough to stay in the core's L1
cache while every run of the group acts on it in program order. One pass over the state per group instead of one
per run, and no more arithmetic: each amplitude goes through exactly the same operations as in the run-by-run
kernels, so the forward states are bit-identical to theirs.

The runs before the first multi-qubit operation start from |0…0⟩: they build the product state directly, each run
spreading the occupied amplitudes over its qubit (O(2**n) in all, not a pass per group), with the arithmetic of
the run-by-run kernels minus their terms in zero amplitudes, so these states are bit-identical too.

Diagonal runs (every factor diagonal: RZ, P, S, T, Z …) right after a permutation are merged into its pass: each
gathered amplitude is multiplied by their diagonal entries at once (one pass for CX·P·CX instead of three), with
the arithmetic of the run-by-run kernels minus their terms in zero entries, so the states stay bit-identical.

The backward stops at the leading runs: the state there is a product ⊗_p U_p|0⟩, so each leading run's correlation
follows from contracting the adjoint with the other qubits' vectors, all of them in about two passes over the
adjoint instead of undoing every leading run on the state and the adjoint (the runs commute, so each is taken
as the last one; the gradients equal the undoing sweep's to rounding).

The backward undoes a group tile by tile as well (runs in reverse order: the state, the run's correlation
Σ conj(l_a)·s_b, the adjoint), then each angle's derivative follows from its run's 2×2 correlation by small
products, as in :func:`~hqnn.kernels.statevector._backward_chunk`. The correlations are summed tile by tile, so
the angle gradients equal the run-by-run kernels' to rounding (≤ 1e-12), and are bit-identical run to run and
for any thread count (a row never meets another).
"""

import weakref

import numba
import numpy as np

from .statevector import (
    CHUNK,
    DENSE,
    PERMUTATION,
    RUN,
    _apply_dense,
    _base,
    _correlate_pair,
    _dagger_rows,
    _dense_rows,
    _pair,
    _permute_into,
    _run_angle_gradients,
    _run_matrix,
    _run_prefix,
    _undo_dense,
)
from .statevector import _workspace as _chunk_workspace

#: Most runs in one group (a tile of 2**k lines; 8 for the narrow chunks of 16 qubits and more).
MAX_GROUP = 8
#: A tile's bytes (2**k amplitudes × the chunk's rows × re, im) are kept under this (the core's L1 data cache).
TILE_BYTES = 32 << 10


def group_size(chunk: int) -> int:
    """Runs per group for chunks of ``chunk`` rows: the largest k ≤ MAX_GROUP whose tile fits TILE_BYTES."""
    k = 1
    while k < MAX_GROUP and (2 << k) * chunk * 16 <= TILE_BYTES:
        k += 1
    return k


def _field(ops, name: str, position: int):
    """A field of the kernels' ``ops`` bundle, by name when it has names."""
    return getattr(ops, name) if hasattr(ops, name) else ops[position]


class Plan:
    """The groups of a program for a group size: arrays for the kernels (see :func:`plan`)."""

    def __init__(self, ops, n: int, k: int, diagonal=None):
        kind = np.asarray(_field(ops, "kind", 1))
        qubit = np.asarray(_field(ops, "op_qubit", 2))
        group_of = np.full(len(kind), -1, dtype=np.int64)
        # diagonal gates merged into a permutation's pass: the diagonal runs right after a permutation (up to k)
        absorbed = np.zeros(len(kind), dtype=np.int64)
        if diagonal is not None:
            for o in range(len(kind)):
                if kind[o] == PERMUTATION:
                    count = 0
                    while count < k and o + 1 + count < len(kind) and kind[o + 1 + count] == RUN and diagonal[o + 1 + count]:
                        count += 1
                    absorbed[o] = count
        self.absorbed = absorbed
        groups: list[list[int]] = []
        o = 0
        while o < len(kind):
            if kind[o] == PERMUTATION:
                o += 1 + absorbed[o]
                continue
            if kind[o] != RUN:
                o += 1
                continue
            end = o
            while end < len(kind) and kind[end] == RUN:
                end += 1
            for start in range(o, end, k):
                members = list(range(start, min(start + k, end)))
                assert len({int(qubit[m]) for m in members}) == len(members), "runs of a group share a qubit"
                group_of[start] = len(groups)
                groups.append(members)
            o = end
        count = len(groups)
        # product-state start: the runs before the first multi-qubit operation (distinct qubits) act on |0…0⟩;
        # occupied[:2**t] are the indices whose bits lie in the first t of their qubits
        leading = 0
        while leading < len(kind) and kind[leading] == RUN:
            leading += 1
        occupied = np.zeros(1, dtype=np.int64)
        for o in range(leading):
            occupied = np.concatenate([occupied, occupied | (1 << int(qubit[o]))])
        self.leading = leading
        self.occupied = occupied
        self.group_of = group_of
        self.group_count = np.array([len(g) for g in groups], dtype=np.int64).reshape(count)
        self.group_ordered = np.zeros((max(count, 1), k), dtype=np.int64)
        self.group_pairs = np.zeros((max(count, 1), k, 1 << (k - 1)), dtype=np.int64)
        for g, members in enumerate(groups):
            qubits = [int(qubit[m]) for m in members]
            self.group_ordered[g, : len(qubits)] = sorted(qubits)
            for j, q in enumerate(qubits):
                others = [p for p in qubits if p != q]
                for t in range(1 << len(others)):
                    self.group_pairs[g, j, t] = sum(((t >> i) & 1) << p for i, p in enumerate(others))
        self.arrays = (self.group_of, self.group_count, self.group_ordered, self.group_pairs, self.leading,
                       self.occupied, self.absorbed)
        self.fields = tuple(
            np.asarray(_field(ops, name, i))
            for name, i in (("kind", 1), ("op_qubit", 2), ("op_first", 3), ("op_last", 4), ("op_dim", 5),
                            ("op_offsets", 6), ("op_ordered", 7), ("perm_start", 8), ("phase_start", 9),
                            ("perm_pool", 10), ("phase_pool", 11))
        )


_PLANS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def plan(program, k: int) -> Plan:
    """The program's groups of up to ``k`` runs (built once per program and k)."""
    plans = _PLANS.setdefault(program, {})
    if k not in plans:
        plans[k] = Plan(program.arrays()[0], program.n_qubits, k, diagonal_runs(program))
    return plans[k]


def diagonal_runs(program) -> np.ndarray:
    """Per operation: True for a run whose every factor is diagonal (constant, or A, C, S of a rotation)."""
    ops, (rotation, _, pool_start, pool), _, _ = program.arrays()
    kind, first, last = (np.asarray(_field(ops, name, i)) for name, i in (("kind", 1), ("op_first", 3), ("op_last", 4)))
    out = np.zeros(len(kind), dtype=bool)
    for o in range(len(kind)):
        if kind[o] != RUN:
            continue
        diagonal = True
        for f in range(first[o], last[o]):
            matrices = 1 if rotation[f] < 0 else 3
            for m in range(matrices):
                start = pool_start[f] + 4 * m
                diagonal &= pool[start + 1] == 0 and pool[start + 2] == 0
        out[o] = diagonal
    return out


# --- one group on a chunk -------------------------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _gather(re, im, new_re, new_im, size, o, perm_start, phase_start, perm_pool, phase_pool, adjoint, rows):
    """Permutation o from (re, im) into (new_re, new_im) (:func:`_permute_into`, without ``_permute``'s copy)."""
    start = perm_start[o]
    _permute_into(re, im, new_re, new_im, size, perm_pool[start : start + size], phase_pool[max(phase_start[o], 0) :],
                  phase_start[o] >= 0, adjoint, rows)


@numba.njit(cache=True, inline="always")
def _gather_diagonal(re, im, new_re, new_im, size, o, perm_start, phase_start, perm_pool, phase_pool, qubits, count,
                     mats, rows):
    """Permutation o, then the diagonal runs j < count (qubit qubits[j], matrix mats[j]) in one pass; the
    arithmetic of ``_gather`` then of ``_pair`` without its terms in the runs' zero entries."""
    start, phased = perm_start[o], phase_start[o] >= 0
    first = max(phase_start[o], 0)
    for i in range(size):
        s = perm_pool[start + i]
        pr, pi = (phase_pool[first + i].real, phase_pool[first + i].imag) if phased else (1.0, 0.0)
        for c in range(rows):
            xr, xi = re[s, c], im[s, c]
            new_re[i, c], new_im[i, c] = pr * xr - pi * xi, pr * xi + pi * xr
        for j in range(count):
            e = 6 * ((i >> qubits[j]) & 1)  # m00 (entries 0, 1) or m11 (entries 6, 7)
            for c in range(rows):
                ar, ai, yr, yi = mats[j, e, c], mats[j, e + 1, c], new_re[i, c], new_im[i, c]
                new_re[i, c], new_im[i, c] = ar * yr - ai * yi, ar * yi + ai * yr


@numba.njit(cache=True, inline="always")
def _undo_diagonal(sre, sim, lre, lim, size, qubits, count, mats, corr, rows):
    """The diagonal runs j = count − 1 … 0 (mats[j]: daggered) undone on the state and the adjoint in one pass;
    corr[j] gets run j's correlation's diagonal entries (l before, s after; the others are 0)."""
    for j in range(count):
        for e in range(8):
            for c in range(rows):
                corr[j, e, c] = 0.0
    for i in range(size):
        for j in range(count - 1, -1, -1):
            e = 6 * ((i >> qubits[j]) & 1)
            g = corr[j]
            for c in range(rows):
                ar, ai = mats[j, e, c], mats[j, e + 1, c]
                xr, xi = sre[i, c], sim[i, c]
                pr, pi = ar * xr - ai * xi, ar * xi + ai * xr
                sre[i, c], sim[i, c] = pr, pi
                ur, ui = lre[i, c], lim[i, c]
                g[e, c] += ur * pr + ui * pi
                g[e + 1, c] += ur * pi - ui * pr
                lre[i, c], lim[i, c] = ar * ur - ai * ui, ar * ui + ai * ur


@numba.njit(cache=True, inline="always")
def _spread(re, im, occupied, count, bit, m, rows):
    """A run m on a qubit still in |0⟩ (``bit``), on the ``count`` occupied indices: amplitude i goes to i (m00·)
    and i | bit (m10·) — the arithmetic of ``_pair`` without its terms in the zero amplitudes."""
    for t in range(count):
        i = occupied[t]
        j = i | bit
        for c in range(rows):
            xr, xi = re[i, c], im[i, c]
            re[i, c] = m[0, c] * xr - m[1, c] * xi
            im[i, c] = m[0, c] * xi + m[1, c] * xr
            re[j, c] = m[4, c] * xr - m[5, c] * xi
            im[j, c] = m[4, c] * xi + m[5, c] * xr


@numba.njit(cache=True, inline="always")
def _uniform_run(first, last, r0, rows, factors):
    """True when factors ``first`` … ``last`` − 1 are the same matrix in every row of the chunk (constants, or
    rotations whose cos and sin repeat row to row: the circuit weights), so the run's matrix is too."""
    rotation, trig_cos, trig_sin = factors.rotation, factors.trig_cos, factors.trig_sin
    for f in range(first, last):
        k = rotation[f]
        if k >= 0:
            for c in range(1, rows):
                if trig_cos[r0 + c, k] != trig_cos[r0, k] or trig_sin[r0 + c, k] != trig_sin[r0, k]:
                    return False
    return True


@numba.njit(cache=True, inline="always")
def _pair_uniform(re, im, i, j, m, rows):
    """:func:`_pair` for a matrix that is the same in every row (m[·, 0]): the same arithmetic, the entries held
    in registers instead of loaded per row (3× faster measured at 32 rows)."""
    m0, m1, m2, m3, m4, m5, m6, m7 = m[0, 0], m[1, 0], m[2, 0], m[3, 0], m[4, 0], m[5, 0], m[6, 0], m[7, 0]
    for c in range(rows):
        xr, xi, yr, yi = re[i, c], im[i, c], re[j, c], im[j, c]
        re[i, c] = m0 * xr - m1 * xi + m2 * yr - m3 * yi
        im[i, c] = m0 * xi + m1 * xr + m2 * yi + m3 * yr
        re[j, c] = m4 * xr - m5 * xi + m6 * yr - m7 * yi
        im[j, c] = m4 * xi + m5 * xr + m6 * yi + m7 * yr


@numba.njit(cache=True, inline="always")
def _apply_group(re, im, size, qubits, count, ordered, pairs, mats, uniform, rows):
    """Runs j = 0 … count − 1 (qubit qubits[j], matrix mats[j], the same in every row where uniform[j]) in order,
    tile by tile."""
    half = 1 << (count - 1)
    for b in range(size >> count):
        base = _base(b, ordered, count)
        for j in range(count):
            stride = 1 << qubits[j]
            if uniform[j]:
                for t in range(half):
                    i = base + pairs[j, t]
                    _pair_uniform(re, im, i, i + stride, mats[j], rows)
            else:
                for t in range(half):
                    i = base + pairs[j, t]
                    _pair(re, im, i, i + stride, mats[j], rows)


@numba.njit(cache=True, inline="always")
def _undo_group(sre, sim, lre, lim, size, qubits, count, ordered, pairs, mats, uniform, corr, rows):
    """Runs j = count − 1 … 0 undone (mats[j]: daggered; the same in every row where uniform[j]) on the state and
    the adjoint, tile by tile; corr[j] gets run j's correlation (l before, s after)."""
    half = 1 << (count - 1)
    for j in range(count):
        for e in range(8):
            for c in range(rows):
                corr[j, e, c] = 0.0
    for b in range(size >> count):
        base = _base(b, ordered, count)
        for j in range(count - 1, -1, -1):
            stride = 1 << qubits[j]
            if uniform[j]:
                for t in range(half):
                    i = base + pairs[j, t]
                    _pair_uniform(sre, sim, i, i + stride, mats[j], rows)
                    _correlate_pair(sre, sim, lre, lim, i, i + stride, corr[j], rows)
                    _pair_uniform(lre, lim, i, i + stride, mats[j], rows)
            else:
                for t in range(half):
                    i = base + pairs[j, t]
                    _pair(sre, sim, i, i + stride, mats[j], rows)
                    _correlate_pair(sre, sim, lre, lim, i, i + stride, corr[j], rows)
                    _pair(lre, lim, i, i + stride, mats[j], rows)


# _run_gradients, _daggered_run, _leading_correlations and _load are compiled once, not inlined at every call site
# as the passes over the state are: numba's first compile of backward_rows took 205 s inlined, 50 s so (the same
# speed at 8–16 qubits, ~6 µs more a call at 4 qubits B=32). Inlining only some of them was 2× slower at 8 qubits.
@numba.njit(cache=True)
def _run_gradients(first, last, r0, rows, factors, correlation, prefix, factor, tmp, suffix, matrix, out, width):
    """Each rotation factor's derivative in a run F_m … F_1 from its correlation (as ``_backward_chunk``); its
    matrices over ``width`` rows (1: the same in every row)."""
    _run_prefix(first, last, r0, width, factors, factor, prefix)
    _run_angle_gradients(first, last, r0, rows, factors, correlation, prefix, factor, tmp, suffix, matrix, out,
                         width)


@numba.njit(cache=True)
def _daggered_run(first, last, r0, rows, factors, prefix, factor, out):
    """The run's matrix (F_m … F_1)† per row, its product taken as ``_backward_chunk`` takes it."""
    _run_prefix(first, last, r0, rows, factors, factor, prefix)
    _dagger_rows(prefix[last - first], out, rows)


@numba.njit(cache=True)
def _leading_correlations(lre, lim, n, leading, op_qubit, op_first, op_last, r0, rows, factors, small, prefix,
                          vectors, suffix_re, suffix_im, corr, out):
    """The leading runs' angle gradients without undoing them: after them the state is the product ⊗_p v_p
    (v_p = U_p|0⟩, or |0⟩), so run q's correlation (l after, s before; the runs commute) has the columns
    E_q = Σ conj(l[a, rest])·Π_{p≠q} v_p[rest_p] and 0. All E_q in about two passes over the adjoint, which is
    contracted in place qubit by qubit (qubit 0 first) against conj(v); ``suffix_*`` hold Π_{p>q} v_p."""
    matrix, factor, tmp, suffix = small[0], small[1], small[2], small[3]
    for p in range(n):
        for c in range(rows):
            vectors[p, 0, c], vectors[p, 1, c], vectors[p, 2, c], vectors[p, 3, c] = 1.0, 0.0, 0.0, 0.0
    for o in range(leading):
        _run_matrix(op_first[o], op_last[o], r0, rows, factors, matrix, factor, tmp)
        q = op_qubit[o]
        for c in range(rows):  # the first column: m00, m10
            vectors[q, 0, c], vectors[q, 1, c], vectors[q, 2, c], vectors[q, 3, c] = (
                matrix[0, c], matrix[1, c], matrix[4, c], matrix[5, c])
    # suffix products Π_{p>q} v_p (bit b of j ↔ qubit q + 1 + b) at offset 2**(n−q−1) − 1, from the top down
    for c in range(rows):
        suffix_re[0, c], suffix_im[0, c] = 1.0, 0.0
    for q in range(n - 2, -1, -1):
        above, here, p = (1 << (n - q - 2)) - 1, (1 << (n - q - 1)) - 1, q + 1
        for j in range(1 << (n - q - 1)):
            t, a = above + (j >> 1), 2 * (j & 1)
            for c in range(rows):
                xr, xi, vr, vi = suffix_re[t, c], suffix_im[t, c], vectors[p, a, c], vectors[p, a + 1, c]
                suffix_re[here + j, c], suffix_im[here + j, c] = xr * vr - xi * vi, xr * vi + xi * vr
    for q in range(n):
        # cur = lre/lim[: 2**(n−q)] is l contracted with conj(v_0 … v_{q−1}); bit 0 ↔ qubit q
        here = (1 << (n - q - 1)) - 1
        for e in range(4):
            for c in range(rows):
                tmp[e, c] = 0.0
        for j in range(1 << (n - q - 1)):
            for c in range(rows):
                wr, wi = suffix_re[here + j, c], -suffix_im[here + j, c]
                ar, ai, br, bi = lre[2 * j, c], lim[2 * j, c], lre[2 * j + 1, c], lim[2 * j + 1, c]
                tmp[0, c] += ar * wr - ai * wi
                tmp[1, c] += ar * wi + ai * wr
                tmp[2, c] += br * wr - bi * wi
                tmp[3, c] += br * wi + bi * wr
                v0r, v0i, v1r, v1i = vectors[q, 0, c], -vectors[q, 1, c], vectors[q, 2, c], -vectors[q, 3, c]
                lre[j, c] = ar * v0r - ai * v0i + br * v1r - bi * v1i
                lim[j, c] = ar * v0i + ai * v0r + br * v1i + bi * v1r
        for c in range(rows):  # E_q = conj(the sums), in the columns m00 (a = 0) and m10 (a = 1)
            corr[q, 0, c], corr[q, 1, c], corr[q, 2, c], corr[q, 3, c] = tmp[0, c], -tmp[1, c], 0.0, 0.0
            corr[q, 4, c], corr[q, 5, c], corr[q, 6, c], corr[q, 7, c] = tmp[2, c], -tmp[3, c], 0.0, 0.0
    for o in range(leading):
        _run_gradients(op_first[o], op_last[o], r0, rows, factors, corr[op_qubit[o]], prefix, factor, tmp, suffix,
                       matrix, out, rows)


# --- a chunk of rows ------------------------------------------------------------------------------------------------

#: Amplitudes per block when moving states between the row-major arrays and a chunk's amplitude-major buffers
#: (element by element, every write of a row's amplitude jumped 2**n·16 bytes: 11 ms of a 12-qubit forward at
#: 256 rows for a single gate).
TRANSPOSE_BLOCK = 64


@numba.njit(cache=True)
def _load(source, r0, rows, re, im, size):
    """re, im[i, c] = source[r0 + c, i] block by block."""
    for i0 in range(0, size, TRANSPOSE_BLOCK):
        i1 = min(i0 + TRANSPOSE_BLOCK, size)
        for c in range(rows):
            for i in range(i0, i1):
                value = source[r0 + c, i]
                re[i, c], im[i, c] = value.real, value.imag


@numba.njit(cache=True, inline="always")
def _store(re, im, size, r0, rows, out):
    """out[r0 + c, i] = re[i, c] + i·im[i, c] block by block."""
    for i0 in range(0, size, TRANSPOSE_BLOCK):
        i1 = min(i0 + TRANSPOSE_BLOCK, size)
        for c in range(rows):
            for i in range(i0, i1):
                out[r0 + c, i] = complex(re[i, c], im[i, c])


@numba.njit(cache=True)
def _workspace(n, max_run, chunk, k):
    """The chunk's buffers (:func:`~hqnn.kernels.statevector._workspace`), a group's run matrices and
    correlations, and the leading runs' product-state vectors and correlations."""
    group = np.empty((2, k, 8, chunk))  # each run's matrix, each run's correlation
    leading = np.empty((2, n, 8, chunk))  # the leading runs' |0⟩ columns, their correlations
    uniform = np.zeros(k, dtype=np.bool_)  # which runs of a group are the same matrix in every row
    return _chunk_workspace(n, max_run, chunk) + (group, leading, uniform)


@numba.njit(cache=True, inline="always")
def _forward_chunk(r0, rows, n, ops, fields, plan, factors, out, work):
    kind, op_qubit, op_first, op_last, op_dim, op_offsets, op_ordered, perm_start, phase_start, perm_pool, phase_pool = (
        fields
    )
    group_of, group_count, group_ordered, group_pairs, leading, occupied, absorbed = plan
    size = 1 << n
    buffers, small, _, dense, amps, _, group, _, uniform = work
    re, im, scratch_re, scratch_im = buffers[0], buffers[1], buffers[2], buffers[3]
    factor, tmp, mats = small[1], small[2], group[0]
    for i in range(size):
        for c in range(rows):
            re[i, c], im[i, c] = 0.0, 0.0
    for c in range(rows):
        re[0, c] = 1.0
    # product-state start: the leading runs spread |0…0⟩ over the indices of their qubits, O(2**n) in all
    matrix = small[0]
    for o in range(leading):
        _run_matrix(op_first[o], op_last[o], r0, rows, factors, matrix, factor, tmp)
        _spread(re, im, occupied, 1 << o, 1 << op_qubit[o], matrix, rows)
    o = leading
    while o < len(kind):
        if kind[o] == PERMUTATION:
            # gather into the scratch buffers, which become the state (no copy back)
            count = absorbed[o]
            if count:
                for j in range(count):
                    _run_matrix(op_first[o + 1 + j], op_last[o + 1 + j], r0, rows, factors, mats[j], factor, tmp)
                _gather_diagonal(re, im, scratch_re, scratch_im, size, o, perm_start, phase_start, perm_pool,
                                 phase_pool, op_qubit[o + 1 : o + 1 + count], count, mats, rows)
            else:
                _gather(re, im, scratch_re, scratch_im, size, o, perm_start, phase_start, perm_pool, phase_pool, False,
                        rows)
            re, im, scratch_re, scratch_im = scratch_re, scratch_im, re, im
            o += 1 + count
        elif kind[o] == RUN:
            g = group_of[o]
            count = group_count[g]
            for j in range(count):  # a run that is the same matrix in every row: row 0's matrix alone
                uniform[j] = _uniform_run(op_first[o + j], op_last[o + j], r0, rows, factors)
                _run_matrix(op_first[o + j], op_last[o + j], r0, 1 if uniform[j] else rows, factors, mats[j], factor,
                            tmp)
            _apply_group(re, im, size, op_qubit[o : o + count], count, group_ordered[g], group_pairs[g], mats, uniform,
                         rows)
            o += count
        else:
            _dense_rows(op_first[o], r0, rows, op_dim[o], factors, dense[0], False)
            _apply_dense(re, im, size, op_offsets[o], op_ordered[o], op_qubit[o], dense[0], False, rows, amps)
            o += 1
    _store(re, im, size, r0, rows, out)


@numba.njit(cache=True, inline="always")
def _backward_chunk(r0, rows, n, ops, fields, plan, factors, states, grads, out, work):
    kind, op_qubit, op_first, op_last, op_dim, op_offsets, op_ordered, perm_start, phase_start, perm_pool, phase_pool = (
        fields
    )
    group_of, group_count, group_ordered, group_pairs, leading, _, absorbed = plan
    size = 1 << n
    buffers, small, prefix, dense, amps, overlaps, group, product, uniform = work
    sre, sim, scratch_re, scratch_im, lre, lim = buffers[0], buffers[1], buffers[2], buffers[3], buffers[4], buffers[5]
    matrix, factor, tmp, suffix = small[0], small[1], small[2], small[3]
    mats, corr = group[0], group[1]
    _load(states, r0, rows, sre, sim, size)
    _load(grads, r0, rows, lre, lim, size)
    # walk the operations backwards down to the leading runs; a group is met at its last run and handled from its
    # first
    o = len(kind) - 1
    while o >= leading:
        if kind[o] == PERMUTATION:
            # scatter into the scratch buffers, which become the state, then the adjoint likewise
            _gather(sre, sim, scratch_re, scratch_im, size, o, perm_start, phase_start, perm_pool, phase_pool, True, rows)
            sre, sim, scratch_re, scratch_im = scratch_re, scratch_im, sre, sim
            _gather(lre, lim, scratch_re, scratch_im, size, o, perm_start, phase_start, perm_pool, phase_pool, True, rows)
            lre, lim, scratch_re, scratch_im = scratch_re, scratch_im, lre, lim
            o -= 1
            continue
        if kind[o] == DENSE:
            _undo_dense(o, r0, rows, size, op_first, op_qubit, op_dim, op_offsets, op_ordered, factors, sre, sim,
                        lre, lim, dense, amps, overlaps, out)
            o -= 1
            continue
        start = o
        while kind[start] == RUN and group_of[start] < 0:
            start -= 1
        if kind[start] == PERMUTATION:  # runs merged into permutation `start`'s pass
            count = absorbed[start]
            for j in range(count):
                _daggered_run(op_first[start + 1 + j], op_last[start + 1 + j], r0, rows, factors, prefix, factor,
                              mats[j])
            _undo_diagonal(sre, sim, lre, lim, size, op_qubit[start + 1 : start + 1 + count], count, mats, corr, rows)
            for j in range(count):
                _run_gradients(
                    op_first[start + 1 + j], op_last[start + 1 + j], r0, rows, factors, corr[j], prefix, factor, tmp,
                    suffix, matrix, out, rows,
                )
            o = start  # the permutation itself next
            continue
        g = group_of[start]
        count = group_count[g]
        for j in range(count):  # a run that is the same matrix in every row: its matrices from row 0 alone
            uniform[j] = _uniform_run(op_first[start + j], op_last[start + j], r0, rows, factors)
            width = 1 if uniform[j] else rows
            _daggered_run(op_first[start + j], op_last[start + j], r0, width, factors, prefix, factor, mats[j])
        _undo_group(
            sre, sim, lre, lim, size, op_qubit[start : start + count], count, group_ordered[g], group_pairs[g],
            mats, uniform, corr, rows,
        )
        for j in range(count):
            _run_gradients(
                op_first[start + j], op_last[start + j], r0, rows, factors, corr[j], prefix, factor, tmp, suffix,
                matrix, out, 1 if uniform[j] else rows,
            )
        o = start - 1
    if leading:
        _leading_correlations(lre, lim, n, leading, op_qubit, op_first, op_last, r0, rows, factors, small, prefix,
                              product[0], scratch_re, scratch_im, product[1], out)


@numba.njit(cache=True, parallel=True, nogil=True)
def forward_rows(ops, fields, plan, factors, out, n, max_run, chunk, k, threads):
    """Final states of every row into ``out`` (R, 2**n) complex128, chunks of rows across ``threads``."""
    count = (len(out) + chunk - 1) // chunk
    for t in numba.prange(threads):
        work = _workspace(n, max_run, chunk, k)
        for q in range(t, count, threads):
            r0 = q * chunk
            _forward_chunk(r0, min(chunk, len(out) - r0), n, ops, fields, plan, factors, out, work)


@numba.njit(cache=True, parallel=True, nogil=True)
def backward_rows(ops, fields, plan, factors, states, grads, out, n, max_run, chunk, k, threads):
    """Each row's gradient by each rotation factor into ``out`` (R, rotations)."""
    count = (len(out) + chunk - 1) // chunk
    for t in numba.prange(threads):
        work = _workspace(n, max_run, chunk, k)
        for q in range(t, count, threads):
            r0 = q * chunk
            _backward_chunk(r0, min(chunk, len(out) - r0), n, ops, fields, plan, factors, states, grads, out, work)


# --- two programs on the same rows, one parallel region (a Schmidt cut's two sides) ---------------------------------
# The tasks are the first program's chunks, then the second's; thread t takes tasks t, t + T, t + 2T … (T threads).
# One parallel region instead of one Python thread per program: a hand-over to a waiting Python thread cost ~100 µs
# here, against ~2.5 ms of a 12-qubit, 32-row forward + backward. Each chunk runs through one compiled (not inlined)
# chunk function, so the two call sites do not compile the chunk twice.

_forward_chunk_call = numba.njit(cache=True, nogil=True)(_forward_chunk.py_func)
_backward_chunk_call = numba.njit(cache=True, nogil=True)(_backward_chunk.py_func)


@numba.njit(cache=True, inline="always")
def _task_counts(rows_a, chunk_a, rows_b, chunk_b):
    """(a's chunks, both programs' chunks)."""
    count_a = (rows_a + chunk_a - 1) // chunk_a
    return count_a, count_a + (rows_b + chunk_b - 1) // chunk_b


@numba.njit(cache=True, inline="always")
def _task_rows(task, count_a, chunk_a, rows_a, chunk_b, rows_b):
    """(program 0 for a or 1 for b, first row, rows) of a task; a's ``count_a`` chunks come first."""
    if task < count_a:
        r0 = task * chunk_a
        return 0, r0, min(chunk_a, rows_a - r0)
    r0 = (task - count_a) * chunk_b
    return 1, r0, min(chunk_b, rows_b - r0)


@numba.njit(cache=True, parallel=True, nogil=True)
def forward_two(ops_a, fields_a, plan_a, factors_a, out_a, n_a, max_run_a, chunk_a, k_a,
                ops_b, fields_b, plan_b, factors_b, out_b, n_b, max_run_b, chunk_b, k_b, threads):
    """:func:`forward_rows` of programs a and b in one region."""
    count_a, count = _task_counts(len(out_a), chunk_a, len(out_b), chunk_b)
    for t in numba.prange(threads):
        work_a, work_b = _workspace(n_a, max_run_a, chunk_a, k_a), _workspace(n_b, max_run_b, chunk_b, k_b)
        for task in range(t, count, threads):
            program, r0, rows = _task_rows(task, count_a, chunk_a, len(out_a), chunk_b, len(out_b))
            if program == 0:
                _forward_chunk_call(r0, rows, n_a, ops_a, fields_a, plan_a, factors_a, out_a, work_a)
            else:
                _forward_chunk_call(r0, rows, n_b, ops_b, fields_b, plan_b, factors_b, out_b, work_b)


@numba.njit(cache=True, parallel=True, nogil=True)
def backward_two(ops_a, fields_a, plan_a, factors_a, states_a, grads_a, out_a, n_a, max_run_a, chunk_a, k_a,
                 ops_b, fields_b, plan_b, factors_b, states_b, grads_b, out_b, n_b, max_run_b, chunk_b, k_b, threads):
    """:func:`backward_rows` of programs a and b in one region."""
    count_a, count = _task_counts(len(out_a), chunk_a, len(out_b), chunk_b)
    for t in numba.prange(threads):
        work_a, work_b = _workspace(n_a, max_run_a, chunk_a, k_a), _workspace(n_b, max_run_b, chunk_b, k_b)
        for task in range(t, count, threads):
            program, r0, rows = _task_rows(task, count_a, chunk_a, len(out_a), chunk_b, len(out_b))
            if program == 0:
                _backward_chunk_call(r0, rows, n_a, ops_a, fields_a, plan_a, factors_a, states_a, grads_a, out_a,
                                     work_a)
            else:
                _backward_chunk_call(r0, rows, n_b, ops_b, fields_b, plan_b, factors_b, states_b, grads_b, out_b,
                                     work_b)


__all__ = ["CHUNK", "MAX_GROUP", "Plan", "backward_rows", "backward_two", "forward_rows", "forward_two", "group_size",
           "plan"]
