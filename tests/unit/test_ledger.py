"""Unit and property tests for simulator.ledger: the bank's books, driven by hand-built events."""

from __future__ import annotations

import contextlib
import hashlib
import random
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import wire
from simulator.broker import Broker
from simulator.fills_digest import FillsDigest
from simulator.flow import OrderFlow
from simulator.ledger import Ledger
from simulator.messages import BrokerSpec
from simulator.order_window import MOST_SPAN, WINDOW
from simulator.orders import Event, OrderType, RejectReason, Side, TimeInForce
from simulator.stats import LatencyHistogram

pytestmark = pytest.mark.timeout(60)

SYMBOLS = ("AAA", "BBB")
ACCOUNTS = 4
BUY, SELL = int(Side.BUY), int(Side.SELL)
LIMIT, MARKET, CANCEL = int(OrderType.LIMIT), int(OrderType.MARKET), int(OrderType.CANCEL)
DAY, IOC = int(TimeInForce.DAY), int(TimeInForce.IOC)
ACK, REJECT, TRADE = int(Event.ACK), int(Event.REJECT), int(Event.TRADE)
CANCELLED, CANCEL_DONE = int(Event.CANCELLED), int(Event.CANCEL_DONE)


def limit(oid, side, qty=100, price=1000, account=0, symbol="AAA", tif=DAY) -> tuple:
    return (oid, account, symbol, side, LIMIT, tif, price, qty, 0)


def market(oid, side, qty=100, account=0, symbol="AAA") -> tuple:
    return (oid, account, symbol, side, MARKET, IOC, 0, qty, 0)


def cancel(oid, target, account=0, symbol="AAA") -> tuple:
    return (oid, account, symbol, 0, CANCEL, DAY, 0, 0, target)


def trade(seq, buy_oid, sell_oid, price=1000, qty=100, symbol="AAA") -> tuple:
    return (TRADE, symbol, seq, buy_oid, sell_oid, price, qty)


def broker_for(symbols) -> Broker:
    """A broker trading every symbol of the run, as one broker process does (orders for
    wire.UNKNOWN_SYM get its REJECT UNKNOWN_SYMBOL)."""
    return Broker(BrokerSpec(0, "broker-0", tuple(symbols), tuple(range(len(symbols)))))


def broker_events(broker: Broker, records: np.ndarray) -> np.ndarray:
    """What ``broker`` answers to these order records, as the (n, 7) array it sends."""
    out: list[int] = []
    broker.handle_orders(np.asarray(records, np.int64).reshape(-1).tolist(), out)
    return np.array(out, np.int64).reshape(-1, wire.EVENT_WIDTH)


class Books:
    """A ledger and the latency histogram it records into."""

    def __init__(self) -> None:
        self.ledger = Ledger(SYMBOLS, ACCOUNTS)
        self.latency = LatencyHistogram()

    def place(self, *orders, t_ns=0):
        self.ledger.place(list(orders), t_ns)

    def apply(self, *events, now_ns=0):
        self.ledger.apply(list(events), now_ns, self.latency)

    def answer_unanswered(self, sym_ids, now_ns=0):
        """Send what the ledger holds unanswered for ``sym_ids`` to a broker; book its answer."""
        events = broker_events(broker_for(SYMBOLS), self.ledger.unanswered(sym_ids))
        self.ledger.apply(events, now_ns, self.latency)


@pytest.fixture
def books() -> Books:
    return Books()


def counts(ledger: Ledger) -> dict:
    return {
        name: getattr(ledger, name)
        for name in (
            "placed acked filled cancelled rejected cancels_sent cancels_done cancels_rejected "
            "trades volume working in_flight unknown_events"
        ).split()
    }


# -- placing and acks ----------------------------------------------------------------------------


def test_placed_orders_are_in_flight_until_acked(books):
    books.place(limit(1, BUY), limit(2, SELL, price=1100), market(3, BUY))
    assert books.ledger.placed == 3
    assert books.ledger.in_flight == 3 and books.ledger.working == 0
    books.apply((ACK, 1), (ACK, 2))
    assert books.ledger.acked == 2
    assert books.ledger.in_flight == 1 and books.ledger.working == 2


def test_cancel_requests_are_counted_apart_from_orders(books):
    books.place(limit(1, BUY), cancel(2, target=1))
    assert books.ledger.placed == 1
    assert books.ledger.cancels_sent == 1
    assert books.ledger.in_flight == 2


def test_an_ack_records_its_latency_in_microseconds(books):
    books.place(limit(1, BUY), limit(2, BUY), t_ns=1_000_000)
    books.apply((ACK, 1), now_ns=3_500_000)
    books.apply((ACK, 2), now_ns=1_000_000 + 7_000)
    assert books.latency.count == 2
    assert books.latency.max == 2500
    assert books.latency.percentile(1) == 7


