"""The Schmidt cut's parity readout (:mod:`hqnn.schmidt`) and its backward, row by row (so the results do not depend
on the thread count).

A side's tensor T (R, χ, S) holds each row's χ bond terms over the side's S amplitudes; a sign pattern s (P, S) is
(−1)^popcount(x & mask). A feature ⟨P ⊗ Q⟩ = Σ_kl ⟨low_k|P|low_l⟩ · ⟨high_k|Q|high_l⟩ is computed as a marginal: the
gram G = ⟨high_k|Q|high_l⟩ (χ × χ) of one side, then ρ(x) = Σ_kl conj(low_k(x)) G_kl low_l(x) on the other and
Σ_x s_P(x) ρ(x). Features whose pattern on one side is the identity share one marginal, so ⟨Z⟩ on every qubit costs
four passes over the χ² pairs, not one per qubit. Loops run over the χ² pairs (amplitude-major copies) or over the
amplitudes (bond-major) innermost, never accumulating along the innermost loop, so they vectorize."""

import numba
import numpy as np


@numba.njit(cache=True)
def _layouts(tensor, r):
    """Row r of T (R, χ, S): bond-major real and imaginary parts (χ, S), and amplitude-major ones (S, χ)."""
    bond, size = tensor.shape[1], tensor.shape[2]
    bond_re, bond_im = np.empty((bond, size)), np.empty((bond, size))
    amp_re, amp_im = np.empty((size, bond)), np.empty((size, bond))
    for k in range(bond):
        for x in range(size):
            value = tensor[r, k, x]
            bond_re[k, x] = amp_re[x, k] = value.real
            bond_im[k, x] = amp_im[x, k] = value.imag
    return bond_re, bond_im, amp_re, amp_im


@numba.njit(cache=True)
def _gram(amp_re, amp_im, weights, out_re, out_im):
    """out = Σ_x weights[x] · conj(T_k(x)) · T_l(x), flattened over (k, l) (Hermitian)."""
    size, bond = amp_re.shape
    out_re[:] = 0.0
    out_im[:] = 0.0
    for x in range(size):
        w = weights[x]
        for k in range(bond):
            a, b = w * amp_re[x, k], w * amp_im[x, k]
            for l in range(bond):
                out_re[k * bond + l] += a * amp_re[x, l] + b * amp_im[x, l]
                out_im[k * bond + l] += a * amp_im[x, l] - b * amp_re[x, l]


@numba.njit(cache=True)
def _gram_times(bond_re, bond_im, gram_re, gram_im, j, scale, mixed_re, mixed_im):
    """mixed[x] = scale · Σ_l gram_jl · T_l(x): row j of the gram applied to the bond terms at every amplitude."""
    bond, size = bond_re.shape
    mixed_re[:] = 0.0
    mixed_im[:] = 0.0
    for l in range(bond):
        g_re, g_im = scale * gram_re[j * bond + l], scale * gram_im[j * bond + l]
        for x in range(size):
            mixed_re[x] += g_re * bond_re[l, x] - g_im * bond_im[l, x]
            mixed_im[x] += g_re * bond_im[l, x] + g_im * bond_re[l, x]


@numba.njit(cache=True)
def _marginal(bond_re, bond_im, gram_re, gram_im, out):
    """out[x] = Σ_kl conj(T_k(x)) · gram_kl · T_l(x) (real: the gram is Hermitian)."""
    bond, size = bond_re.shape
    out[:size] = 0.0
    mixed_re, mixed_im = np.empty(size), np.empty(size)
    for k in range(bond):
        _gram_times(bond_re, bond_im, gram_re, gram_im, k, 1.0, mixed_re, mixed_im)
        for x in range(size):
            out[x] += bond_re[k, x] * mixed_re[x] + bond_im[k, x] * mixed_im[x]


@numba.njit(cache=True)
def _add_pulled_back(bond_re, bond_im, gram_re, gram_im, weights, out_re, out_im):
    """out[j, x] += 2 · weights[x] · Σ_l gram_jl · T_l(x): dL/dRe T + i·dL/dIm T (torch's convention) of
    L = Σ_x weights[x] · Σ_kl conj(T_k(x)) gram_kl T_l(x), for a Hermitian gram."""
    bond, size = bond_re.shape
    mixed_re, mixed_im = np.empty(size), np.empty(size)
    for j in range(bond):
        _gram_times(bond_re, bond_im, gram_re, gram_im, j, 2.0, mixed_re, mixed_im)
        for x in range(size):
            out_re[j, x] += weights[x] * mixed_re[x]
            out_im[j, x] += weights[x] * mixed_im[x]


