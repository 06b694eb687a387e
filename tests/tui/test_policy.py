"""What the keys ask for: rate steps, symbol cycling, pause toggling, pending requests."""
from __future__ import annotations

import pytest

from simulator.stats import RunState
from tui.policy import (
    MAX_FINITE_RATE,
    MIN_RATE,
    RATE_BELOW_MAX,
    Pending,
    neighbour_symbol,
    pause_command,
    rate_down,
    rate_up,
    shown_state,
)

pytestmark = pytest.mark.timeout(60)


def test_plus_doubles_then_goes_to_max_past_the_ceiling():
    assert rate_up(50_000) == 100_000
    assert rate_up(MAX_FINITE_RATE / 2) == MAX_FINITE_RATE
    assert rate_up(MAX_FINITE_RATE) == 0.0
    assert rate_up(0.0) == 0.0
    assert rate_up(0.25) == MIN_RATE


def test_minus_halves_down_to_the_floor_and_leaves_max_for_a_finite_rate():
    assert rate_down(50_000) == 25_000
    assert rate_down(1.5) == MIN_RATE
    assert rate_down(MIN_RATE) == MIN_RATE
    assert rate_down(0.0) == RATE_BELOW_MAX


def test_symbols_cycle_and_wrap():
    symbols = ("AAPL", "MSFT", "GOOG")
    assert neighbour_symbol(symbols, "MSFT", +1) == "GOOG"
    assert neighbour_symbol(symbols, "GOOG", +1) == "AAPL"
    assert neighbour_symbol(symbols, "AAPL", -1) == "GOOG"
    assert neighbour_symbol(symbols, None, +1) == "AAPL"
    assert neighbour_symbol(symbols, "TSLA", -1) == "GOOG"
    assert neighbour_symbol((), None, +1) is None


@pytest.mark.parametrize(("state", "command"), [
    (RunState.STARTING, "pause"), (RunState.RUNNING, "pause"), (RunState.PAUSED, "resume"),
    (RunState.STOPPING, None), (RunState.STOPPED, None),
])
def test_pause_toggles_on_the_reported_state(state, command):
    assert pause_command(state) == command


def test_quit_shows_stopping_at_once_until_snapshots_catch_up():
    assert shown_state(RunState.RUNNING, stopping=False) is RunState.RUNNING
    assert shown_state(RunState.RUNNING, stopping=True) is RunState.STOPPING
    assert shown_state(None, stopping=True) is RunState.STOPPING
    assert shown_state(RunState.STOPPED, stopping=True) is RunState.STOPPED


def test_pending_request_wins_until_reported_or_expired():
    pending: Pending[float] = Pending(hold_s=1.0)
    assert pending.current(50.0, now=0.0) == 50.0
    pending.ask(100.0, now=10.0)
    assert pending.current(50.0, now=10.5) == 100.0  # the bank has not ticked yet
    assert pending.current(50.0, now=11.0) == 50.0  # expired: trust the Snapshot again
    pending.ask(200.0, now=20.0)
    assert pending.current(200.0, now=20.1) == 200.0  # reported: forgotten
    assert pending.current(50.0, now=20.2) == 50.0