def test_order_status_follows_an_order_from_new_to_final(books):
    books.place(limit(1, BUY), limit(2, SELL))
    assert books.ledger.order_status(1) == "new"
    books.apply((ACK, 1))
    assert books.ledger.order_status(1) == "acked"
    books.apply((ACK, 2), trade(1, 1, 2))
    assert books.ledger.order_status(1) == "final"
    assert books.ledger.order_status(99) == "unknown"


# -- trades ---------------------------------------------------------------------------------------


def test_a_trade_books_positions_and_cash_of_both_accounts(books):
    books.place(limit(1, SELL, qty=300, price=1000, account=1))
    books.place(limit(2, BUY, qty=300, price=1000, account=2))
    books.apply((ACK, 1), (ACK, 2), trade(1, 2, 1, price=1000, qty=300))
    ledger = books.ledger
    assert ledger.positions["AAA"] == [0, -300, 300, 0]
    assert ledger.positions["BBB"] == [0, 0, 0, 0]
    assert ledger.cash == [0, 300_000, -300_000, 0]
    assert sum(ledger.positions["AAA"]) == 0 and sum(ledger.cash) == 0
    assert (ledger.trades, ledger.volume, ledger.filled) == (1, 300, 2)
    assert ledger.working == 0 and ledger.in_flight == 0
    assert ledger.recent_trades(6) == [trade(1, 2, 1, price=1000, qty=300)]


def test_a_partial_then_full_fill_counts_the_order_filled_once(books):
    books.place(limit(1, BUY, qty=300, account=0))
    books.place(limit(2, SELL, qty=100, account=1), limit(3, SELL, qty=200, account=2))
    books.apply((ACK, 1), (ACK, 2), (ACK, 3))
    books.apply(trade(1, 1, 2, qty=100))
    assert books.ledger.filled == 1  # order 2 only
    assert books.ledger.order_status(1) == "acked"
    books.apply(trade(2, 1, 3, qty=200))
    assert books.ledger.filled == 3
    assert books.ledger.positions["AAA"] == [300, -100, -200, 0]
    assert books.ledger.working == 0


def test_the_unfilled_rest_of_an_ioc_order_is_cancelled(books):
    books.place(limit(1, SELL, qty=100, account=1))
    books.apply((ACK, 1))
    books.place(limit(2, BUY, qty=250, tif=IOC))
    books.apply((ACK, 2), trade(1, 2, 1, qty=100), (CANCELLED, 2, 150))
    ledger = books.ledger
    assert (ledger.filled, ledger.cancelled) == (1, 1)
    assert ledger.positions["AAA"][0] == 100
    assert ledger.working == 0 and ledger.in_flight == 0
    assert ledger.reconcile({}).ok


def test_a_market_order_with_no_liquidity_is_cancelled(books):
    books.place(market(1, BUY))
    books.apply((ACK, 1), (CANCELLED, 1, 100))
    assert books.ledger.cancelled == 1 and books.ledger.filled == 0
    assert books.ledger.in_flight == 0 and books.ledger.working == 0


# -- rejects and cancels --------------------------------------------------------------------------


def test_rejects_of_orders_and_of_cancel_requests_are_counted_apart_by_reason(books):
    books.place(limit(1, BUY, qty=0), cancel(2, target=77), limit(3, BUY, price=-5))
    books.apply(
        (REJECT, 1, int(RejectReason.QTY_NOT_POSITIVE)),
        (REJECT, 2, int(RejectReason.UNKNOWN_ORDER)),
        (REJECT, 3, int(RejectReason.PRICE_NOT_POSITIVE)),
    )
    ledger = books.ledger
    assert ledger.rejected == 2
    assert ledger.cancels_rejected == 1
    assert ledger.reject_counts() == {
        "QTY_NOT_POSITIVE": 1,
        "PRICE_NOT_POSITIVE": 1,
        "UNKNOWN_ORDER": 1,
    }
    assert ledger.reject_counts(cancels=False) == {"QTY_NOT_POSITIVE": 1, "PRICE_NOT_POSITIVE": 1}
    assert ledger.reject_counts(cancels=True) == {"UNKNOWN_ORDER": 1}
    assert ledger.in_flight == 0
    assert ledger.reconcile({}).ok


def test_a_successful_cancel_request_cancels_its_target(books):
    books.place(limit(1, BUY, qty=300))
    books.apply((ACK, 1))
    books.place(cancel(2, target=1))
    assert books.ledger.in_flight == 1 and books.ledger.working == 1
    books.apply((CANCELLED, 1, 300), (CANCEL_DONE, 2, 1))
    ledger = books.ledger
    assert (ledger.cancelled, ledger.cancels_done, ledger.cancels_rejected) == (1, 1, 0)
    assert ledger.working == 0 and ledger.in_flight == 0
    assert ledger.reconcile({}).ok


def test_a_cancel_request_for_a_filled_order_is_rejected_not_resting(books):
    books.place(limit(1, BUY), limit(2, SELL, account=1))
    books.apply((ACK, 1), (ACK, 2), trade(1, 1, 2))
    books.place(cancel(3, target=1))
    books.apply((REJECT, 3, int(RejectReason.ORDER_NOT_RESTING)))
    assert books.ledger.cancels_rejected == 1 and books.ledger.rejected == 0
    assert books.ledger.reject_counts() == {"ORDER_NOT_RESTING": 1}


