"""Shot statistics: is a backend's P(1) estimate consistent with a model, or with another backend?

An estimate from ``shots`` shots is Binomial(shots, p)/shots; a shift-rule slope is the difference of two such
estimates over 2 sin s. Each test sums Pearson χ² terms over rows (one degree of freedom per row).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

#: Model probabilities are kept this far from 0 and 1, so a certain outcome adds 0 when it happens.
P_FLOOR = 1e-12


def fit_pvalue(estimates: np.ndarray, p: np.ndarray, shots: int) -> float:
    """χ² goodness of fit of estimates (R,) or (R, n) to model probabilities; the smallest p-value over columns."""
    p = np.clip(p, P_FLOOR, 1 - P_FLOOR)
    chi2 = np.sum(shots * (estimates - p) ** 2 / (p * (1 - p)), axis=0)
    return float(np.min(stats.chi2.sf(chi2, df=len(estimates))))


def grouped_fit_pvalue(estimates: np.ndarray, p: np.ndarray, shots: int, groups: int = 8) -> float:
    """χ² of few-shot estimates (R,) or (R, n) summed over ``groups`` groups of rows with similar model probability
    (Hosmer–Lemeshow): each group's count sum against its mean Σ shots·p and variance Σ shots·p(1 − p). At one or a
    few shots a row's Pearson term is far from χ²₁ (an outcome of probability 0.01 adds 99), so
    :func:`fit_pvalue` is not calibrated there; group sums are. The smallest p-value over columns."""
    estimates, p = np.atleast_2d(estimates.T).T, np.clip(np.atleast_2d(p.T).T, P_FLOOR, 1 - P_FLOOR)
    pvalues = []
    for column in range(p.shape[1]):
        order = np.argsort(p[:, column], kind="stable")
        chi2 = 0.0
        for rows in np.array_split(order, groups):
            observed = shots * estimates[rows, column].sum()
            expected = shots * p[rows, column].sum()
            variance = shots * (p[rows, column] * (1 - p[rows, column])).sum()
            chi2 += (observed - expected) ** 2 / variance
        pvalues.append(stats.chi2.sf(chi2, df=groups))
    return float(min(pvalues))


def two_sample_pvalue(a: np.ndarray, b: np.ndarray, shots: int) -> float:
    """χ² for equal proportions of two estimates (R,) with the same shots; rows with a pooled p of 0 or 1 add
    no information and are dropped."""
    pooled = (a + b) / 2
    keep = (pooled > 0) & (pooled < 1)
    chi2 = np.sum(shots * (a - b)[keep] ** 2 / (2 * pooled[keep] * (1 - pooled[keep])))
    return float(stats.chi2.sf(chi2, df=int(keep.sum())))


def shift_rule_pvalue(
    slopes: np.ndarray, model: np.ndarray, p_plus: np.ndarray, p_minus: np.ndarray, shots: int, shift: float
) -> float:
    """χ² of shift-rule slope estimates against model derivatives, with the binomial variance of
    (f̂(γ+s) − f̂(γ−s)) / (2 sin s) given the true P(1) at γ ± s."""
    var = (p_plus * (1 - p_plus) + p_minus * (1 - p_minus)) / (shots * (2 * math.sin(shift)) ** 2)
    return float(stats.chi2.sf(np.sum((slopes - model) ** 2 / var), df=len(slopes)))


def mean_pvalue(samples: np.ndarray, expected: np.ndarray) -> float:
    """Hotelling's T² test that independent draws ``samples`` (N, p) of a vector estimator have mean
    ``expected`` (p,), with their sample covariance (the components of a gradient estimate are correlated).

    Components that never vary must equal ``expected`` exactly (to 1e-12), else the p-value is 0.
    """
    samples, expected = np.asarray(samples, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    n = len(samples)
    spread = samples.std(axis=0)
    fixed = spread <= 1e-12 * (1 + np.abs(samples).max())
    if np.any(np.abs(samples[:, fixed].mean(axis=0) - expected[fixed]) > 1e-12):
        return 0.0
    samples, expected = samples[:, ~fixed], expected[~fixed]
    p = samples.shape[1]
    if p == 0:
        return 1.0
    if n <= p:
        raise ValueError(f"need more draws than varying components: {n} draws, {p} components")
    difference = samples.mean(axis=0) - expected
    covariance = np.cov(samples, rowvar=False).reshape(p, p)
    t2 = n * difference @ np.linalg.solve(covariance, difference)
    return float(stats.f.sf(t2 * (n - p) / (p * (n - 1)), p, n - p))