@numba.njit(cache=True, parallel=True, nogil=True)
def parity_features(low, high, low_signs, high_signs, marginal_side, other_pattern, feature_marginal, own_pattern,
                    grams, out):
    """out[r, f]: feature f of every row. Marginal m is taken on side ``marginal_side[m]`` (0: low, 1: high) against
    the other side's gram for its pattern ``other_pattern[m]`` (kept in ``grams`` (R, M, χ²) for the backward);
    feature f is Σ_x s(x) ρ_m(x) for m = ``feature_marginal[f]`` and s its side's pattern ``own_pattern[f]``."""
    pairs = grams.shape[2]
    for r in numba.prange(low.shape[0]):
        low_layouts, high_layouts = _layouts(low, r), _layouts(high, r)
        marginals = np.empty((len(marginal_side), max(low.shape[2], high.shape[2])))
        gram_re, gram_im = np.empty(pairs), np.empty(pairs)
        for m in range(len(marginal_side)):
            if marginal_side[m] == 0:
                _gram(high_layouts[2], high_layouts[3], high_signs[other_pattern[m]], gram_re, gram_im)
                _marginal(low_layouts[0], low_layouts[1], gram_re, gram_im, marginals[m])
            else:
                _gram(low_layouts[2], low_layouts[3], low_signs[other_pattern[m]], gram_re, gram_im)
                _marginal(high_layouts[0], high_layouts[1], gram_re, gram_im, marginals[m])
            for kl in range(pairs):
                grams[r, m, kl] = complex(gram_re[kl], gram_im[kl])
        for f in range(len(feature_marginal)):
            m = feature_marginal[f]
            signs = low_signs[own_pattern[f]] if marginal_side[m] == 0 else high_signs[own_pattern[f]]
            total = 0.0
            for x in range(len(signs)):
                total += signs[x] * marginals[m, x]
            out[r, f] = total


@numba.njit(cache=True, parallel=True, nogil=True)
def parity_features_backward(low, high, low_signs, high_signs, marginal_side, other_pattern, feature_marginal,
                             own_pattern, grams, grads, low_out, high_out):
    """The gradients (torch's convention) of Σ_f grads[r, f] · out[r, f] of :func:`parity_features` by the low and
    high tensors, into ``low_out`` and ``high_out``."""
    rows, bond = low.shape[0], low.shape[1]
    pairs = bond * bond
    for r in numba.prange(rows):
        layouts = (_layouts(low, r), _layouts(high, r))
        sizes = (low.shape[2], high.shape[2])
        totals = (
            (np.zeros((bond, sizes[0])), np.zeros((bond, sizes[0]))),
            (np.zeros((bond, sizes[1])), np.zeros((bond, sizes[1]))),
        )
        gram_re, gram_im = np.empty(pairs), np.empty(pairs)
        pulled_re, pulled_im = np.empty(pairs), np.empty(pairs)
        for m in range(len(marginal_side)):
            own = marginal_side[m]
            own_signs, other_signs = (low_signs, high_signs) if own == 0 else (high_signs, low_signs)
            weights = np.zeros(sizes[own])
            for f in range(len(feature_marginal)):
                if feature_marginal[f] == m:
                    g, signs = grads[r, f], own_signs[own_pattern[f]]
                    for x in range(sizes[own]):
                        weights[x] += g * signs[x]
            for kl in range(pairs):
                gram_re[kl], gram_im[kl] = grams[r, m, kl].real, grams[r, m, kl].imag
            mine, other = layouts[own], layouts[1 - own]
            _add_pulled_back(mine[0], mine[1], gram_re, gram_im, weights, totals[own][0], totals[own][1])
            _gram(mine[2], mine[3], weights, pulled_re, pulled_im)
            _add_pulled_back(other[0], other[1], pulled_re, pulled_im, other_signs[other_pattern[m]],
                             totals[1 - own][0], totals[1 - own][1])
        for side, out in ((0, low_out), (1, high_out)):
            for k in range(bond):
                for x in range(sizes[side]):
                    out[r, k, x] = complex(totals[side][0][k, x], totals[side][1][k, x])