def test_an_order_for_an_unknown_symbol_is_placed_and_rejected_by_its_broker(books):
    ledger = books.ledger
    books.place(limit(1, BUY, symbol="?BAD", account=2))
    assert (ledger.placed, ledger.rejected, ledger.in_flight) == (1, 0, 1)
    assert ledger.order_status(1) == "new"
    books.answer_unanswered([wire.UNKNOWN_SYM])
    assert (ledger.placed, ledger.rejected, ledger.in_flight) == (1, 1, 0)
    assert ledger.reject_counts() == {"UNKNOWN_SYMBOL": 1}
    assert ledger.order_status(1) == "final"
    assert ledger.positions == {s: [0] * ACCOUNTS for s in SYMBOLS} and ledger.cash == [0] * ACCOUNTS
    assert ledger.reconcile({}).ok


def test_a_cancel_request_for_an_unknown_symbol_counts_as_a_rejected_cancel(books):
    books.place(cancel(1, target=0, symbol="?BAD"))
    books.answer_unanswered([wire.UNKNOWN_SYM])
    ledger = books.ledger
    assert (ledger.placed, ledger.rejected) == (0, 0)
    assert (ledger.cancels_sent, ledger.cancels_rejected, ledger.in_flight) == (1, 1, 0)
    assert ledger.reject_counts() == {"UNKNOWN_SYMBOL": 1}
    assert ledger.reconcile({}).ok


def test_unanswered_gives_the_orders_of_the_wire_symbols_asked_for_in_placement_order(books):
    books.place(
        limit(1, BUY), limit(2, SELL, symbol="BBB"), limit(3, BUY, symbol="?BAD"),
        limit(4, SELL), cancel(5, target=2, symbol="BBB"), market(6, BUY, symbol="?BAD"),
    )  # fmt: skip
    books.apply((ACK, 1), (ACK, 2))

    def ids(sym_ids) -> list[int]:
        return books.ledger.unanswered(sym_ids)[:, 0].tolist()

    assert ids([0]) == [4]
    assert ids([wire.UNKNOWN_SYM]) == [3, 6]
    assert ids({1, wire.UNKNOWN_SYM, 0}) == [3, 4, 5, 6]
    assert books.ledger.unanswered([7]).shape == (0, wire.ORDER_WIDTH)
    rows = books.ledger.unanswered([wire.UNKNOWN_SYM])
    assert rows.dtype == np.int64
    assert rows[0].tolist() == [3, 0, wire.UNKNOWN_SYM, BUY, LIMIT, DAY, 1000, 100, 0]


def test_working_and_in_flight_follow_acks_fills_cancels_and_rejects(books):
    ledger = books.ledger
    books.place(
        limit(1, BUY, qty=300),
        limit(2, SELL, account=1),
        market(3, BUY, qty=50),
        limit(4, BUY, qty=0),
        cancel(5, target=1),
    )
    assert (ledger.working, ledger.in_flight) == (0, 5)
    books.apply((ACK, 1), (ACK, 2), trade(1, 1, 2), (ACK, 3), (CANCELLED, 3, 50))
    assert (ledger.working, ledger.in_flight) == (1, 2)  # order 1 rests with 200
    books.apply((REJECT, 4, int(RejectReason.QTY_NOT_POSITIVE)), (REJECT, 1, 1))  # 1: after its ack
    assert (ledger.working, ledger.in_flight, ledger.unknown_events) == (1, 1, 1)
    books.apply((CANCELLED, 1, 200), (CANCEL_DONE, 5, 1))
    assert (ledger.working, ledger.in_flight) == (0, 0)
    assert ledger.reconcile({}).ok


# -- unknown and duplicate events ---------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        (ACK, 99),
        (REJECT, 99, int(RejectReason.MALFORMED)),
        (CANCELLED, 99, 100),
        (CANCEL_DONE, 99, 1),
        trade(1, 99, 2),
        trade(1, 1, 99),
        (42, 1),
    ],
    ids=["ack", "reject", "cancelled", "cancel_done", "trade-buy", "trade-sell", "kind"],
)
def test_an_unknown_event_is_counted_and_changes_nothing_else(books, event):
    books.place(limit(1, BUY), limit(2, SELL, account=1))
    before = counts(books.ledger)
    books.apply(event)
    after = counts(books.ledger)
    assert after.pop("unknown_events") == before.pop("unknown_events") + 1
    assert after == before
    assert books.ledger.positions["AAA"] == [0] * ACCOUNTS


