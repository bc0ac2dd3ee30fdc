"""hqnn.stats is calibrated: under the null its p-values are uniform; off the null they collapse."""

import numpy as np
from scipy import stats

from hqnn.stats import fit_pvalue, grouped_fit_pvalue, shift_rule_pvalue, two_sample_pvalue

SHOTS = 100


def null_pvalues(test, draws=300, rows=40, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.1, 0.9, rows)
    return np.array([test(rng, p) for _ in range(draws)])


def test_fit_pvalues_uniform_under_null_and_tiny_off_it():
    pvalues = null_pvalues(lambda rng, p: fit_pvalue(rng.binomial(SHOTS, p) / SHOTS, p, SHOTS))
    assert stats.kstest(pvalues, "uniform").pvalue > 1e-3
    rng = np.random.default_rng(1)
    p = np.full(400, 0.5)
    assert fit_pvalue(rng.binomial(SHOTS, p) / SHOTS, p + 0.1, SHOTS) < 1e-6


def test_fit_takes_the_worst_column_and_certain_outcomes():
    estimates = np.array([[0.0, 0.5], [1.0, 0.5]])
    assert fit_pvalue(estimates, np.array([[0.0, 0.5], [1.0, 0.5]]), SHOTS) > 0.99
    assert fit_pvalue(estimates, np.array([[0.0, 0.5], [1.0, 0.9]]), SHOTS) < 1e-6


def test_grouped_fit_is_calibrated_at_one_shot_where_the_per_row_fit_is_not():
    def draws(test, rng):  # 160 one-shot rows with probabilities down to 1 %, as a sampler's rare outcomes
        p = rng.uniform(0.01, 0.99, 160)
        return test(rng.binomial(1, p).astype(float), p, 1)

    grouped = null_pvalues(lambda rng, _: draws(grouped_fit_pvalue, rng))
    assert stats.kstest(grouped, "uniform").pvalue > 1e-3
    per_row = null_pvalues(lambda rng, _: draws(fit_pvalue, rng))
    assert stats.kstest(per_row, "uniform").pvalue < 1e-6  # why the grouped test exists
    rng = np.random.default_rng(3)
    p = rng.uniform(0.01, 0.99, 800)
    assert grouped_fit_pvalue(rng.binomial(1, p).astype(float), 1 - p, 1) < 1e-6  # a planted wrong model


def test_two_sample_pvalues_uniform_under_null():
    def pvalue(rng, p):
        return two_sample_pvalue(rng.binomial(SHOTS, p) / SHOTS, rng.binomial(SHOTS, p) / SHOTS, SHOTS)

    pvalues = null_pvalues(pvalue)
    assert stats.kstest(pvalues, "uniform").pvalue > 1e-3


def test_shift_rule_pvalues_uniform_under_null_and_reject_a_factor_two():
    shift = 0.8
    scale = 1 / (2 * np.sin(shift))

    def pvalue(rng, p, factor=1.0):
        up, down = np.clip(p + 0.05, 0, 1), np.clip(p - 0.05, 0, 1)
        estimate = factor * (rng.binomial(SHOTS, up) - rng.binomial(SHOTS, down)) / SHOTS * scale
        return shift_rule_pvalue(estimate, (up - down) * scale, up, down, SHOTS, shift)

    assert stats.kstest(null_pvalues(pvalue), "uniform").pvalue > 1e-3
    rng = np.random.default_rng(2)
    assert pvalue(rng, rng.uniform(0.1, 0.9, 400), factor=2.0) < 1e-6
