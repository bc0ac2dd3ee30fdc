"""What one forward + backward costs on a backend before it runs: jobs, circuits (bound experiments or PUB
elements) and executions (circuits × shots), the quantities a hardware provider limits and bills."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobCost:
    """``jobs`` submitted, ``circuits`` run in them and ``executions`` = circuits × shots (0 when exact)."""

    jobs: int
    circuits: int
    executions: int

    def __add__(self, other: JobCost) -> JobCost:
        return JobCost(self.jobs + other.jobs, self.circuits + other.circuits, self.executions + other.executions)

    def __mul__(self, times: int) -> JobCost:
        return JobCost(self.jobs * times, self.circuits * times, self.executions * times)

    @staticmethod
    def of_rows(rows: int, settings: int, shots: int | None) -> JobCost:
        """One job of ``rows`` angle rows, each measured in ``settings`` bases, with ``shots`` each."""
        circuits = rows * settings
        return JobCost(1 if rows else 0, circuits, circuits * (shots or 0))


class Ledger:
    """What a strategy actually submitted, summed over its jobs: ``add`` one job's cost as it runs."""

    def __init__(self) -> None:
        self.total = JobCost(0, 0, 0)

    def add(self, cost: JobCost) -> None:
        self.total = self.total + cost

    @property
    def executions(self) -> int:
        return self.total.executions