def test_duplicate_acks_and_final_events_are_counted_as_unknown(books):
    books.place(limit(1, BUY), limit(2, BUY), cancel(3, target=1), limit(4, BUY, qty=0))
    books.apply((ACK, 1), (ACK, 1), (ACK, 2))
    books.apply((CANCELLED, 1, 100), (CANCEL_DONE, 3, 1), (CANCELLED, 1, 100), (CANCEL_DONE, 3, 1))
    books.apply((REJECT, 4, 1), (REJECT, 4, 1))
    ledger = books.ledger
    assert ledger.unknown_events == 4
    assert (ledger.acked, ledger.cancelled, ledger.cancels_done, ledger.rejected) == (2, 1, 1, 1)
    assert ledger.working == 1  # order 2


def test_a_trade_of_an_order_already_filled_is_counted_as_unknown(books):
    books.place(limit(1, BUY), limit(2, SELL, account=1))
    books.apply((ACK, 1), (ACK, 2), trade(1, 1, 2), trade(1, 1, 2))
    ledger = books.ledger
    assert ledger.unknown_events == 1
    assert (ledger.trades, ledger.volume, ledger.filled) == (1, 100, 2)
    assert ledger.positions["AAA"] == [100, -100, 0, 0]


def test_a_repeated_trade_of_partially_filled_orders_is_counted_as_unknown(books):
    books.place(limit(1, BUY, qty=500), limit(2, SELL, qty=500, account=1))
    books.apply((ACK, 1), (ACK, 2), trade(1, 1, 2, qty=100), trade(1, 1, 2, qty=100))
    assert books.ledger.unknown_events == 1
    assert books.ledger.volume == 100


def test_a_malformed_event_in_a_batch_leaves_the_ledger_consistent(books):
    books.place(limit(1, BUY), limit(2, SELL, account=1))
    with contextlib.suppress(Exception):
        books.apply((ACK, 1), (ACK, 2), trade(1, 1, 2), (TRADE, "AAA"))
    ledger = books.ledger
    if ledger.trades:  # the good events were booked: the books must balance
        assert (ledger.acked, ledger.filled, ledger.volume) == (2, 2, 100)
        assert ledger.reconcile({}).ok
    else:  # the batch was refused as a whole: nothing of it may show
        assert ledger.positions["AAA"] == [0] * ACCOUNTS and ledger.cash == [0] * ACCOUNTS
        assert ledger.order_status(1) == ledger.order_status(2) == "new"


def test_recent_trades_gives_the_last_trades_of_a_batch_in_order(books):
    books.place(*[limit(i, BUY) for i in (1, 3, 5)], *[limit(i, SELL) for i in (2, 4, 6)])
    books.apply(*[(ACK, i) for i in range(1, 7)])
    books.apply(trade(1, 1, 2), trade(2, 3, 4), trade(3, 5, 6))
    assert books.ledger.recent_trades(2) == [trade(2, 3, 4), trade(3, 5, 6)]


def test_recent_trades_spans_batches(books):
    books.place(*[limit(i, BUY) for i in (1, 3)], *[limit(i, SELL) for i in (2, 4)])
    books.apply(*[(ACK, i) for i in range(1, 5)])
    books.apply(trade(1, 1, 2))
    books.apply(trade(2, 3, 4))
    assert books.ledger.recent_trades(2) == [trade(1, 1, 2), trade(2, 3, 4)]


def test_recent_trades_finds_a_trade_followed_by_many_acks(books):
    books.place(limit(1, BUY), limit(2, SELL), *[limit(i, BUY) for i in range(3, 13)])
    books.apply((ACK, 1), (ACK, 2))
    books.apply(trade(1, 1, 2), *[(ACK, i) for i in range(3, 13)])
    assert books.ledger.recent_trades(1) == [trade(1, 1, 2)]


def test_a_trade_of_a_symbol_the_ledger_does_not_trade_is_counted_as_unknown(books):
    books.place(limit(1, BUY), limit(2, SELL, account=1))
    books.apply((ACK, 1), (ACK, 2), trade(1, 1, 2, symbol="ZZZ"))
    assert books.ledger.unknown_events == 1
    assert books.ledger.trades == 0 and books.ledger.in_flight == 0


# -- reconciliation -------------------------------------------------------------------------------


def test_reconcile_counts_reported_resting_orders_as_resting(books):
    books.place(limit(1, BUY, qty=300), limit(2, SELL, qty=100, price=1000, account=1))
    books.apply((ACK, 1), (ACK, 2), trade(1, 1, 2, qty=100))
    rec = books.ledger.reconcile({1: 200})
    assert (rec.placed, rec.filled, rec.resting, rec.lost) == (2, 1, 1, 0)
    assert rec.lost_ids == [] and rec.mismatches == []
    assert rec.positions_balanced and rec.cash_balanced
    assert rec.ok


def test_reconcile_reports_an_open_order_not_resting_anywhere_as_lost(books):
    books.place(limit(1, BUY), limit(2, BUY), limit(3, BUY))
    books.apply((ACK, 1), (ACK, 3))
    rec = books.ledger.reconcile({1: 100})
    assert rec.lost == 2
    assert rec.lost_ids == [2, 3]
    assert rec.resting == 1
    assert not rec.ok


