"""What the dashboard's keys ask for: the rate steps, symbol cycling, pause toggling.

Plain functions, tested without an app (tests/tui/test_policy.py); the app only calls them with
the values of the latest Snapshot and sends the result through ``SimControl``.

Rate steps (also shown on the help screen):

* ``+`` doubles the target rate. Past ``MAX_FINITE_RATE`` it becomes 0, "max" (as fast as
  possible); at "max" it stays there.
* ``-`` halves it, never below ``MIN_RATE``. From "max" it goes to ``RATE_BELOW_MAX``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from simulator.stats import RunState

MIN_RATE = 1.0
MAX_FINITE_RATE = 1_000_000.0
RATE_BELOW_MAX = 100_000.0

T = TypeVar("T")


def rate_up(rate: float) -> float:
    """The next faster target: double, then 'max' (0) past MAX_FINITE_RATE; 'max' stays."""
    if rate <= 0:
        return 0.0
    faster = max(rate * 2, MIN_RATE)
    return 0.0 if faster > MAX_FINITE_RATE else faster


def rate_down(rate: float) -> float:
    """The next slower target: half, never below MIN_RATE; from 'max' (0) RATE_BELOW_MAX."""
    if rate <= 0:
        return RATE_BELOW_MAX
    return max(rate / 2, MIN_RATE)


def neighbour_symbol(symbols: Sequence[str], current: str | None, step: int) -> str | None:
    """The symbol ``step`` places from ``current``, wrapping; None when there are no symbols.

    With no current symbol (or one not in the list), next (+1) is the first and previous (-1)
    the last.
    """
    if not symbols:
        return None
    if current not in symbols:
        return symbols[0] if step > 0 else symbols[-1]
    return symbols[(symbols.index(current) + step) % len(symbols)]


def pause_command(state: RunState) -> str | None:
    """'resume' when paused, 'pause' while starting or running, None once stopping."""
    if state is RunState.PAUSED:
        return "resume"
    if state in (RunState.STARTING, RunState.RUNNING):
        return "pause"
    return None


def shown_state(state: RunState | None, stopping: bool) -> RunState | None:
    """The state the header shows: STOPPING at once after a quit key, before Snapshots say so."""
    if stopping and state not in (RunState.STOPPING, RunState.STOPPED):
        return RunState.STOPPING
    return state


@dataclass(slots=True)
class Pending(Generic[T]):
    """A value the user asked for that the Snapshots do not show yet.

    Commands take effect on the bank's next tick, so a second key press soon after a first must
    start from what was asked, not from the stale Snapshot value: two quick '+' double twice.
    The request is forgotten once a Snapshot shows it, or after ``hold_s`` seconds (the bank may
    have refused or changed it).
    """

    hold_s: float = 1.0
    value: T | None = None
    until: float = 0.0

    def ask(self, value: T, now: float) -> None:
        self.value, self.until = value, now + self.hold_s

    def current(self, reported: T, now: float) -> T:
        if self.value is None or now >= self.until or reported == self.value:
            self.value = None
            return reported
        return self.value
