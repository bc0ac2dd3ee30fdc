import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from hqnn import CircuitSpec, ShiftPlan, chapter_circuit


def two_param_spec():
    x, w = Parameter("x"), Parameter("w")
    qc = QuantumCircuit(2)
    qc.ry(2 * x + 1, 0)
    qc.ry(w, 1)
    qc.rzz(x - w, 0, 1)
    return CircuitSpec.from_circuit(qc, inputs=[x], weights=[w])


def test_rows_layout():
    plan = ShiftPlan(two_param_spec(), shift=0.3)
    x, w = np.array([[0.1], [0.2]]), np.array([0.5])
    rows = plan.rows(x, w, need_inputs=True, need_weights=False)
    gamma = plan.angles(x, w)
    np.testing.assert_allclose(gamma, [[1.2, 0.5, -0.4], [1.4, 0.5, -0.3]])
    assert list(rows.shifted) == [0, 2]  # angles that depend on x
    blocks = rows.angles.reshape(5, 2, 3)
    np.testing.assert_allclose(blocks[0], gamma)
    np.testing.assert_allclose(blocks[1] - gamma, [[0.3, 0, 0]] * 2)
    np.testing.assert_allclose(blocks[2] - gamma, [[0, 0, 0.3]] * 2)
    np.testing.assert_allclose(blocks[3] - gamma, [[-0.3, 0, 0]] * 2)
    np.testing.assert_allclose(blocks[4] - gamma, [[0, 0, -0.3]] * 2)


def test_only_base_rows_without_gradient():
    plan = ShiftPlan(two_param_spec())
    rows = plan.rows(np.zeros((7, 1)), np.zeros(1), False, False)
    assert rows.angles.shape == (7, 3)
    values, j_in, j_w = plan.reduce(rows, np.ones((7, 1 + 1)))
    assert values.shape == (7, 2) and j_in is None and j_w is None


@settings(max_examples=60, deadline=None)
@given(
    shift=st.floats(0.05, 3.09),
    amp=st.floats(-2, 2),
    phase=st.floats(-3, 3),
    x=st.floats(-5, 5),
    w=st.floats(-5, 5),
)
def test_shift_rule_exact_for_sinusoids_any_shift(shift, amp, phase, x, w):
    """f(γ) = c + a·sin(γ + φ) per angle: the two-term rule is exact for every s with sin s ≠ 0."""
    spec = two_param_spec()
    plan = ShiftPlan(spec, shift)
    xs, ws = np.array([[x]]), np.array([w])
    rows = plan.rows(xs, ws, True, True)

    def f(gamma):  # two outputs, each a sum of per-angle sinusoids
        s = amp * np.sin(gamma + phase)
        return np.stack([s[:, 0] + s[:, 2], 0.5 * s[:, 1] - s[:, 2]], axis=1)

    values, j_in, j_w = plan.reduce(rows, f(rows.angles))
    gamma = plan.angles(xs, ws)[0]
    d = amp * np.cos(gamma + phase)  # df/dγ per angle
    np.testing.assert_allclose(values, f(gamma[None]), atol=1e-12)
    np.testing.assert_allclose(j_in[0, :, 0], [2 * d[0] + d[2], -d[2]], atol=1e-9)
    np.testing.assert_allclose(j_w[0, :, 0], [-d[2], 0.5 * d[1] + d[2]], atol=1e-9)


@pytest.mark.parametrize("shift", [0.0, math.pi, -2 * math.pi, float("nan"), float("inf")])
def test_shift_with_zero_sine_rejected(shift):
    with pytest.raises(ValueError, match="sin\\(shift\\)"):
        ShiftPlan(chapter_circuit(), shift)