def test_reconcile_reports_an_unanswered_cancel_request_apart_from_lost_orders(books):
    books.place(limit(1, BUY), cancel(2, target=1), limit(3, SELL, price=1100), cancel(4, target=3))
    books.apply((ACK, 1))
    rec = books.ledger.reconcile({1: 100})
    assert (rec.lost, rec.lost_ids) == (1, [3])  # orders only: the identity of the orders holds
    assert (rec.cancels_lost, rec.lost_cancel_ids) == (2, [2, 4])
    assert rec.placed == rec.filled + rec.cancelled + rec.rejected + rec.resting + rec.lost
    assert not rec.ok


def test_reconcile_reports_a_mismatch_of_resting_leaves(books):
    books.place(limit(1, BUY, qty=300))
    books.apply((ACK, 1))
    rec = books.ledger.reconcile({1: 200})
    assert rec.resting == 1 and rec.lost == 0
    assert len(rec.mismatches) == 1 and "order 1" in rec.mismatches[0]
    assert "200" in rec.mismatches[0] and "300" in rec.mismatches[0]
    assert not rec.ok


def test_reconcile_reports_a_resting_order_the_ledger_saw_end(books):
    books.place(limit(1, BUY))
    books.apply((ACK, 1), (CANCELLED, 1, 100))
    rec = books.ledger.reconcile({1: 100})
    assert len(rec.mismatches) == 1 and "order 1" in rec.mismatches[0]
    assert not rec.ok


def test_reconcile_of_an_empty_ledger_is_ok(books):
    rec = books.ledger.reconcile({})
    assert rec.ok and rec.placed == 0


# -- fills digest ---------------------------------------------------------------------------------

# per symbol: two buys, two sells, two trades
TRADES = {
    "AAA": [trade(1, 1, 2, 1000, 100, "AAA"), trade(2, 3, 4, 1001, 200, "AAA")],
    "BBB": [trade(1, 5, 6, 2000, 100, "BBB"), trade(2, 7, 8, 2001, 300, "BBB")],
}


def books_with_trades(events) -> Books:
    b = Books()
    b.place(
        limit(1, BUY), limit(2, SELL, account=1),
        limit(3, BUY, 200), limit(4, SELL, 200, account=1),
        limit(5, BUY, symbol="BBB"), limit(6, SELL, symbol="BBB", account=1),
        limit(7, BUY, 300, symbol="BBB"), limit(8, SELL, 300, symbol="BBB", account=1),
    )  # fmt: skip
    b.apply(*[(ACK, oid) for oid in range(1, 9)])
    for ev in events:
        b.apply(ev)
    assert b.ledger.unknown_events == 0
    return b


def test_the_fills_digest_ignores_how_symbols_are_interleaved():
    a = books_with_trades(TRADES["AAA"] + TRADES["BBB"])
    b = books_with_trades(TRADES["BBB"] + TRADES["AAA"])
    c = books_with_trades([TRADES["BBB"][0], TRADES["AAA"][0], TRADES["BBB"][1], TRADES["AAA"][1]])
    assert a.ledger.fills_digest() == b.ledger.fills_digest() == c.ledger.fills_digest()


@settings(max_examples=50, deadline=None)
@given(st.permutations(["AAA", "AAA", "BBB", "BBB"]))
def test_the_fills_digest_is_the_same_for_every_interleaving(order):
    reference = books_with_trades(TRADES["AAA"] + TRADES["BBB"]).ledger.fills_digest()
    pending = {s: list(t) for s, t in TRADES.items()}
    events = [pending[s].pop(0) for s in order]
    assert books_with_trades(events).ledger.fills_digest() == reference


@pytest.mark.parametrize("field, value", [(5, 1002), (6, 150), (2, 3)], ids=["price", "qty", "seq"])
def test_the_fills_digest_changes_when_a_trade_differs(field, value):
    changed = list(TRADES["AAA"][1])
    changed[field] = value
    a = books_with_trades(TRADES["AAA"] + TRADES["BBB"])
    b = books_with_trades([TRADES["AAA"][0], tuple(changed)] + TRADES["BBB"])
    assert a.ledger.fills_digest() != b.ledger.fills_digest()


def test_the_fills_digest_depends_on_the_order_of_one_symbols_trades():
    a = books_with_trades(TRADES["AAA"])
    # the same two trades matched the other way round (match numbers follow the match order)
    swapped = [trade(1, 3, 4, 1001, 200, "AAA"), trade(2, 1, 2, 1000, 100, "AAA")]
    b = books_with_trades(swapped)
    assert a.ledger.fills_digest() != b.ledger.fills_digest()


def test_a_trade_numbered_before_the_last_one_booked_is_not_booked():
    b = books_with_trades(TRADES["AAA"][1:])
    b.apply(TRADES["AAA"][0])
    assert b.ledger.unknown_events == 1 and b.ledger.trades == 1


def test_the_fills_digest_of_no_trades_differs_from_some_trades():
    assert Books().ledger.fills_digest() != books_with_trades(TRADES["AAA"]).ledger.fills_digest()


