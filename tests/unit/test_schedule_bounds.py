"""The schedule at the edges of the flags: what is due at once fits the ledger, whatever the
brokers, batch or rate."""

from __future__ import annotations

import pytest

from simulator.flow import OrderFlow
from simulator.ledger import Ledger
from simulator.order_window import MOST_SPAN, WINDOW
from simulator.schedule import MOST_AHEAD, Schedule

pytestmark = pytest.mark.timeout(60)

SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOG", "META", "NFLX")
# the flags of the crashes, and the largest --batch the command line takes
EDGES = [(32, 256), (8, 1024), (2, 4000), (2, 65_536), (64, 65_536)]


@pytest.mark.parametrize(("brokers", "batch"), EDGES)
def test_at_full_speed_no_more_is_due_at_once_than_the_ledger_places_at_once(brokers, batch):
    s = Schedule(rate=0, batch=batch, brokers=brokers)
    due, _first = s.due(1.0, backlog=0)
    assert 0 < due <= MOST_AHEAD
    # the ids those orders bring with their cancels, at the highest cancel ratio the flow sends
    flow = OrderFlow(SYMBOLS, seed=2, cancel_ratio=OrderFlow.max_cancel_ratio(0.05, 0.10, 0.0))
    flow.generate(20 * MOST_AHEAD)  # a flow well under way: many DAY orders to cancel
    rows = flow.generate(due)
    assert rows[-1, 0] - rows[0, 0] < MOST_SPAN
    # and with what waits for the inboxes, they leave most of the window to the orders in them
    assert 2 * len(rows) < WINDOW


@pytest.mark.parametrize(("brokers", "batch"), EDGES)
def test_at_a_set_rate_a_late_tick_is_bounded_and_the_rest_stays_due(brokers, batch):
    s = Schedule(rate=1e6, batch=batch, brokers=brokers)
    s.due(0.0, backlog=0)
    due, first = s.due(1.0, backlog=0)  # a million orders owed
    assert due == min(2 * batch * brokers, MOST_AHEAD) and first == pytest.approx(1e-6)
    assert s.due(1.0, backlog=due) == (0, 1.0)  # they wait for room: the brokers set the pace
    later, later_first = s.due(1.0, backlog=0)
    assert later > 0 and later_first == pytest.approx(first + due / 1e6)  # open loop: still owed


@pytest.mark.parametrize("rate", [1e308, float("inf"), 1.7976931348623157e308])
def test_an_absurd_rate_is_as_fast_as_the_brokers_go_and_never_overflows(rate):
    """``--rate 1e308`` died after 2 s: (now - next_due) * rate became inf, and int(inf) raised."""
    s = Schedule(rate=rate, batch=256, brokers=2)
    for now in (0.0, 0.5, 2.5, 1e6):
        due, _first = s.due(now, backlog=0)
        assert 0 < due <= MOST_AHEAD
        assert s.idle_wait(now, backlog=0) >= 0.0
    assert s.step_ns == 0


def test_an_absurdly_low_rate_keeps_due_times_in_range():
    s = Schedule(rate=1e-300, batch=256, brokers=2)
    assert s.due(0.0, backlog=0)[0] == 1
    assert s.due(1e9, backlog=0)[0] == 0
    ledger = Ledger(SYMBOLS, 4)
    ledger.place(OrderFlow(SYMBOLS, seed=1, accounts=4).generate(3), 10**18, s.step_ns)
    assert ledger.placed == 3
