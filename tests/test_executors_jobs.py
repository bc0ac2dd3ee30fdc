"""The fewest jobs that fit a provider's limit (hqnn.executors.jobs): split by rows, all submitted before any
result is awaited, stitched in row order, statistically the same as one job, seeded runs reproducible; a failed
job retried alone; a clear error, nothing partial, and a usable layer after the last try."""

import numpy as np
import pytest
import torch
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2 as AerEstimatorV2
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

import hqnn.strategies.shift_rule as shift_rule
from hqnn import AerStatevectorExecutor, Hybrid, angle_encoder, entangling_ansatz
from hqnn.cost import JobCost
from hqnn.executors.aer_job import AER_SIMULATE
from hqnn.executors.jobs import IBM_MAX_EXECUTIONS, JobPolicy, MalformedResult
from hqnn.stats import fit_pvalue, two_sample_pvalue

from faulty import Faulty

SHOTS = 1000
FOUR = angle_encoder(4).then(entangling_ansatz(4, reps=1))


def four_qubit_layer(backend, **kwargs) -> Hybrid:
    return Hybrid(backend, SHOTS, **FOUR.hybrid_kwargs(), readout="z", backoff=0, **kwargs)


def record_jobs(monkeypatch) -> list:
    """(rows, features) of every forward + backward's jobs, as the shift rule gets them."""
    seen = []
    run_jobs = shift_rule.run_jobs

    def spy(executor, rows, policy, memory_rows=None):
        features = run_jobs(executor, rows, policy, memory_rows)
        seen.append((rows.detach().clone(), features.detach().clone()))
        return features

    monkeypatch.setattr(shift_rule, "run_jobs", spy)
    return seen


def p_odd(features: torch.Tensor) -> np.ndarray:
    """Parity features ⟨(−1)^b⟩ as the proportion of odd outcomes, the binomial the χ² tests compare."""
    return ((1 - features.numpy()) / 2).ravel()


def inputs(batch: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, 4, generator=generator, dtype=torch.float64) * 6 - 3).requires_grad_()


def same_weights(layer: Hybrid, like: Hybrid) -> Hybrid:
    with torch.no_grad():
        layer.weights.copy_(like.weights)
    return layer