def _digest_by_definition(fills_by_symbol: dict[str, list[tuple]]) -> str:
    """sha256 over 'SYMBOL:<sha256 of its fills as native int64s>\n', symbols sorted."""
    outer = hashlib.sha256()
    for symbol in sorted(fills_by_symbol):
        fills = fills_by_symbol[symbol]
        inner = hashlib.sha256(struct.pack(f"{5 * len(fills)}q", *[x for f in fills for x in f]))
        outer.update(f"{symbol}:{inner.hexdigest()}\n".encode())
    return outer.hexdigest()


def test_the_fills_digest_keeps_its_definition_and_value():
    fills = {s: [t[2:] for t in TRADES[s]] for s in SYMBOLS}
    digest = books_with_trades(TRADES["AAA"] + TRADES["BBB"]).ledger.fills_digest()
    assert digest == _digest_by_definition(fills)
    # the value reports and journals of earlier runs carry: it must never change
    assert digest == "8a7915ae981df011f352fdd301c8c0389091f296b4472dab293d8b8adf2d1141"
    assert Books().ledger.fills_digest() == _digest_by_definition({s: [] for s in SYMBOLS})


def test_fills_given_one_at_a_time_as_replay_does_give_the_ledgers_digest():
    symbols = ("AAA", "BBB", "CCC")
    ledger = Ledger(symbols, 2)
    fills: dict[str, list[tuple]] = {s: [] for s in symbols}
    oid = 0
    # AAA: more fills than the one-at-a-time path buffers, in batches the whole-array path
    # books; BBB: a few, booked event by event; CCC: none
    for s, n in (("AAA", 15_000), ("BBB", 3)):
        for start in range(0, n, 5_000):
            orders, acks = [], []
            for seq in range(start + 1, min(start + 5_000, n) + 1):
                buy, sell, oid = oid + 1, oid + 2, oid + 2
                orders += [limit(buy, BUY, symbol=s), limit(sell, SELL, account=1, symbol=s)]
                acks += [(ACK, buy), (ACK, sell)]
                fills[s].append((seq, buy, sell, 1000 + seq % 7, 100))
            ledger.place(orders, 0)
            ledger.apply(acks + [(TRADE, s, *f) for f in fills[s][start:]], 0, LatencyHistogram())
    assert ledger.trades == 15_003 and ledger.unknown_events == 0
    one_at_a_time = FillsDigest(symbols)  # as replay.py feeds it, symbols interleaved
    for i, fill in enumerate(fills["AAA"]):
        one_at_a_time.add(0, fill)
        if i < len(fills["BBB"]):
            one_at_a_time.add(1, fills["BBB"][i])
    assert one_at_a_time.hexdigest() == ledger.fills_digest() == _digest_by_definition(fills)


# -- the whole pure pipeline: flow -> books -> ledger ----------------------------------------------


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 3000))
def test_a_seeded_flow_through_order_books_reconciles(seed, n):
    symbols = ("AAA", "BBB", "CCC")
    flow = OrderFlow(symbols, seed=seed, accounts=5, cancel_ratio=0.2, invalid_ratio=0.05)
    broker = broker_for(symbols)
    ledger = Ledger(symbols, 5)
    latency = LatencyHistogram()
    unknown_symbol = 0
    for t, orders in enumerate(flow.generate(k) for k in (n // 3, n - n // 3)):
        ledger.place(orders, t)  # all of them: a broker rejects those of unknown symbols
        unknown_symbol += int(np.count_nonzero(orders[:, 2] == wire.UNKNOWN_SYM))
        ledger.apply(broker_events(broker, orders), t, latency)
    resting = {r[0]: r[4] for b in broker.books.values() for r in b.resting()}
    rec = ledger.reconcile(resting)
    assert rec.ok, rec
    assert ledger.unknown_events == 0
    assert ledger.in_flight == 0
    assert ledger.working == rec.resting == len(resting)
    assert rec.placed == n  # orders; the cancels the flow adds are counted apart
    assert ledger.reject_counts().get("UNKNOWN_SYMBOL", 0) == unknown_symbol
    assert latency.count == ledger.acked


# -- the whole-array path books exactly what the event-by-event path books ------------------------


PIPELINE_SYMBOLS = ("AAA", "BBB", "CCC")


def _run_pipeline(seed: int, batches: int, per_batch: int, fast: bool, mutate=None, invalid_ratio=0.02):
    """A seeded flow through a broker into a ledger, one events array per batch; ``mutate``
    may spoil a batch of event records (a list of 7-tuples) before it is booked."""
    symbols = PIPELINE_SYMBOLS
    flow = OrderFlow(symbols, seed=seed, accounts=5, cancel_ratio=0.2, invalid_ratio=invalid_ratio)
    broker = broker_for(symbols)
    ledger = Ledger(symbols, 5)
    used_fast = []
    if not fast:
        ledger._apply_fast = lambda *a: False
    else:
        real = ledger._apply_fast
        ledger._apply_fast = lambda *a: used_fast.append(real(*a)) or used_fast[-1]
    ack, final = LatencyHistogram(), LatencyHistogram()
    rng = random.Random(seed)
    for b in range(batches):
        rows = flow.generate(per_batch)
        ledger.place(rows, b * 1_000_000, 40_000)  # due times 0.1 ms apart every few orders
        events = broker_events(broker, rows)
        if mutate is not None:
            events = np.array(mutate([tuple(e) for e in events.tolist()], rng), np.int64)
        ledger.apply(events.reshape(-1, wire.EVENT_WIDTH), b * 1_000_000 + 500_000, ack, final)
    resting = {r[0]: r[4] for bk in broker.books.values() for r in bk.resting()}
    return ledger, ack, final, resting, used_fast


def _state(ledger, ack, final, resting):
    return (
        counts(ledger),
        ledger.reject_counts(),
        ledger.reject_counts(cancels=False),
        ledger.reject_counts(cancels=True),
        ledger.traded.symbol_table(),
        ledger.positions,
        ledger.cash,
        ledger.fills_digest(),
        ledger.recent_trades(12),
        ledger.last_trade,
        sorted(ack.counts.items()),
        sorted(final.counts.items()),
        ledger.reconcile(resting),
        ledger.unanswered([wire.UNKNOWN_SYM, *range(len(PIPELINE_SYMBOLS))]).tolist(),
        ledger.book_states(PIPELINE_SYMBOLS),
    )


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31), per_batch=st.sampled_from([150, 400, 1500]))
def test_the_fast_path_books_what_the_slow_path_books(seed, per_batch):
    fast = _run_pipeline(seed, 6, per_batch, fast=True)
    slow = _run_pipeline(seed, 6, per_batch, fast=False)
    assert any(fast[4]), "the whole-array path was never taken"
    assert _state(*fast[:4]) == _state(*slow[:4])
    assert fast[0].reconcile(fast[3]).ok and fast[0].unknown_events == 0


