"""What the dashboard's keys ask for: the rate steps, symbol cycling, pause toggling, and the
requests the Snapshots do not show yet.

Plain functions and one frozen record, tested without an app (tests/tui/test_policy.py); the
app calls them with the values of the latest Snapshot and sends the result through
``SimControl``.

Rate steps (also shown on the help screen):

* ``+`` doubles the target rate. Past ``MAX_FINITE_RATE`` it becomes 0, "max" (as fast as
  possible); at "max" it stays there.
* ``-`` halves it, never below ``MIN_RATE``. From "max" it goes to ``RATE_BELOW_MAX``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from simulator.stats import RunState, Snapshot

MIN_RATE = 1.0
MAX_FINITE_RATE = 1_000_000.0
RATE_BELOW_MAX = 100_000.0
HOLD_S = 1.0  # how long a request outranks the Snapshots; the bank ticks every 0.1 s

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


def pause_command(state: RunState | None) -> str | None:
    """'resume' when paused, 'pause' while starting or running, None once stopping."""
    if state is RunState.PAUSED:
        return "resume"
    if state in (RunState.STARTING, RunState.RUNNING):
        return "pause"
    return None


@dataclass(frozen=True, slots=True)
class Request(Generic[T]):
    """One value asked for, and the ``time.monotonic()`` at which it stops outranking the
    Snapshots (the bank may have refused or changed it)."""

    value: T
    until: float


# which Snapshot field shows each request of ``Asked``
SHOWN_BY = {"state": "state", "rate": "rate", "symbol": "selected_symbol"}


@dataclass(frozen=True, slots=True)
class Asked:
    """What the keys asked for that the Snapshots do not show yet; the one copy of it.

    Commands take effect on the bank's next tick, so a second key press soon after a first must
    start from what was asked, not from the stale Snapshot value (two quick '+' double twice),
    and the screen shows what was asked at once. A request is forgotten once a Snapshot shows
    it (``seen``) or when its time is up (``expired``); a stop, once asked, stays.

    Frozen: each change is a new record, so the app can hold it in a reactive that the status
    bar and the book panel are bound to, and nothing changes it while drawing.
    """

    state: Request[RunState] | None = None
    """PAUSED or RUNNING, as asked with the pause key."""
    rate: Request[float] | None = None
    """The target rate asked with '+' or '-'."""
    symbol: Request[str] | None = None
    """The symbol whose book was asked for with '[' or ']'."""
    stopping: bool = False
    """A quit key was pressed: the run is stopping, whatever the Snapshots say yet."""

    # -- asking --------------------------------------------------------------------------------

    def ask_state(self, state: RunState, now: float, hold_s: float = HOLD_S) -> Asked:
        return replace(self, state=Request(state, now + hold_s))

    def ask_rate(self, rate: float, now: float, hold_s: float = HOLD_S) -> Asked:
        return replace(self, rate=Request(rate, now + hold_s))

    def ask_symbol(self, symbol: str, now: float, hold_s: float = HOLD_S) -> Asked:
        return replace(self, symbol=Request(symbol, now + hold_s))

    def ask_stop(self) -> Asked:
        return replace(self, stopping=True)

    # -- forgetting (each returns ``self`` when nothing is forgotten) --------------------------

    def expired(self, now: float) -> Asked:
        """Without the requests whose time is up at ``now``."""
        gone: dict[str, Any] = {
            name: None
            for name in SHOWN_BY
            if (request := getattr(self, name)) is not None and now >= request.until
        }
        return replace(self, **gone) if gone else self

    def seen(self, snapshot: Snapshot) -> Asked:
        """Without the requests ``snapshot`` shows done."""
        gone: dict[str, Any] = {
            name: None
            for name, field in SHOWN_BY.items()
            if (request := getattr(self, name)) is not None and request.value == getattr(snapshot, field)
        }
        return replace(self, **gone) if gone else self

    # -- what to start from and show -----------------------------------------------------------

    def run_state(self, reported: RunState | None) -> RunState | None:
        """The state the header shows: STOPPING at once after a quit key, the asked PAUSED or
        RUNNING while the run reports either, else what the Snapshot reports."""
        if self.stopping and reported not in (RunState.STOPPING, RunState.STOPPED):
            return RunState.STOPPING
        if self.state is not None and reported in (RunState.RUNNING, RunState.PAUSED):
            return self.state.value
        return reported

    def pause_toggled_from(self, reported: RunState) -> RunState:
        """The state the pause key toggles from: the one just asked, else the reported one."""
        return reported if self.state is None else self.state.value

    def target_rate(self, reported: float) -> float:
        """The rate the rate keys step from."""
        return reported if self.rate is None else self.rate.value

    def selected_symbol(self, reported: str | None) -> str | None:
        """The symbol the book panel is titled with and the symbol keys step from."""
        return reported if self.symbol is None else self.symbol.value
