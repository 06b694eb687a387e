"""What the keys ask for: rate steps, symbol cycling, pause toggling, requests not shown yet."""

from __future__ import annotations

import pytest

from simulator.stats import RunState
from tui.policy import (
    HOLD_S,
    MAX_FINITE_RATE,
    MIN_RATE,
    RATE_BELOW_MAX,
    Asked,
    neighbour_symbol,
    pause_command,
    rate_down,
    rate_up,
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


@pytest.mark.parametrize(
    ("state", "command"),
    [
        (RunState.STARTING, "pause"),
        (RunState.RUNNING, "pause"),
        (RunState.PAUSED, "resume"),
        (RunState.STOPPING, None),
        (RunState.STOPPED, None),
    ],
)
def test_pause_toggles_on_the_reported_state(state, command):
    assert pause_command(state) == command


def test_quit_shows_stopping_at_once_until_snapshots_catch_up():
    stopping = Asked().ask_stop()
    assert Asked().run_state(RunState.RUNNING) is RunState.RUNNING
    assert stopping.run_state(RunState.RUNNING) is RunState.STOPPING
    assert stopping.run_state(None) is RunState.STOPPING  # before the first Snapshot too
    assert stopping.run_state(RunState.STOPPED) is RunState.STOPPED
    assert (
        stopping.ask_state(RunState.PAUSED, now=0.0).run_state(RunState.RUNNING) is RunState.STOPPING
    )  # a stop outranks a pause


def test_asked_rate_wins_until_reported_or_expired(make_snapshot):
    asked = Asked()
    assert asked.target_rate(50.0) == 50.0
    asked = asked.ask_rate(100.0, now=10.0)
    assert asked.expired(10.5).target_rate(50.0) == 100.0  # the bank has not ticked yet
    assert asked.expired(10.0 + HOLD_S).target_rate(50.0) == 50.0  # expired: trust the Snapshot
    snapshot = make_snapshot(rate=100.0)
    assert asked.seen(snapshot).target_rate(50.0) == 50.0  # reported: forgotten
    assert asked.seen(make_snapshot(rate=50.0)) is asked  # not reported: kept, unchanged


def test_asked_symbol_titles_the_book_until_reported_or_expired(make_snapshot):
    asked = Asked().ask_symbol("GOOG", now=0.0)
    assert asked.selected_symbol("MSFT") == "GOOG"
    assert asked.seen(make_snapshot(selected_symbol="GOOG")).selected_symbol("AAPL") == "AAPL"
    assert asked.expired(HOLD_S).selected_symbol("MSFT") == "MSFT"


def test_asked_pause_shows_while_running_or_paused_and_toggles_from_what_was_asked(make_snapshot):
    asked = Asked().ask_state(RunState.PAUSED, now=0.0)
    assert asked.run_state(RunState.RUNNING) is RunState.PAUSED
    assert asked.run_state(RunState.STARTING) is RunState.STARTING  # not running yet
    assert asked.run_state(RunState.STOPPED) is RunState.STOPPED
    assert pause_command(asked.pause_toggled_from(RunState.RUNNING)) == "resume"
    assert pause_command(Asked().pause_toggled_from(RunState.RUNNING)) == "pause"
    assert asked.seen(make_snapshot(state=RunState.PAUSED)).state is None
    assert asked.expired(HOLD_S - 0.01) is asked


def test_asked_records_compare_by_value_so_an_unchanged_one_repaints_nothing(make_snapshot):
    """The app keeps ``Asked`` in a reactive: only a real change may reach the panels."""
    asked = Asked().ask_rate(2000.0, now=1.0)
    assert asked == Asked().ask_rate(2000.0, now=1.0)
    assert asked.expired(1.5) is asked and asked.seen(make_snapshot()) is asked
