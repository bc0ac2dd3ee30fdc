"""Shared fixtures: a counter of executor jobs."""

import pytest


class CallCounter:
    """Replaces ``owner.name`` with a wrapper that counts its calls."""

    def __init__(self, owner, name):
        self.calls = 0
        self._inner = getattr(owner, name)
        setattr(owner, name, self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self._inner(*args, **kwargs)


@pytest.fixture
def count_calls():
    """``count_calls(obj, "run")`` counts calls of ``obj.run`` from now on and returns the counter."""
    return CallCounter
