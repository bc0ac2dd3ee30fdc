import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from hqnn.kernels import ry_p1, ry_p1_grad

from closed_forms import dp1_closed, p1_closed

angles = arrays(np.float64, array_shapes(min_dims=0, max_dims=3, max_side=5),
                elements=st.floats(-50, 50, allow_nan=False))


@settings(max_examples=50, deadline=None)
@given(angles)
def test_closed_forms_any_shape(theta):
    np.testing.assert_allclose(ry_p1(theta), p1_closed(theta), atol=1e-15)
    np.testing.assert_allclose(ry_p1_grad(theta), dp1_closed(theta), atol=1e-15)
    assert ry_p1(theta).shape == np.shape(theta)


def test_grad_is_derivative_of_value():
    theta = np.linspace(-4, 4, 101)
    h = 1e-6
    numeric = (ry_p1(theta + h) - ry_p1(theta - h)) / (2 * h)
    np.testing.assert_allclose(ry_p1_grad(theta), numeric, atol=1e-9)


@pytest.mark.parametrize("theta, p1", [(0.0, 0.5), (np.pi / 2, 1.0), (-np.pi / 2, 0.0), (np.pi, 0.5)])
def test_known_points(theta, p1):
    assert ry_p1(np.array([theta]))[0] == pytest.approx(p1, abs=1e-15)


def test_non_contiguous_and_integer_input():
    theta = np.arange(12, dtype=np.int64).reshape(3, 4).T
    np.testing.assert_allclose(ry_p1(theta), p1_closed(theta.astype(float)), atol=1e-15)


def test_parallel_path_for_large_arrays():
    theta = np.linspace(-10, 10, (1 << 16) + 3)
    np.testing.assert_allclose(ry_p1(theta), p1_closed(theta), atol=1e-15)
    np.testing.assert_allclose(ry_p1_grad(theta), dp1_closed(theta), atol=1e-15)
