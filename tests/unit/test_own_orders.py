"""Your own orders in the pure model: the form's check (own_order), the side table of orders
from outside the flow (outside_orders), and the ledger booking, reconciling and restoring them
among the flow's, against the brokers' real matching."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import wire
from simulator.flow import OrderFlow
from simulator.ledger import Ledger
from simulator.orders import RejectReason
from simulator.outside_ids import SOURCES, YOU, is_outside, priority, source_of
from simulator.outside_orders import OutsideOrders
from simulator.own_order import MOST_QTY, BadOrder, OwnOrder, check_cancel, check_order, describe, your_id
from simulator.resting import leaves_by_id
from simulator.stats import LatencyHistogram
from tests.unit.test_ledger import broker_events, broker_for

pytestmark = pytest.mark.timeout(60)

SYMBOLS = ("AAA", "BBB")
ACCOUNTS = 4
YOURS = ACCOUNTS  # the account one beyond the flow's
BUY, SELL, LIMIT, MARKET, DAY, IOC = 1, -1, 0, 1, 0, 1


def fields(**changes):
    base = {"symbol": "AAA", "side": "buy", "type": "limit", "tif": "day", "price": "10.25", "qty": "100"}
    return {**base, **changes}


# -- the form's check ------------------------------------------------------------------------------


def test_a_valid_order_is_read_from_what_a_person_types():
    order = check_order(fields(side=" Sell ", price="$1,234.5", qty="1_000"), SYMBOLS)
    assert order == OwnOrder("AAA", SELL, LIMIT, DAY, 123_450, 1000)
    assert describe(order) == "SELL 1,000 AAA @ 1234.50 LIMIT DAY"
    assert check_order(order.as_fields(), SYMBOLS) == order  # what the form sends reads back the same
    market = check_order(fields(type="MKT", tif="IOC", price=""), SYMBOLS)
    assert (market.otype, market.tif, market.price) == (MARKET, IOC, 0)


@pytest.mark.parametrize(
    "changes, field, words",
    [
        ({"symbol": "ZZZ"}, "symbol", "not a symbol of this run"),
        ({"side": "long"}, "side", "BUY or SELL"),
        ({"type": "STOP"}, "type", "LIMIT or MARKET"),
        ({"tif": "GTC"}, "tif", "DAY or IOC"),
        ({"qty": "0"}, "qty", "1 to"),
        ({"qty": str(MOST_QTY + 1)}, "qty", "1 to"),
        ({"qty": "1.5"}, "qty", "whole number"),
        ({"qty": True}, "qty", "whole number"),
        ({"price": ""}, "price", "needs a price"),
        ({"price": "-3"}, "price", "more than 0"),
        ({"price": "0"}, "price", "more than 0"),
        ({"price": "10.001"}, "price", "whole cents"),
        ({"price": "ten"}, "price", "in dollars"),
        ({"price": "nan"}, "price", "more than 0"),
        ({"price": "2000000"}, "price", "at most"),
        ({"type": "MARKET", "price": "10"}, "price", "takes no price"),
        ({"colour": "red"}, "colour", "not a field"),
    ],
)
def test_an_invalid_order_is_refused_naming_its_field_and_why(changes, field, words):
    with pytest.raises(BadOrder) as refused:
        check_order(fields(**changes), SYMBOLS)
    assert refused.value.field == field
    assert words in refused.value.reason


def test_what_is_not_a_mapping_of_fields_is_refused():
    with pytest.raises(BadOrder):
        check_order("buy 100 AAA", SYMBOLS)


# -- ids and the side table -------------------------------------------------------------------------


def test_outside_ids_are_far_above_the_flows_and_say_whose_they_are():
    table = OutsideOrders()
    first, second = table.new_id(YOU), table.new_id(YOU)
    assert (first, second) == (2**40 + 1, 2**40 + 2)
    assert table.new_id("agent") == 2**42 + 1
    assert [source_of(i) for i in (7, first, 2**42 + 1)] == [None, YOU, "agent"]
    assert not is_outside(2**40) and is_outside(first)
    assert sorted([priority(5), priority(first, anchor=4), priority(4)]) == [
        priority(4),
        priority(first, anchor=4),
        priority(5),
    ]


def test_the_table_refuses_an_id_it_did_not_hand_out_or_one_placed_twice():
    table = OutsideOrders()
    oid = table.new_id(YOU)
    table.put((oid, YOURS, 0, BUY, LIMIT, DAY, 1000, 10, 0), 0, anchor=0)
    for bad in (oid, 12, SOURCES[YOU] + 9):
        with pytest.raises(ValueError):
            table.put((bad, YOURS, 0, BUY, LIMIT, DAY, 1000, 10, 0), 0, anchor=0)


# -- the ledger, with a real book answering -----------------------------------------------------------


class Run:
    """A ledger fed by the flow and by your orders, answered by a real broker."""

    def __init__(self) -> None:
        self.ledger = Ledger(SYMBOLS, ACCOUNTS + 1)
        self.broker = broker_for(SYMBOLS)
        self.latency = LatencyHistogram()
        self.flow = OrderFlow(SYMBOLS, seed=5, accounts=ACCOUNTS)

    def flow_orders(self, n: int) -> None:
        self.send(self.flow.generate(n))

    def yours(self, side: int, otype: int, tif: int, price: int, qty: int, sym: int = 0) -> int:
        oid = self.ledger.outside.new_id(YOU)
        record = [oid, YOURS, sym, side, otype, tif, price, qty, 0]
        self.ledger.place_outside(record, 0)
        self.answer(np.array([record], np.int64))
        return oid

    def send(self, orders: np.ndarray) -> None:
        self.ledger.place(orders, 0)
        self.answer(orders)

    def answer(self, orders: np.ndarray) -> None:
        self.ledger.apply(broker_events(self.broker, orders), 0, self.latency)

    def resting(self) -> dict[int, int]:
        final = self.broker.final_report()
        ids, leaves = leaves_by_id([(final.resting, final.held)])
        return dict(zip(ids.tolist(), leaves.tolist()))


def test_your_orders_are_booked_among_the_flows_and_the_books_close():
    run = Run()
    run.flow_orders(3000)
    book = run.broker.book("AAA")
    best_ask = min(p for p, _q, _n in book.depth()[1])
    taker = run.yours(BUY, LIMIT, IOC, best_ask + 1000, 50)  # crosses: sweeps 50 at once
    rester = run.yours(SELL, LIMIT, DAY, 10_000_000, 7)  # far above: rests
    market = run.yours(SELL, MARKET, IOC, 0, 30)
    run.flow_orders(3000)
    led = run.ledger
    counts = led.outside.counts[YOU]
    assert (counts.placed, counts.filled + counts.cancelled, counts.rejected) == (3, 2, 0)
    assert counts.filled_qty == 80  # the IOC's 50 and the market's 30
    assert led.flow_placed == led.placed - 3 == 6000
    assert led.positions["AAA"][YOURS] == 50 - 30
    assert [o.state for o in counts.recent.values()][1] == "resting"
    assert {o.oid for o in counts.recent.values()} == {taker, rester, market}
    rec = led.reconcile(run.resting())
    assert rec.ok, rec
    assert rec.resting == led.working and rec.lost == 0


def test_a_restart_rebuilds_your_resting_order_in_its_place_and_resends_yours_in_order():
    run = Run()
    run.flow_orders(500)
    led = run.ledger
    price = min(p for p, _q, _n in run.broker.book("AAA").depth()[0])  # a bid price already resting
    mine = run.yours(BUY, LIMIT, DAY, price, 5)
    run.flow_orders(500)
    resting = wire.resting_orders(led.book_states(["AAA"])["AAA"][0])
    at_price = [o[0] for o in resting if o[2] > 0 and o[3] == price]
    anchor = led.outside.open_orders()[0][1]
    assert mine in at_price
    # behind every flow order placed before it at that price, ahead of every one placed after
    assert all(oid <= anchor for oid in at_price[: at_price.index(mine)])
    assert all(anchor < oid < 2**40 for oid in at_price[at_price.index(mine) + 1 :])
    # an unanswered order of yours goes out again right behind the flow order it followed
    flow = run.flow.generate(4)
    led.place(flow[:2], 0)
    late = led.outside.new_id(YOU)
    led.place_outside([late, YOURS, 0, SELL, LIMIT, DAY, 10_000_000, 1, 0], 0)
    led.place(flow[2:], 0)
    again = led.unanswered([wire.UNKNOWN_SYM, 0, 1])[:, 0].tolist()
    expected = [int(flow[0, 0]), int(flow[1, 0]), late, int(flow[2, 0]), int(flow[3, 0])]
    assert [oid for oid in again if oid in expected] == expected


# -- cancelling your order ---------------------------------------------------------------------------


def your_cancel(run: Run, value: object) -> int:
    """``value`` cancelled as the bank does it: checked, placed from your account, answered."""
    cancel = check_cancel(value, run.ledger.outside, SYMBOLS)
    oid = run.ledger.outside.new_id(YOU)
    record = cancel.record(oid, YOURS, SYMBOLS.index(cancel.symbol))
    run.ledger.place_outside(record, 0)
    run.answer(np.array([record], np.int64))
    return oid


def test_your_resting_order_is_cancelled_and_the_ledger_reconciles():
    run = Run()
    run.flow_orders(500)
    rester = run.yours(SELL, LIMIT, DAY, 10_000_000, 7)
    your_cancel(run, "#you1")
    run.flow_orders(200)
    counts = run.ledger.outside.counts[YOU]
    (mine,) = counts.recent.values()
    assert (mine.oid, mine.state, mine.cancel, mine.leaves) == (rester, "cancelled", "done", 7)
    assert (counts.placed, counts.cancelled, counts.cancels_sent) == (1, 1, 1)
    assert run.ledger.reconcile(run.resting()).ok


def test_a_cancel_of_your_filled_order_is_refused_by_the_book_with_its_reason():
    run = Run()
    run.flow_orders(3000)
    taker = run.yours(SELL, MARKET, IOC, 0, 5)
    refused = run.ledger.reject_counts(cancels=True)["ORDER_NOT_RESTING"]  # the flow's, so far
    your_cancel(run, taker)
    (mine,) = run.ledger.outside.counts[YOU].recent.values()
    assert (mine.state, mine.cancel, mine.reason) == ("filled", "refused", RejectReason.ORDER_NOT_RESTING)
    assert run.ledger.reject_counts(cancels=True) == {"ORDER_NOT_RESTING": refused + 1}
    assert run.ledger.reconcile(run.resting()).ok


def test_a_rejected_order_of_yours_keeps_its_reason():
    run = Run()
    run.yours(BUY, LIMIT, DAY, 1000, 5, sym=wire.UNKNOWN_SYM)
    (mine,) = run.ledger.outside.counts[YOU].recent.values()
    assert (mine.state, mine.reason) == ("rejected", RejectReason.UNKNOWN_SYMBOL)


@pytest.mark.parametrize(
    "value, words",
    [
        (42, "is not yours"),
        ("#you9", "was never placed (your last is #you2)"),
        ("#you2", "is a cancel, not an order"),
        ("sell it", "an order of yours"),
    ],
)
def test_a_cancel_that_is_not_of_an_order_of_yours_is_refused_saying_why(value, words):
    run = Run()
    run.flow_orders(100)
    run.yours(SELL, LIMIT, DAY, 10_000_000, 7)
    your_cancel(run, "you1")
    with pytest.raises(BadOrder) as refused:
        check_cancel(value, run.ledger.outside, SYMBOLS)
    assert refused.value.field == "cancel" and words in refused.value.reason
    assert your_id("#you2") == 2**40 + 2 == your_id(str(2**40 + 2))
