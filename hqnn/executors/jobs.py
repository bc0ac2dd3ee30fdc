"""The fewest jobs that fit: an angle matrix split by rows into jobs of at most ``max_executions`` circuits ×
shots, every job submitted before any result is awaited, a failed job resubmitted alone (with backoff), and
the features stitched back in row order. Nothing partial is returned: a job that still fails after its last
try raises ``RuntimeError`` naming the job id(s) and the provider's message.

Provider limit: IBM Quantum's job validation refuses a Sampler job above 5,000,000 executions, counted as
circuits × shots after PUB broadcasting (IBM Quantum documentation, "Job limits",
https://quantum.cloud.ibm.com/docs/en/guides/job-limits; older versions of that guide said 10,000,000).
Estimator jobs are split on the service side, so estimators have no default limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..cost import JobCost

#: IBM Runtime's largest Sampler job: circuits × shots after PUB broadcasting (see the module docstring).
IBM_MAX_EXECUTIONS = 5_000_000
#: ``Hybrid(max_executions=AUTO)``: the provider's limit for IBM Runtime samplers, none for local simulators.
AUTO = "auto"


class MalformedResult(RuntimeError):
    """A job finished but its result is not what was submitted (shape, registers): not retried."""


#: Failures that another try cannot mend, raised as they are: a malformed result, and bad input or a refused
#: request (``ValueError``, ``TypeError``: e.g. a local simulator's check, a provider's input validation).
NOT_RETRIED = (MalformedResult, ValueError, TypeError)


@dataclass(frozen=True)
class JobPolicy:
    """How one forward + backward becomes jobs: at most ``max_executions`` circuits × shots each (``None``: no
    limit), ``retries`` resubmissions of a failed job, waiting ``backoff`` · 2^k seconds before try k + 1."""

    max_executions: int | None = None
    retries: int = 2
    backoff: float = 1.0

    def __post_init__(self) -> None:
        m = self.max_executions
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise ValueError(
                f"max_executions must be a positive integer (circuits × shots per job), None (no limit) or "
                f"{AUTO!r} (the provider's limit), got {m!r}"
            )
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f"retries must be a whole number ≥ 0 (resubmissions of a failed job), got {self.retries!r}")
        b = self.backoff
        if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b) or b < 0:
            raise ValueError(f"backoff must be a finite number of seconds ≥ 0, got {b!r}")

    def rows_per_job(self, circuits_per_row: int, shots: int | None, memory_rows: int | None = None) -> int | None:
        """The most rows one job may hold (``None``: all of them): within ``max_executions`` and, when given,
        ``memory_rows`` (the most rows whose job fits this machine's memory; see :meth:`hqnn.Hybrid.check_memory`)."""
        if self.max_executions is None or not shots:
            return memory_rows
        per_row = circuits_per_row * shots
        rows = self.max_executions // per_row
        if rows < 1:
            raise ValueError(
                f"one row needs {circuits_per_row} circuit(s) × {shots} shots = {per_row:,} executions, more than "
                f"max_executions={self.max_executions:,}: use fewer shots, or raise max_executions"
            )
        return rows if memory_rows is None else min(rows, memory_rows)

    def cost(self, rows: int, circuits_per_row: int, shots: int | None, memory_rows: int | None = None) -> JobCost:
        """Jobs, circuits and executions of ``rows`` rows split by this policy (and by ``memory_rows``)."""
        total = JobCost.of_rows(rows, circuits_per_row, shots)
        per_job = self.rows_per_job(circuits_per_row, shots, memory_rows)
        return total if per_job is None or not rows else JobCost(-(-rows // per_job), total.circuits, total.executions)


class Finished:
    """A job that ran when it was submitted (local simulators): its features."""

    job_id = None

    def __init__(self, features: torch.Tensor):
        self.features = features

    def result(self) -> torch.Tensor:
        return self.features


class Pending:
    """A submitted provider job and how to turn its result into features; ``result`` waits for it."""

    def __init__(self, job: Any, decode: Callable[[Any], torch.Tensor], what: str):
        self.job, self.decode, self.what = job, decode, what
        self.job_id = _job_id(job)

    def result(self) -> torch.Tensor:
        raw = self.job.result()
        try:
            return self.decode(raw)
        except MalformedResult:
            raise
        except Exception as error:
            raise MalformedResult(f"{self.what} job {self.job_id} returned a malformed result: {error}") from error

    def cancel(self) -> None:
        cancel = getattr(self.job, "cancel", None)
        if callable(cancel):
            try:
                cancel()
            except Exception:  # best effort: the job may have finished or the provider may refuse
                pass


def run_jobs(
    executor, angles: torch.Tensor, policy: JobPolicy, memory_rows: int | None = None, shots: np.ndarray | None = None
) -> torch.Tensor:
    """Features (R, F) of every row of ``angles`` from ``executor``, in the fewest jobs ``policy`` allows
    (``shots``: a count per row, split with the rows).

    Each job's seed is drawn from the executor's stream in row order before anything is submitted (a seeded
    run gives the same features however its jobs finish); a retried job keeps its seed. ``memory_rows``: jobs
    split to fit this machine's memory run one after another (each is awaited before the next is submitted);
    otherwise all are submitted before any result is awaited.
    """
    per_job = policy.rows_per_job(executor.circuits_per_row, executor.shots, memory_rows) or max(1, len(angles))
    if per_job >= len(angles):  # one job (the common case): no splitting
        chunks, row_shots = [angles], [shots]
    else:
        chunks = list(angles.split(per_job))
        row_shots = [None] * len(chunks) if shots is None else np.split(shots, range(per_job, len(angles), per_job))
    window = 1 if memory_rows is not None else len(chunks)  # jobs in flight at once
    seeds = [executor.job_seed() for _ in chunks]
    tries = [0] * len(chunks)
    jobs: list = [None] * len(chunks)
    failed_ids: list[list[str]] = [[] for _ in chunks]
    submitted = 0
    try:
        features = []
        for i in range(len(chunks)):
            while submitted < min(len(chunks), i + window):  # all of them at once, unless memory-bound
                jobs[submitted] = _submit(executor, chunks, row_shots, seeds, submitted, tries, policy)
                submitted += 1
            while True:
                try:
                    features.append(jobs[i].result())
                    break
                except NOT_RETRIED:
                    raise
                except Exception as error:
                    failed_ids[i].append(getattr(jobs[i], "job_id", None) or "(no id)")
                    if tries[i] >= policy.retries:
                        raise _failed(executor, failed_ids[i], error, chunks, i, tries[i]) from error
                    _wait(policy, tries[i])
                    tries[i] += 1
                    jobs[i] = _submit(executor, chunks, row_shots, seeds, i, tries, policy)
    except BaseException:
        for job in jobs:
            if isinstance(job, Pending):
                job.cancel()
        raise
    return features[0] if len(features) == 1 else torch.cat(features)


def _submit(executor, chunks, row_shots, seeds, index, tries, policy):
    """Submit chunk ``index``, retrying a submission that raises (it counts as a try)."""
    while True:
        try:
            return executor.submit(chunks[index], seeds[index], row_shots[index])
        except NOT_RETRIED:
            raise
        except Exception as error:
            if tries[index] >= policy.retries:
                name = type(executor).__name__
                raise RuntimeError(
                    f"{name}: job {index + 1} of {len(chunks)} ({len(chunks[index])} rows, no job id: not accepted) "
                    f"failed {tries[index] + 1} time(s) at submission: {type(error).__name__}: {error}; "
                    "no result was returned, the layer can run the next batch"
                ) from error
            _wait(policy, tries[index])
            tries[index] += 1


def _failed(executor, ids: list[str], error: BaseException, chunks, index: int, retried: int) -> RuntimeError:
    """The error after a job's last try: its id, the ids of its earlier tries, and the provider's message."""
    earlier = f" (earlier tries: {', '.join(ids[:-1])})" if len(ids) > 1 else ""
    return RuntimeError(
        f"{type(executor).__name__}: job {ids[-1]} ({len(chunks[index])} rows, part {index + 1} of {len(chunks)}) "
        f"failed {retried + 1} time(s){earlier}: {type(error).__name__}: {error}; no result was returned, the "
        "layer can run the next batch"
    )


def _wait(policy: JobPolicy, attempt: int) -> None:
    if policy.backoff:
        time.sleep(policy.backoff * 2**attempt)


def _job_id(job: Any) -> str | None:
    job_id = getattr(job, "job_id", None)
    try:
        return str(job_id()) if callable(job_id) else (None if job_id is None else str(job_id))
    except Exception:
        return None
