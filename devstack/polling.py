"""Waiting on a condition with a deadline: the one way the stack, the tests, the demo and
the bench wait for anything (never a bare sleep standing in for a condition)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlinePassed(TimeoutError, AssertionError):
    """The condition did not hold in time. An AssertionError too, so a test that waits
    fails as an assertion, and a TimeoutError, so a script can tell it from a bug."""


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.05,
               message: str = "") -> T:
    """Poll `predicate` until it returns something truthy (returned) or `timeout` seconds
    pass (DeadlinePassed). An exception from `predicate` ends the wait at once."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DeadlinePassed(
                f"timed out after {timeout:g}s waiting for {message or predicate}")
        time.sleep(interval)
