"""The Schmidt cut's parity readout (:mod:`hqnn.schmidt`) and its backward, row by row (so the results do not depend
on the thread count). A side's tensor T (R, χ, X) holds each row's χ bond terms; a sign pattern s (G, X) is
(−1)^popcount(x & mask). The same contraction as torch's outer product and matrix product took 6× the time of the
two sides' statevector kernels at 12 qubits, B = 256."""

import numba
import numpy as np


@numba.njit(cache=True, parallel=True)
def signed_grams(tensor, signs, out):
    """out[r, g, k, l] = Σ_x signs[g, x] · conj(T[r, k, x]) · T[r, l, x]: Hermitian in (k, l)."""
    rows, bond, size = tensor.shape
    for r in numba.prange(rows):
        products = np.empty(size, dtype=np.complex128)
        for k in range(bond):
            for l in range(k, bond):
                for x in range(size):
                    products[x] = np.conj(tensor[r, k, x]) * tensor[r, l, x]
                for g in range(signs.shape[0]):
                    total = 0j
                    for x in range(size):
                        total += signs[g, x] * products[x]
                    out[r, g, k, l] = total
                    out[r, g, l, k] = np.conj(total)


@numba.njit(cache=True, parallel=True)
def paired_traces(first, second, first_index, second_index, out):
    """out[r, f] = Re Σ_kl first[r, first_index[f], k, l] · second[r, second_index[f], k, l]."""
    bond = first.shape[2]
    for r in numba.prange(first.shape[0]):
        for f in range(len(first_index)):
            a, b = first[r, first_index[f]], second[r, second_index[f]]
            total = 0.0
            for k in range(bond):
                for l in range(bond):
                    total += a[k, l].real * b[k, l].real - a[k, l].imag * b[k, l].imag
            out[r, f] = total


@numba.njit(cache=True, parallel=True)
def weighted_grams(grads, other, own_index, other_index, out):
    """out[r, g] = Σ_{f: own_index[f] = g} grads[r, f] · other[r, other_index[f]]: the features' gradient by one
    side's grams (Hermitian, as ``other`` is). ``out`` (R, G, χ, χ) is zeroed first."""
    for r in numba.prange(grads.shape[0]):
        out[r] = 0.0
        for f in range(len(own_index)):
            out[r, own_index[f]] += grads[r, f] * other[r, other_index[f]]


@numba.njit(cache=True, parallel=True)
def signed_grams_backward(tensor, signs, weights, out):
    """out[r, j, x] = 2 Σ_g signs[g, x] Σ_l weights[r, g, j, l] · T[r, l, x]: dL/dRe T + i·dL/dIm T (torch's
    convention) of L = Σ_g Re Σ_kl weights[r, g, k, l] · grams[r, g, k, l], ``weights`` Hermitian."""
    rows, bond, size = tensor.shape
    for r in numba.prange(rows):
        mixed = np.empty(size, dtype=np.complex128)
        for j in range(bond):
            for x in range(size):
                out[r, j, x] = 0j
            for g in range(signs.shape[0]):
                for x in range(size):
                    mixed[x] = 0j
                for l in range(bond):
                    w = 2.0 * weights[r, g, j, l]
                    for x in range(size):
                        mixed[x] += w * tensor[r, l, x]
                for x in range(size):
                    out[r, j, x] += signs[g, x] * mixed[x]
