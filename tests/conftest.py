"""Shared fixtures: a recorder of calls (executor jobs, backend runs), undone when the test ends."""

import pytest


class CallCounter:
    """Wraps ``owner.name`` so that each call is recorded (``calls``: how many, ``arguments``: their args)."""

    def __init__(self, monkeypatch, owner, name):
        self.calls = 0
        self.arguments: list[tuple] = []
        self._inner = getattr(owner, name)
        monkeypatch.setattr(owner, name, self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        self.arguments.append((args, kwargs))
        return self._inner(*args, **kwargs)


@pytest.fixture
def count_calls(monkeypatch):
    """``count_calls(obj, "run")`` records calls of ``obj.run`` from now on and returns the recorder; the original
    is restored when the test ends."""
    return lambda owner, name: CallCounter(monkeypatch, owner, name)
