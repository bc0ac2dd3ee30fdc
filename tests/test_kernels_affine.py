"""The affine angle map's kernels against numpy's matrix products, and the NaN/inf scan."""

import numpy as np
import pytest

from hqnn.kernels.affine import affine_angles, affine_backward
from hqnn.kernels.finite import all_finite


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("rows, n_in, n_w, angles", [(1, 1, 0, 1), (32, 4, 24, 28), (7, 3, 5, 11)])
def test_affine_kernels_equal_numpy(dtype, tolerance, rows, n_in, n_w, angles):
    rng = np.random.default_rng(rows + n_in + n_w)
    x = rng.normal(size=(n_in, rows)).astype(dtype).T  # not C-contiguous, as torch's x.T gives
    w = rng.normal(size=n_w).astype(dtype)
    a_in, a_w, bias = (rng.normal(size=s).astype(dtype) for s in ((n_in, angles), (n_w, angles), angles))
    gamma = np.empty((rows, angles), dtype=dtype)
    affine_angles(x, w, a_in, a_w, bias, gamma)
    np.testing.assert_allclose(gamma, x @ a_in + (bias + w @ a_w), atol=tolerance, rtol=tolerance)
    grad = rng.normal(size=(rows, angles)).astype(dtype)
    c_in, c_w = np.ascontiguousarray(a_in.T), np.ascontiguousarray(a_w.T)
    grad_inputs, grad_weights = np.empty((rows, n_in), dtype=dtype), np.empty(n_w, dtype=dtype)
    affine_backward(grad, c_in, c_w, grad_inputs, grad_weights)
    np.testing.assert_allclose(grad_inputs, grad @ c_in, atol=tolerance, rtol=tolerance)
    np.testing.assert_allclose(grad_weights, grad.sum(0) @ c_w, atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_all_finite_finds_every_nan_and_inf(dtype):
    values = np.array([0.0, -0.0, 1e30, -3.5, np.finfo(dtype).max, np.finfo(dtype).tiny], dtype=dtype)
    assert all_finite(values) and all_finite(values[:0])
    for bad in (np.nan, np.inf, -np.inf):
        for i in range(len(values)):
            broken = values.copy()
            broken[i] = bad
            assert not all_finite(broken), (bad, i)
