"""Waiting on a condition with a deadline: the one way tests synchronise with a live run.

A test never sleeps for a fixed time hoping something happened; it names the condition it needs
and waits for it, up to a deadline, then fails with a message saying what never came.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.02  # fine enough for a 10 Hz snapshot, coarse enough to leave the cores to the run


def deadline_wait(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    what: str = "the condition",
    *,
    abort: Callable[[], str | None] | None = None,
    detail: Callable[[], str] | None = None,
    poll: float = POLL_S,
) -> T:
    """Call ``predicate`` until it returns something true, and return that.

    Raises AssertionError after ``timeout`` seconds, or as soon as ``abort`` returns a reason
    (waiting on a process that has exited is pointless); ``detail`` adds context to the message,
    e.g. the process's last output.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        reason = abort() if abort is not None else None
        if reason is not None:
            # what the process did just before it went may have made the condition true
            value = predicate()
            if value:
                return value
            problem = f"{reason} before {what}"
        elif time.monotonic() >= deadline:
            problem = f"timed out after {timeout:g} s waiting for {what}"
        else:
            time.sleep(poll)
            continue
        raise AssertionError(problem + (f"\n{detail()}" if detail is not None else ""))
