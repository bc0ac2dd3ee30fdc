"""|ψ|² of many rows and its backward in one pass each (torch's ``real.square() + imag.square()`` and
its autograd made seven passes and two zero-filled complex tensors, ~20% of a 12-qubit forward + backward), and
the same pass carried on to a readout's outputs (the measured qubits' distribution times the readout's map) and
back. Row by row, so the results do not depend on the thread count."""

import numba


@numba.njit(cache=True, parallel=True)
def probabilities(states, out):
    """out[r, i] = Re(ψ)² + Im(ψ)² of ``states`` (R, M) complex."""
    for r in numba.prange(states.shape[0]):
        for i in range(states.shape[1]):
            value = states[r, i]
            out[r, i] = value.real * value.real + value.imag * value.imag


@numba.njit(cache=True, parallel=True)
def shift_probabilities(states, cos, paired, kappa, plus_at, minus_at, copied, copied_at, out):
    """The shift rule's probabilities (O, R, M) into ``out`` from fewer ``states`` (S, R, M) complex, base states
    first: out[plus_at[j]], out[minus_at[j]] = |cos·ψ ± κ[j]·φ|² for ψ = states[0], φ = states[paired[j]] (a state
    shifted by π); out[copied_at[j]] = |states[copied[j]]|²."""
    for j in numba.prange(len(paired)):
        k, plus, minus = kappa[j], out[plus_at[j]], out[minus_at[j]]
        turned = states[paired[j]]
        for r in range(states.shape[1]):
            for i in range(states.shape[2]):
                a = cos * states[0, r, i]
                b = k * turned[r, i]
                p, m = a + b, a - b
                plus[r, i] = p.real * p.real + p.imag * p.imag
                minus[r, i] = m.real * m.real + m.imag * m.imag
    for j in numba.prange(len(copied)):
        source, target = states[copied[j]], out[copied_at[j]]
        for r in range(states.shape[1]):
            for i in range(states.shape[2]):
                value = source[r, i]
                target[r, i] = value.real * value.real + value.imag * value.imag


@numba.njit(cache=True, parallel=True)
def probabilities_backward(states, grads, out):
    """out = dL/dRe ψ + i·dL/dIm ψ = 2·g·ψ for g = dL/dp (torch's convention for complex inputs)."""
    for r in numba.prange(states.shape[0]):
        for i in range(states.shape[1]):
            value, g = states[r, i], 2.0 * grads[r, i]
            out[r, i] = complex(g * value.real, g * value.imag)


#: Floating-point reassociation for a sum along the innermost loop, so that it vectorizes: without it each sum is one
#: chain of dependent additions (8 qubits, 256 rows, 8 outputs: 315 µs against 100 µs). Only :func:`joint_outputs`
#: uses it; its sums differ from the sequential ones by rounding (≤ 2e-12 over 4,096 outcomes of random states), the
#: same for any thread count.
REASSOCIATE = {"reassoc"}


@numba.njit(cache=True, parallel=True, fastmath=REASSOCIATE)
def joint_outputs(states, index, weights, joint, out):
    """out += joint @ weightsᵀ, joint[r, index[i]] = Σ |ψ[r, i]|² (the measured qubits' distribution (R, J));
    ``weights`` (O, J), C-ordered so that each output's sum runs along the outcomes. One pass over the states, row
    by row (no BLAS: a (32, 4096) @ (4096, 12) product of C-ordered arrays took 7.7 ms in OpenBLAS here, 36× its
    Fortran-ordered time)."""
    for r in numba.prange(states.shape[0]):
        for j in range(joint.shape[1]):
            joint[r, j] = 0.0
        for i in range(states.shape[1]):
            value = states[r, i]
            joint[r, index[i]] += value.real * value.real + value.imag * value.imag
        for o in range(out.shape[1]):
            total = 0.0
            for j in range(joint.shape[1]):
                total += joint[r, j] * weights[o, j]
            out[r, o] += total


@numba.njit(cache=True, parallel=True)
def joint_outputs_backward(states, index, weights, grads, joint_grads, out):
    """out += dL/dRe ψ + i·dL/dIm ψ = 2·g_joint[index[i]]·ψ for g_joint = grads @ weights (the backward of
    :func:`joint_outputs`, ``weights`` (O, J); ``joint_grads`` (R, J) is scratch). Each g_joint entry is summed
    over the outputs in order, the outcomes innermost."""
    for r in numba.prange(states.shape[0]):
        for j in range(joint_grads.shape[1]):
            joint_grads[r, j] = 0.0
        for o in range(grads.shape[1]):
            g = grads[r, o]
            for j in range(joint_grads.shape[1]):
                joint_grads[r, j] += g * weights[o, j]
        for i in range(states.shape[1]):
            value, g = states[r, i], 2.0 * joint_grads[r, index[i]]
            out[r, i] += complex(g * value.real, g * value.imag)


@numba.njit(cache=True, parallel=True)
def change_basis(states, qubits, matrices, out):
    """out[r] = (⊗_j matrices[j] on qubit qubits[j]) states[r] for every row (``matrices`` (J, 2, 2) complex, on
    distinct qubits, so their order does not matter): the arithmetic of the pairwise numpy update it replaces, one
    call instead of ~6 numpy operations per qubit."""
    size = states.shape[1]
    for r in numba.prange(states.shape[0]):
        for i in range(size):
            out[r, i] = states[r, i]
        for j in range(len(qubits)):
            stride = 1 << qubits[j]
            m00, m01, m10, m11 = matrices[j, 0, 0], matrices[j, 0, 1], matrices[j, 1, 0], matrices[j, 1, 1]
            for high in range(0, size, 2 * stride):
                for i in range(high, high + stride):
                    low_value, high_value = out[r, i], out[r, i + stride]
                    out[r, i] = m00 * low_value + m01 * high_value
                    out[r, i + stride] = m10 * low_value + m11 * high_value
