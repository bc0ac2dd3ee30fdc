"""Issue 13: the emulator's multinomial draws on the CPU come from a numba binomial tree seeded from the layer's
torch generator: counts sum to the shots, impossible outcomes never appear, the same seed gives the same counts,
and the counts follow the multinomial distribution (mean and covariance, χ² of the pooled counts)."""

import numpy as np
import pytest
import torch
from scipy import stats

from hqnn.kernels.multinomial import BERNOULLI
from hqnn.sampling import multinomial_counts


def distribution(size=16, seed=0):
    p = np.random.default_rng(seed).dirichlet(np.ones(size))
    p[3] = 0.0
    return p / p.sum()


def test_counts_sum_to_shots_and_skip_impossible_outcomes():
    p = torch.from_numpy(np.stack([distribution(), distribution(seed=1)]))
    counts = multinomial_counts(p, 1000, torch.Generator().manual_seed(0))
    assert counts.dtype == torch.float64 and counts.shape == (2, 16)
    assert torch.equal(counts.sum(1), torch.full((2,), 1000.0))
    assert torch.all(counts[:, 3] == 0) and torch.all(counts >= 0)


def test_same_seed_same_counts_other_seed_differs():
    p = torch.from_numpy(np.tile(distribution(), (50, 1)))
    a = multinomial_counts(p, 100, torch.Generator().manual_seed(5))
    b = multinomial_counts(p, 100, torch.Generator().manual_seed(5))
    c = multinomial_counts(p, 100, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("shots", [1, 7, 1000])
def test_counts_follow_the_multinomial(shots):
    p = distribution(32, seed=2)
    rows = 20000
    counts = multinomial_counts(torch.from_numpy(np.tile(p, (rows, 1))), shots, torch.Generator().manual_seed(3))
    counts = counts.numpy()
    # means: shots·p within 5 standard errors; covariance of two outcomes: −shots·p_i·p_j
    se = np.sqrt(shots * p * (1 - p) / rows)
    assert np.all(np.abs(counts.mean(0) - shots * p) <= 5 * se + 1e-12)
    cov = np.cov(counts[:, 0], counts[:, 1])[0, 1]
    assert abs(cov + shots * p[0] * p[1]) <= 5 * np.sqrt(shots**2 * p[0] * p[1] * 2 / rows) + 1e-9
    pooled = counts.sum(0)
    keep = p > 0
    assert stats.chisquare(pooled[keep], rows * shots * p[keep]).pvalue > 1e-4


def test_float32_probabilities_give_float32_counts():
    p = torch.from_numpy(distribution()).float()[None]
    counts = multinomial_counts(p, 10, torch.Generator().manual_seed(0))
    assert counts.dtype == torch.float32 and counts.sum() == 10


@pytest.mark.parametrize("shots", [BERNOULLI // 3, 7 * BERNOULLI])  # Bernoulli trials; numba's binomial at the root
def test_two_outcome_counts_follow_the_binomial(shots):
    """Each path of the tree's binomial draws, against scipy's Binomial(shots, p) pmf (χ² over the count histogram)."""
    p, rows = 0.3, 40000
    probabilities = torch.tensor([[1 - p, p]], dtype=torch.float64).expand(rows, 2)
    ones = multinomial_counts(probabilities, shots, torch.Generator().manual_seed(4))[:, 1].numpy().astype(np.int64)
    law = stats.binom(shots, p)
    edges = np.unique(law.ppf(np.linspace(0, 1, 21)[1:-1]).astype(np.int64))  # ~20 bins of similar mass
    bins = np.concatenate(([-1], edges, [shots]))
    observed = np.histogram(ones, bins=bins + 0.5)[0]
    expected = rows * np.diff(law.cdf(bins))
    assert observed.sum() == rows and stats.chisquare(observed, expected).pvalue > 1e-4
