"""Interleaved pairs: before each timed round, one round of the other side of a ratio is timed too, and its median
is recorded with the benchmark (``extra_info["interleaved"]``), so the report divides medians timed moments apart,
not tests minutes apart (the machine's speed drifts in between; report.py ``paired_ratio``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


class OtherSide:
    """The rounds of ``system``, the other side of a pair, each timed just before a round of the benchmark."""

    def __init__(self, system: str):
        self.system = system
        self.seconds: list[float] = []

    def time(self, call: Callable, *args, **kwargs) -> None:
        """``call(*args, **kwargs)``, timed as one round; returns nothing, so it can be a benchmark's ``setup``."""
        start = time.perf_counter()
        call(*args, **kwargs)
        self.seconds.append(time.perf_counter() - start)

    def record(self, benchmark) -> None:
        """The rounds' median in the benchmark's ``extra_info["interleaved"]`` (nothing if none ran)."""
        if self.seconds:
            benchmark.extra_info["interleaved"] = {self.system: statistics.median(self.seconds)}
