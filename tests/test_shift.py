"""The shift plan: row layout, and the two-term rule exact for sinusoids at any shift."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hqnn import ShiftPlan
from hqnn.validation import check_shift


def test_rows_layout():
    plan = ShiftPlan(3, shift=0.3)
    gamma = torch.tensor([[1.2, 0.5, -0.4], [1.4, 0.5, -0.3]], dtype=torch.float64)
    rows = plan.rows(gamma, np.array([0, 2]))
    blocks = rows.reshape(5, 2, 3)
    torch.testing.assert_close(blocks[0], gamma)
    for block, delta in zip(blocks[1:], ([0.3, 0, 0], [0, 0, 0.3], [-0.3, 0, 0], [0, 0, -0.3])):
        torch.testing.assert_close(block - gamma, torch.tensor([delta] * 2, dtype=torch.float64))


def test_no_shifted_angles_means_base_rows_only():
    gamma = torch.zeros(7, 3)
    assert ShiftPlan(3).rows(gamma, np.array([], dtype=np.int64)) is gamma


@settings(max_examples=60, deadline=None)
@given(
    shift=st.floats(0.05, 3.09),
    amp=st.floats(-2, 2),
    phase=st.floats(-3, 3),
    g=st.lists(st.floats(-5, 5), min_size=3, max_size=3),
)
def test_shift_rule_exact_for_sinusoids_any_shift(shift, amp, phase, g):
    """f(γ) = c + a·sin(γ + φ) per angle: the two-term rule is exact for every s with sin s ≠ 0."""
    plan = ShiftPlan(3, shift)
    gamma = torch.tensor([g], dtype=torch.float64)
    shifted = np.array([0, 2])

    def f(angles):  # two outputs, each a sum of per-angle sinusoids
        s = amp * torch.sin(angles + phase)
        return torch.stack([s[:, 0] + s[:, 2], 0.5 * s[:, 1] - s[:, 2]], dim=1)

    values, jacobian = plan.reduce(f(plan.rows(gamma, shifted)), shifted, 1)
    d = amp * torch.cos(gamma[0] + phase)
    torch.testing.assert_close(values, f(gamma), atol=1e-12, rtol=0)
    expected = torch.tensor([[d[0], 0.0, d[2]], [0.0, 0.0, -d[2]]], dtype=torch.float64)
    torch.testing.assert_close(jacobian[0], expected, atol=1e-9, rtol=0)  # angle 1 not shifted: zero column


@pytest.mark.parametrize("shift", [0.0, math.pi, -2 * math.pi, float("nan"), float("inf")])
def test_shift_with_zero_sine_rejected(shift):
    with pytest.raises(ValueError, match="sin\\(shift\\)"):
        ShiftPlan(3, shift)


@pytest.mark.parametrize("shift", [None, "1.57", True, 1j])
def test_shift_must_be_a_real_number(shift):
    with pytest.raises(ValueError, match="shift must be a real number"):
        check_shift(shift)


@pytest.mark.parametrize("shifted", [[0, 1, 2], [0, 2], [1]])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_reduce_on_the_host_equals_the_torch_reduce(shifted, dtype):
    """The shift rule's numpy reduce (estimates on the host) gives the torch reduce's numbers, bit for bit."""
    plan, batch = ShiftPlan(3, shift=0.7), 4
    shifted = np.array(shifted)
    estimates = torch.randn((1 + 2 * len(shifted)) * batch, 2, generator=torch.Generator().manual_seed(3), dtype=dtype)
    on_host = plan.reduce(estimates.numpy(), shifted, batch)
    for host, reference in zip(on_host, plan.reduce(estimates, shifted, batch)):
        assert isinstance(host, np.ndarray) and host.dtype == estimates.numpy().dtype
        assert torch.equal(torch.from_numpy(np.ascontiguousarray(host)), reference)
