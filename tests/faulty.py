"""A fault-injecting sampler: wraps a real one, refuses jobs over a limit, fails chosen submissions or results,
returns malformed results (no readout register, or too few rows: ``short``), and records every submission and every wait for a result in order."""

from __future__ import annotations

import numpy as np
from qiskit.primitives import BaseSamplerV2
from qiskit.primitives.containers.sampler_pub import SamplerPub


class Faulty(BaseSamplerV2):
    """``inner``'s jobs, with faults: ``limit`` refuses a job over that many executions at submission;
    ``fail_submit`` / ``fail_result`` / ``malformed`` are sets of submission numbers (0, 1, …) to fail at
    submission, at the result, or to answer without the readout register; ``always`` fails every result."""

    def __init__(self, inner, limit=None, fail_submit=(), fail_result=(), malformed=(), always=False, short=()):
        self.inner, self.limit, self.short = inner, limit, set(short)
        self.fail_submit, self.fail_result, self.malformed = set(fail_submit), set(fail_result), set(malformed)
        self.always = always
        self.events: list[tuple] = []  # ("submit", n, executions), ("refused", n, executions), ("result", n)

    @property
    def submissions(self) -> list[int]:
        return [e[2] for e in self.events if e[0] == "submit"]

    def run(self, pubs, *, shots=None):
        n = sum(1 for e in self.events if e[0] in ("submit", "refused"))
        coerced = [SamplerPub.coerce(pub, shots) for pub in pubs]
        executions = sum(int(np.prod(p.shape, dtype=np.int64)) * p.shots for p in coerced)
        if self.limit is not None and executions > self.limit:
            self.events.append(("refused", n, executions))
            raise ValueError(f"job of {executions} executions exceeds the limit of {self.limit}")
        if n in self.fail_submit:
            self.events.append(("refused", n, executions))
            raise ConnectionError(f"submission {n} dropped by the network")
        self.events.append(("submit", n, executions))
        if n in self.short:  # answers for the first row only: a result of the wrong shape
            pubs = [(p.circuit, p.parameter_values.as_array()[:1], p.shots) for p in coerced]
        return FaultyJob(self, n, self.inner.run(pubs, shots=shots))


class FaultyJob:
    def __init__(self, sampler: Faulty, n: int, job):
        self.sampler, self.n, self.job = sampler, n, job

    def job_id(self) -> str:
        return f"faulty-{self.n}"

    def result(self):
        self.sampler.events.append(("result", self.n))
        result = self.job.result()
        if self.sampler.always or self.n in self.sampler.fail_result:
            raise RuntimeError(f"job faulty-{self.n}: internal error 1517 on the device")
        if self.n in self.sampler.malformed:
            return [_NoReadout() for _ in range(len(result))]
        return result


class _Registers:
    meas = None  # a register that is not called "readout"

    def __iter__(self):
        return iter(["meas"])


class _NoReadout:
    data = _Registers()
