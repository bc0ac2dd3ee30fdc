"""Closed forms of the chapter circuit H·RY(θ)·measure, written independently of hqnn's kernels."""

import numpy as np


def p1_closed(theta):
    """P(1) of H·RY(θ)|0⟩."""
    return (1 + np.sin(theta)) / 2


def dp1_closed(theta):
    """dP(1)/dθ of H·RY(θ)|0⟩."""
    return np.cos(theta) / 2