def test_both_paths_book_the_rejects_of_unknown_symbols_alike():
    fast = _run_pipeline(5, 4, 600, fast=True, invalid_ratio=0.3)
    slow = _run_pipeline(5, 4, 600, fast=False, invalid_ratio=0.3)
    assert fast[4] and all(fast[4]), "a batch was refused by the whole-array path"
    assert fast[0].reject_counts()["UNKNOWN_SYMBOL"] > 50
    assert _state(*fast[:4]) == _state(*slow[:4])
    assert fast[0].reconcile(fast[3]).ok and fast[0].unknown_events == 0


def _spoil(events, rng):
    """One of the ways a batch can be wrong: a repeat, a swap, an unknown id or kind."""
    events = list(events)
    i = rng.randrange(len(events))
    j = rng.randrange(len(events))
    how = rng.randrange(5)
    if how == 0:
        events.insert(j, events[i])  # an event delivered twice
    elif how == 1:
        events[i], events[j] = events[j], events[i]  # out of causal order
    elif how == 2:
        e = list(events[i])
        e[1 if e[0] != TRADE else 3] += 10_000_000  # an order never placed
        events[i] = tuple(e)
    elif how == 3:
        events[i] = (99,) + events[i][1:]  # an unknown kind
    else:
        e = list(events[i])
        if e[0] == TRADE:
            e[6] *= 50  # a fill beyond the leaves
        events[i] = tuple(e)
    return events


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_a_spoiled_batch_is_booked_the_same_on_both_paths(seed):
    fast = _run_pipeline(seed, 4, 300, fast=True, mutate=_spoil)
    slow = _run_pipeline(seed, 4, 300, fast=False, mutate=_spoil)
    assert _state(*fast[:4]) == _state(*slow[:4])


def test_an_order_resting_longer_than_the_window_is_still_booked(books):
    ledger = books.ledger
    books.place(limit(1, SELL, qty=300, account=1))
    books.apply((ACK, 1))
    # far more orders than the window holds pass by, all answered at once
    n = WINDOW + WINDOW // 2
    for start in range(2, n, 50_000):
        stop = min(start + 50_000, n)
        books.place(*[limit(oid, BUY, price=900) for oid in range(start, stop)])
        books.apply(*[(REJECT, oid, int(RejectReason.QTY_NOT_POSITIVE)) for oid in range(start, stop)])
    assert ledger.order_status(1) == "acked"
    books.place(limit(n, BUY, qty=100, account=2), limit(n + 1, BUY, qty=200, account=3))
    books.apply((ACK, n), trade(1, n, 1, qty=100), (ACK, n + 1), trade(2, n + 1, 1, qty=200))
    assert ledger.order_status(1) == "final"
    assert ledger.positions["AAA"] == [0, -300, 100, 200]
    assert ledger.working == 0 and ledger.in_flight == 0
    assert ledger.reconcile({}).ok


