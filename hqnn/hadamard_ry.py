"""Closed forms: circuits whose readouts are known functions of their angles, so values and slopes need no
simulation. The chapter's H·RY(γ) per qubit is the one hqnn knows: P(1) = (1 + sin γ)/2, dP/dγ = cos γ / 2, and
angle k drives readout k alone (its Jacobian is diagonal)."""

from __future__ import annotations

import torch


class HadamardRY:
    """H then RY(γ_k) on qubit k, qubit k measured: readout k is a function of γ_k only."""

    def p1(self, gamma: torch.Tensor) -> torch.Tensor:
        """P(1) = (1 + sin γ)/2, elementwise."""
        return torch.sin(gamma).mul_(0.5).add_(0.5)

    def slope(self, gamma: torch.Tensor) -> torch.Tensor:
        """dP(1)/dγ = cos γ / 2, elementwise."""
        return torch.cos(gamma).mul_(0.5)

    def __repr__(self) -> str:
        return "HadamardRY()"
