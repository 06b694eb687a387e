"""Pictures of the dashboard with the frozen Snapshot (no clock: elapsed comes from it).

Regenerate with ``pytest tests/tui --snapshot-update`` and look at the .svg files in
__snapshots__/ before committing them.
"""

from __future__ import annotations

import pytest

from simulator.stats import OrderCounts, RunState
from tui.app import DashboardApp

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("size", [(200, 50), (120, 36), (80, 24)], ids=["200x50", "120x36", "80x24"])
def test_dashboard(snap_compare, size, make_snapshot, make_control):
    assert snap_compare(DashboardApp(make_control(make_snapshot())), terminal_size=size)


def test_help_screen(snap_compare, make_snapshot, make_control):
    app = DashboardApp(make_control(make_snapshot()))
    assert snap_compare(app, press=["question_mark"], terminal_size=(120, 36))


def test_stopped_run_with_lost_orders(snap_compare, make_snapshot, make_control):
    snapshot = make_snapshot(
        state=RunState.STOPPED,
        stop_reason="broker-1 hung",
        rate=0.0,
        orders=OrderCounts(
            placed=1_000, acked=990, filled=400, cancelled=100, rejected=5, resting=480, in_flight=0, lost=15
        ),
    )
    assert snap_compare(DashboardApp(make_control(snapshot)), terminal_size=(80, 24))


def test_waiting_for_first_snapshot(snap_compare, make_control):
    assert snap_compare(DashboardApp(make_control(None)), terminal_size=(80, 24))


SIZES = pytest.mark.parametrize("size", [(200, 50), (120, 36), (80, 24)], ids=["200x50", "120x36", "80x24"])


@SIZES
def test_book_and_tape_tab(snap_compare, size, make_snapshot, make_control):
    assert snap_compare(DashboardApp(make_control(make_snapshot())), press=["2"], terminal_size=size)


@SIZES
def test_symbols_tab(snap_compare, size, make_snapshot, make_control):
    assert snap_compare(DashboardApp(make_control(make_snapshot())), press=["3"], terminal_size=size)


@SIZES
def test_processes_tab(snap_compare, size, make_snapshot, make_control):
    assert snap_compare(DashboardApp(make_control(make_snapshot())), press=["5"], terminal_size=size)


def test_finished_run_shows_its_report(snap_compare, make_snapshot, make_control):
    control = make_control(make_snapshot(state=RunState.STOPPED, stop_reason="order limit reached (1000)"))
    control.end_run()
    assert snap_compare(DashboardApp(control), terminal_size=(80, 24))


@SIZES
def test_accounts_tab(snap_compare, size, make_snapshot, make_control):
    assert snap_compare(DashboardApp(make_control(make_snapshot())), press=["4"], terminal_size=size)