def test_one_placement_of_more_ids_than_the_window_stores_at_once_is_placed_and_reconciles():
    """At --rate 0 with 32 brokers the bank placed 65,536 new orders, 94,000
    ids with their cancels, in one call: ``ValueError: order ids 1..94108 are not new``."""
    symbols = ("AAA", "BBB", "CCC", "DDD", "EEE", "FFF", "GGG", "HHH")
    rows = OrderFlow(symbols, seed=1, accounts=8).generate(65_536)
    assert rows[-1, 0] - rows[0, 0] >= MOST_SPAN
    ledger = Ledger(symbols, 8)
    ledger.place(rows, 1_000, 10)
    assert ledger.placed == 65_536 and ledger.in_flight == len(rows)
    broker = broker_for(symbols)
    ledger.apply(broker_events(broker, rows), 2_000, LatencyHistogram())
    assert ledger.in_flight == 0 and ledger.unknown_events == 0
    assert ledger.reconcile({r[0]: r[4] for b in broker.books.values() for r in b.resting()}).ok


def _limit_records(first: int, last: int) -> np.ndarray:
    """Buy limit orders with ids first..last as wire records, on symbol 0."""
    rows = np.zeros((last - first + 1, wire.ORDER_WIDTH), np.int64)
    rows[:, 0] = np.arange(first, last + 1)
    rows[:, 3], rows[:, 4], rows[:, 5], rows[:, 6], rows[:, 7] = BUY, LIMIT, DAY, 900, 100
    return rows


def test_a_placement_spanning_several_windows_is_booked_whole(books):
    ledger = books.ledger
    n = 3 * WINDOW
    ledger.place(_limit_records(1, n), 0, 1000)
    assert ledger.placed == ledger.in_flight == n
    assert [ledger.order_status(oid) for oid in (1, WINDOW, n)] == ["new"] * 3
    rejects = np.zeros((n, wire.EVENT_WIDTH), np.int64)
    rejects[:, 0], rejects[:, 1], rejects[:, 2] = (
        REJECT,
        np.arange(1, n + 1),
        int(RejectReason.QTY_NOT_POSITIVE),
    )
    ledger.apply(rejects, 0, books.latency)
    assert ledger.rejected == n and ledger.in_flight == 0 and ledger.unknown_events == 0
    assert ledger.reconcile({}).ok


def test_a_long_placement_with_an_id_placed_before_is_refused_whole(books):
    ledger = books.ledger
    ledger.place(_limit_records(1, 10), 0)
    with pytest.raises(ValueError, match="placed twice"):
        ledger.place(_limit_records(5, 2 * WINDOW), 0)
    assert ledger.placed == ledger.in_flight == 10
    assert ledger.order_status(WINDOW) == "unknown"
    ledger.place(_limit_records(11, 2 * WINDOW), 0)  # the new ids alone are placed
    assert ledger.placed == 2 * WINDOW


def test_the_ledger_keeps_the_clock_reading_of_the_last_event_it_booked(books):
    books.place(limit(1, BUY), limit(2, SELL, account=1))
    assert books.ledger.last_booked_ns == 0
    books.apply((ACK, 1), now_ns=5_000)
    books.apply((ACK, 7), now_ns=9_000)  # names no order: booked nothing
    assert books.ledger.last_booked_ns == 5_000
    books.apply((ACK, 2), trade(1, 1, 2), now_ns=12_000)
    assert books.ledger.last_booked_ns == 12_000


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31), per_batch=st.integers(1, 6))
def test_a_few_orders_are_placed_as_a_whole_array_would_place_them(seed, per_batch):
    import simulator.ledger as ledger_module

    few = _run_pipeline(seed, 40, per_batch, fast=True)
    saved = ledger_module._FEW
    ledger_module._FEW = 0  # every placement the whole-array way
    try:
        arrays = _run_pipeline(seed, 40, per_batch, fast=True)
    finally:
        ledger_module._FEW = saved
    assert _state(*few[:4]) == _state(*arrays[:4])
    assert few[0].reconcile(few[3]).ok


@pytest.mark.parametrize("per_batch", [40, 1500])  # booked event by event, and whole-array
def test_the_acks_of_orders_a_restart_held_up_are_also_counted_apart(per_batch):
    flow = OrderFlow(PIPELINE_SYMBOLS, seed=3, accounts=5)
    broker = broker_for(PIPELINE_SYMBOLS)
    ledger = Ledger(PIPELINE_SYMBOLS, 5)
    ack, held = LatencyHistogram(), LatencyHistogram()
    acks = expected = 0
    for b in range(3):
        rows = flow.generate(per_batch)
        ledger.place(rows, b * 10_000_000)
        events = broker_events(broker, rows)
        acked = events[events[:, 0] == int(Event.ACK), 1]
        if b == 1:  # the first symbol's broker was restarted: its orders were sent again
            mine = rows[rows[:, 2] == 0]
            ledger.hold(mine)
            expected = int(np.count_nonzero(np.isin(acked, mine[:, 0])))
        ledger.apply(events, b * 10_000_000 + 2_000_000 + 1_000 * b, ack, None, held)
        acks += len(acked)
    assert ack.count == acks and 0 < held.count == expected
    assert held.max == 2_001  # the held batch's alone: 2.001 ms from due to ack