def test_acceptance_split_retried_jobs_match_one_job(monkeypatch):
    """A wrapper refuses any job over N executions and fails the first job's result once: a batch needing 3N
    executions runs in 3 jobs (+ the retried one), all submitted before the first result is awaited, with the
    statistics of an unsplit run."""
    per_sample = four_qubit_layer(AerSamplerV2(), max_executions=None).cost(1).executions
    n = per_sample  # a batch of 3 needs 3N
    faulty = Faulty(AerSamplerV2(seed=1), limit=n, fail_result={0})  # the wrapper takes no per-job seed: a fixed one
    layer = four_qubit_layer(faulty, seed=1, max_executions=n, retries=2)
    unsplit = same_weights(four_qubit_layer(AerSamplerV2(), seed=2, max_executions=None), layer)
    assert layer.cost(3) == JobCost(3, 3 * per_sample // SHOTS, 3 * n)
    assert unsplit.cost(3) == JobCost(1, 3 * per_sample // SHOTS, 3 * n)
    seen = record_jobs(monkeypatch)

    x = inputs(3)
    layer(x).sum().backward()
    y = inputs(3)
    unsplit(y).sum().backward()

    kinds = [e[0] for e in faulty.events]
    assert kinds[:3] == ["submit"] * 3  # all three submitted before the first result was awaited
    assert kinds.count("submit") == 4 and kinds.count("refused") == 0  # 3 jobs + the retried first one
    assert all(executions <= n for executions in faulty.submissions)
    assert kinds.index("result") == 3
    (rows, split), (rows_b, whole) = seen
    torch.testing.assert_close(rows, rows_b)
    p_split, p_whole = p_odd(split), p_odd(whole)
    assert two_sample_pvalue(p_split, p_whole, SHOTS) > 1e-3
    exact = p_odd(AerStatevectorExecutor(layer.spec).run(rows))
    assert fit_pvalue(p_split, exact, SHOTS) > 1e-3
    assert fit_pvalue(p_split, np.roll(exact, 7), SHOTS) < 1e-6  # planted: rows stitched out of order
    assert x.grad is not None and torch.isfinite(x.grad).all() and layer.weights.grad.shape == layer.weights.shape


def test_split_jobs_hold_at_most_max_executions_and_cost_counts_them(monkeypatch):
    faulty = Faulty(AerSamplerV2())
    layer = four_qubit_layer(faulty, max_executions=25 * SHOTS)
    cost = layer.cost(2)
    layer(inputs(2)).sum().backward()
    assert cost.jobs == len(faulty.submissions) == -(-cost.circuits // 25)
    assert max(faulty.submissions) <= 25 * SHOTS and sum(faulty.submissions) == cost.executions


def test_one_row_over_the_limit_is_refused_when_the_layer_is_built():
    with pytest.raises(ValueError, match=r"one row needs 1 circuit\(s\) × 1000 shots = 1,000 executions.*max_executions=999"):
        four_qubit_layer(AerSamplerV2(), max_executions=999)
    for bad in (0, -1, 2.5, True, "many"):
        with pytest.raises(ValueError, match="max_executions must be a positive integer"):
            four_qubit_layer(AerSamplerV2(), max_executions=bad)
    with pytest.raises(ValueError, match="retries must be a whole number"):
        four_qubit_layer(AerSamplerV2(), retries=-1)
    with pytest.raises(ValueError, match="backoff must be a finite number"):
        Hybrid("aer", 10, backoff=float("nan"))


def test_default_limit_is_the_providers_for_ibm_runtime_none_for_local():
    assert four_qubit_layer(AerSamplerV2()).jobs.max_executions is None
    assert Hybrid("aer", 100).jobs == JobPolicy(None, 2, 1.0)
    runtime = pytest.importorskip("qiskit_ibm_runtime")
    fake = pytest.importorskip("qiskit_ibm_runtime.fake_provider").FakeManilaV2()
    ten_digit = angle_encoder(4).then(entangling_ansatz(4, reps=2))  # the README's ten-digit model's circuit
    layer = Hybrid(runtime.SamplerV2(mode=fake), 1000, **ten_digit.hybrid_kwargs(), readout="z")
    assert layer.jobs.max_executions == IBM_MAX_EXECUTIONS == 5_000_000
    # At B = 256 and 1,000 shots: 14.6 M executions, 3 jobs under IBM's limit.
    assert layer.cost(256) == JobCost(3, 256 * 57, 256 * 57 * 1000)


def test_split_aer_backend_jobs_are_statistically_one_job_and_seeded(monkeypatch):
    seen = record_jobs(monkeypatch)
    split = four_qubit_layer(AerSimulator(), seed=4, max_executions=10 * SHOTS)
    whole = same_weights(four_qubit_layer(AerSimulator(), seed=5, max_executions=None), split)
    runs = []
    backend = split.strategy.executor.backend
    run = getattr(backend, AER_SIMULATE)  # every Aer job runs it once, however it runs
    monkeypatch.setattr(backend, AER_SIMULATE, lambda *a, **k: runs.append(1) or run(*a, **k))
    split(inputs(2)).sum().backward()
    assert len(runs) == split.cost(2).jobs == 9  # 82 rows in jobs of 10
    whole(inputs(2)).sum().backward()
    (rows, a), (_, b) = seen
    assert two_sample_pvalue(p_odd(a), p_odd(b), SHOTS) > 1e-3
    again = four_qubit_layer(AerSimulator(), seed=4, max_executions=10 * SHOTS)
    again(inputs(2)).sum().backward()
    torch.testing.assert_close(seen[2][1], a, rtol=0, atol=0)  # same seed: the same split run


def test_split_seeded_sampler_runs_reproduce(monkeypatch):
    seen = record_jobs(monkeypatch)
    for _ in range(2):
        four_qubit_layer(AerSamplerV2(), seed=9, max_executions=7 * SHOTS)(inputs(2)).sum().backward()
    torch.testing.assert_close(seen[0][1], seen[1][1], rtol=0, atol=0)


def test_split_estimator_jobs_are_statistically_one_job(monkeypatch):
    seen = record_jobs(monkeypatch)
    split = four_qubit_layer(AerEstimatorV2(), seed=3, max_executions=40 * SHOTS)
    whole = same_weights(four_qubit_layer(AerEstimatorV2(), seed=6, max_executions=None), split)
    assert split.cost(2).jobs == -(-82 * 4 // 40)  # 4 observables per row
    split(inputs(2)).sum().backward()
    whole(inputs(2)).sum().backward()
    (_, a), (_, b) = seen
    # Aer's estimator draws N(<Z>, 1/shots): the difference of two such draws has variance 2/shots.
    chi2 = float(((a - b) ** 2).sum() * SHOTS / 2)
    from scipy import stats

    assert stats.chi2.sf(chi2, df=a.numel()) > 1e-3


def test_fail_once_at_submission_is_resubmitted():
    faulty = Faulty(AerSamplerV2(), fail_submit={0})
    layer = four_qubit_layer(faulty)
    layer(inputs(1)).sum().backward()
    assert [e[0] for e in faulty.events] == ["refused", "submit", "result"]


def test_fail_once_at_the_result_is_resubmitted():
    faulty = Faulty(AerSamplerV2(), fail_result={0})
    four_qubit_layer(faulty)(inputs(1)).sum().backward()
    assert [e[:2] for e in faulty.events] == [("submit", 0), ("result", 0), ("submit", 1), ("result", 1)]


def test_fail_always_names_the_jobs_returns_nothing_and_the_layer_stays_usable():
    faulty = Faulty(AerSamplerV2(), always=True)
    layer = four_qubit_layer(faulty, retries=2)
    x = inputs(1)
    with pytest.raises(RuntimeError, match=r"job faulty-2 .*failed 3 time\(s\).*internal error 1517") as error:
        layer(x).sum().backward()
    assert "(earlier tries: faulty-0, faulty-1)" in str(error.value)
    assert "no result was returned" in str(error.value) and x.grad is None
    assert [e[0] for e in faulty.events].count("submit") == 3
    faulty.always = False
    out = layer(x)
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_fail_always_at_submission_says_so():
    faulty = Faulty(AerSamplerV2(), fail_submit={0, 1})
    with pytest.raises(RuntimeError, match=r"job 1 of 1 .*failed 2 time\(s\) at submission.*dropped by the network"):
        four_qubit_layer(faulty, retries=1)(inputs(1))


def test_one_failed_split_job_is_the_only_one_resubmitted(monkeypatch):
    seen = record_jobs(monkeypatch)
    faulty = Faulty(AerSamplerV2(), fail_result={1})
    layer = four_qubit_layer(faulty, max_executions=30 * SHOTS)  # 41 rows: jobs of 30 and 11
    layer(inputs(1)).sum().backward()
    assert faulty.submissions == [30 * SHOTS, 11 * SHOTS, 11 * SHOTS]  # the second job, again
    rows, features = seen[0]
    assert features.shape == (41, 4)
    exact = p_odd(AerStatevectorExecutor(layer.spec).run(rows))
    assert fit_pvalue(p_odd(features), exact, SHOTS) > 1e-3


def test_a_malformed_result_is_a_clear_error_not_retried():
    faulty = Faulty(AerSamplerV2(), malformed={0})
    layer = four_qubit_layer(faulty)
    with pytest.raises(MalformedResult, match=r"sampler job faulty-0 returned a malformed result: PUB 0 has no 'readout'"):
        layer(inputs(1))
    assert [e[0] for e in faulty.events] == ["submit", "result"]
    short = Faulty(AerSamplerV2(), short={0})
    with pytest.raises(RuntimeError, match=r"malformed result: sampler returned samples of shape \(1, 1000\), expected \(41, 1000\)"):
        four_qubit_layer(short)(inputs(1)).sum().backward()
    layer(inputs(1)).sum().backward()  # usable afterwards


def test_a_batch_over_max_memory_is_split_by_the_same_mechanism_one_job_at_a_time(monkeypatch):
    """Aer's memory guard: a shift-rule batch whose one job would exceed max_memory runs as jobs of the rows
    that fit, each awaited before the next is submitted (they share this machine's memory)."""
    import hqnn.executors.aer as aer
    from hqnn.memory import MIB

    wide = angle_encoder(10)  # 10 measured bits: Aer keeps up to 1,024 outcomes per experiment
    layer = Hybrid("aer", 2000, **wide.hybrid_kwargs(), readout="z", seed=1, max_memory=70 * MIB)
    assert layer.strategy.memory(16, "cpu") > 70 * MIB  # one job of 16 samples (336 rows) would not fit
    events = []
    backend = layer.strategy.executor.backend
    run, results = getattr(backend, AER_SIMULATE), aer.bound_results
    monkeypatch.setattr(backend, AER_SIMULATE, lambda *a, **k: events.append("submit") or run(*a, **k))
    monkeypatch.setattr(aer, "bound_results", lambda job: events.append("result") or results(job))
    seen = record_jobs(monkeypatch)
    cost = layer.cost(16)
    x = torch.rand(16, 10, dtype=torch.float64, requires_grad=True)
    layer(x).sum().backward()
    rows = layer.strategy.memory_rows
    assert rows is not None and layer.strategy.executor.memory(rows) <= 70 * MIB
    assert cost.jobs == -(-336 // rows) == events.count("submit") >= 2
    assert events == ["submit", "result"] * cost.jobs  # one after another
    (angles, features), = seen
    exact = p_odd(AerStatevectorExecutor(layer.spec).run(angles))
    assert fit_pvalue(p_odd(features), exact, 2000) > 1e-3
    assert torch.isfinite(x.grad).all()


def test_a_refused_job_is_not_retried_and_its_error_is_raised_as_it_is():
    """A provider's input validation (a ValueError) cannot be mended by another try."""
    faulty = Faulty(AerSamplerV2(), limit=10 * SHOTS)
    layer = four_qubit_layer(faulty, max_executions=None)  # the wrapper's limit, unknown to the layer
    with pytest.raises(ValueError, match="job of 41000 executions exceeds the limit of 10000"):
        layer(inputs(1)).sum().backward()
    assert [e[0] for e in faulty.events] == ["refused"]
