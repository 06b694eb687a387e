"""Unit and property tests for simulator.book: one symbol's price-time priority order book."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.book import OrderBook, check_order
from simulator.orders import Event, OrderType, RejectReason, Side, TimeInForce

pytestmark = pytest.mark.timeout(60)

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
DAY, IOC = TimeInForce.DAY, TimeInForce.IOC
SYM = "ACME"


def buy(book, oid, price, qty, tif=DAY, account=1):
    return book.submit(oid, account, 1, 0, int(tif), price, qty)


def sell(book, oid, price, qty, tif=DAY, account=2):
    return book.submit(oid, account, -1, 0, int(tif), price, qty)


def market(book, oid, side, qty, account=3):
    return book.submit(oid, account, int(side), 1, 0, 0, qty)


def trades(events):
    """(buy_oid, sell_oid, price, qty) of each TRADE event."""
    return [(e[3], e[4], e[5], e[6]) for e in events if e[0] == Event.TRADE]


def trade_event(seq, buy_oid, sell_oid, price, qty):
    return (Event.TRADE, SYM, seq, buy_oid, sell_oid, price, qty)


@pytest.fixture
def book():
    return OrderBook(SYM)


# ------------------------------------------------------------------ matching


def test_new_order_is_acked_and_rests_silently(book):
    assert buy(book, 1, 100, 10) == [(Event.ACK, 1)]
    assert book.best_bid() == (100, 10)
    assert book.best_ask() is None
    assert book.resting() == [(1, 1, 1, 100, 10)]


def test_events_are_plain_ints_not_enums(book):
    sell(book, 1, 100, 5)
    events = buy(book, 2, 100, 8, tif=IOC) + book.cancel(3, 1) + book.submit(4, 1, 1, 0, 0, 0, 1)
    for ev in events:
        for item in ev:
            assert type(item) in (int, str)


def test_buy_matches_lowest_ask_first(book):
    sell(book, 1, 102, 5)
    sell(book, 2, 100, 5)
    sell(book, 3, 101, 5)
    assert trades(buy(book, 4, 105, 5)) == [(4, 2, 100, 5)]
    assert trades(buy(book, 5, 105, 5)) == [(5, 3, 101, 5)]


def test_sell_matches_highest_bid_first(book):
    buy(book, 1, 98, 5)
    buy(book, 2, 100, 5)
    buy(book, 3, 99, 5)
    assert trades(sell(book, 4, 90, 5)) == [(2, 4, 100, 5)]
    assert trades(sell(book, 5, 90, 5)) == [(3, 5, 99, 5)]


def test_older_order_matches_first_within_a_level(book):
    sell(book, 1, 100, 5)
    sell(book, 2, 100, 5)
    sell(book, 3, 100, 5)
    assert trades(buy(book, 4, 100, 7)) == [(4, 1, 100, 5), (4, 2, 100, 2)]
    assert trades(buy(book, 5, 100, 8)) == [(5, 2, 100, 3), (5, 3, 100, 5)]


def test_trade_prints_at_resting_price_for_aggressive_buy(book):
    sell(book, 1, 100, 5)
    assert buy(book, 2, 105, 5) == [(Event.ACK, 2), trade_event(1, 2, 1, 100, 5)]


def test_trade_prints_at_resting_price_for_aggressive_sell(book):
    buy(book, 1, 100, 5)
    assert sell(book, 2, 95, 5) == [(Event.ACK, 2), trade_event(1, 1, 2, 100, 5)]


def test_limit_buy_does_not_match_ask_above_its_limit(book):
    sell(book, 1, 101, 5)
    assert buy(book, 2, 100, 5) == [(Event.ACK, 2)]
    assert book.best_bid() == (100, 5)
    assert book.best_ask() == (101, 5)


def test_partial_fill_of_resting_order_leaves_remainder_resting(book):
    sell(book, 1, 100, 10)
    assert trades(buy(book, 2, 100, 4)) == [(2, 1, 100, 4)]
    assert book.best_ask() == (100, 6)
    assert book.resting() == [(1, 2, -1, 100, 6)]
    assert trades(buy(book, 3, 100, 6)) == [(3, 1, 100, 6)]
    assert book.best_ask() is None


def test_partial_fill_of_incoming_day_order_rests_remainder_at_its_limit(book):
    sell(book, 1, 100, 4)
    assert buy(book, 2, 101, 10) == [(Event.ACK, 2), trade_event(1, 2, 1, 100, 4)]
    assert book.best_bid() == (101, 6)
    assert book.best_ask() is None
    assert book.resting() == [(2, 1, 1, 101, 6)]


def test_limit_order_sweeps_several_levels_up_to_its_limit(book):
    sell(book, 1, 100, 3)
    sell(book, 2, 101, 3)
    sell(book, 3, 102, 3)
    sell(book, 4, 103, 3)
    events = buy(book, 5, 102, 20)
    assert events == [
        (Event.ACK, 5),
        trade_event(1, 5, 1, 100, 3),
        trade_event(2, 5, 2, 101, 3),
        trade_event(3, 5, 3, 102, 3),
    ]
    assert book.best_bid() == (102, 11)
    assert book.best_ask() == (103, 3)


def test_limit_sell_sweeps_several_bid_levels(book):
    buy(book, 1, 100, 3)
    buy(book, 2, 99, 3)
    buy(book, 3, 98, 3)
    assert trades(sell(book, 4, 99, 10)) == [(1, 4, 100, 3), (2, 4, 99, 3)]
    assert book.best_ask() == (99, 4)
    assert book.best_bid() == (98, 3)


def test_market_buy_sweeps_several_levels_at_any_price(book):
    sell(book, 1, 100, 3)
    sell(book, 2, 150, 3)
    sell(book, 3, 10_000, 3)
    events = market(book, 4, BUY, 7)
    assert events == [
        (Event.ACK, 4),
        trade_event(1, 4, 1, 100, 3),
        trade_event(2, 4, 2, 150, 3),
        trade_event(3, 4, 3, 10_000, 1),
    ]
    assert book.best_ask() == (10_000, 2)
    assert book.best_bid() is None


def test_market_sell_sweeps_several_levels(book):
    buy(book, 1, 100, 3)
    buy(book, 2, 1, 3)
    assert trades(market(book, 3, SELL, 6)) == [(1, 3, 100, 3), (2, 3, 1, 3)]
    assert book.best_bid() is None


def test_market_remainder_is_cancelled_after_sweeping_the_book(book):
    sell(book, 1, 100, 3)
    events = market(book, 2, BUY, 10)
    assert events == [(Event.ACK, 2), trade_event(1, 2, 1, 100, 3), (Event.CANCELLED, 2, 7)]
    assert book.resting() == []


def test_market_order_on_empty_book_is_cancelled_with_full_leaves(book):
    assert market(book, 1, BUY, 10) == [(Event.ACK, 1), (Event.CANCELLED, 1, 10)]
    assert market(book, 2, SELL, 4) == [(Event.ACK, 2), (Event.CANCELLED, 2, 4)]
    assert book.order_count == 0
    assert book.match_seq == 0


def test_market_order_with_day_tif_still_does_not_rest(book):
    assert book.submit(1, 1, 1, 1, int(DAY), 0, 5) == [(Event.ACK, 1), (Event.CANCELLED, 1, 5)]
    assert book.best_bid() is None


def test_ioc_remainder_is_cancelled_not_rested(book):
    sell(book, 1, 100, 4)
    sell(book, 2, 102, 4)
    events = buy(book, 3, 101, 10, tif=IOC)
    assert events == [(Event.ACK, 3), trade_event(1, 3, 1, 100, 4), (Event.CANCELLED, 3, 6)]
    assert book.best_bid() is None
    assert book.best_ask() == (102, 4)


def test_ioc_that_fills_completely_has_no_cancel_event(book):
    buy(book, 1, 100, 10)
    assert sell(book, 2, 100, 10, tif=IOC) == [(Event.ACK, 2), trade_event(1, 1, 2, 100, 10)]


def test_ioc_on_empty_book_is_cancelled_with_full_leaves(book):
    assert sell(book, 1, 100, 10, tif=IOC) == [(Event.ACK, 1), (Event.CANCELLED, 1, 10)]


def test_day_remainder_rests_and_matches_later_orders(book):
    assert buy(book, 1, 100, 10) == [(Event.ACK, 1)]
    assert trades(sell(book, 2, 100, 3)) == [(1, 2, 100, 3)]
    assert trades(sell(book, 3, 99, 3)) == [(1, 3, 100, 3)]
    assert book.best_bid() == (100, 4)


def test_match_seq_counts_trades_from_one(book):
    sell(book, 1, 100, 1)
    sell(book, 2, 101, 1)
    events = buy(book, 3, 101, 2)
    sell(book, 4, 100, 1)
    events += buy(book, 5, 100, 1)
    assert [e[2] for e in events if e[0] == Event.TRADE] == [1, 2, 3]
    assert book.match_seq == 3


def test_statistics_track_trades(book):
    assert (book.symbol, book.match_seq, book.last_price, book.volume) == (SYM, 0, None, 0)
    sell(book, 1, 100, 5)
    sell(book, 2, 101, 5)
    buy(book, 3, 101, 7)
    assert (book.match_seq, book.last_price, book.volume) == (2, 101, 7)
    assert book.order_count == 1
    buy(book, 4, 99, 1)
    assert book.order_count == 2


def test_last_price_is_last_trade_not_first_unmatched_level(book):
    sell(book, 1, 100, 5)
    sell(book, 2, 105, 5)
    buy(book, 3, 102, 10)
    assert book.last_price == 100


def test_same_account_orders_still_match(book):
    buy(book, 1, 100, 5, account=7)
    assert trades(sell(book, 2, 100, 5, account=7)) == [(1, 2, 100, 5)]


def test_enum_field_values_are_accepted(book):
    assert book.submit(1, 1, Side.SELL, OrderType.LIMIT, TimeInForce.DAY, 100, 5) == [(Event.ACK, 1)]
    assert book.resting() == [(1, 1, -1, 100, 5)]
    assert type(book.resting()[0][2]) is int
    assert trades(book.submit(2, 1, Side.BUY, OrderType.MARKET, TimeInForce.IOC, 0, 5)) == [(2, 1, 100, 5)]


# ------------------------------------------------------------------ cancels


def test_cancel_resting_order_removes_it_from_book(book):
    buy(book, 1, 100, 10)
    buy(book, 2, 99, 5)
    assert book.cancel(3, 1) == [(Event.CANCELLED, 1, 10), (Event.CANCEL_DONE, 3, 1)]
    assert book.best_bid() == (99, 5)
    assert book.order_count == 1
    assert book.resting() == [(2, 1, 1, 99, 5)]
    assert book.depth() == ([(99, 5, 1)], [])


def test_cancelled_order_is_not_matched_by_later_orders(book):
    sell(book, 1, 100, 5)
    sell(book, 2, 100, 5)
    sell(book, 3, 101, 5)
    book.cancel(4, 1)
    assert trades(buy(book, 5, 101, 7)) == [(5, 2, 100, 5), (5, 3, 101, 2)]
    assert book.cancel(6, 1) == [(Event.REJECT, 6, RejectReason.ORDER_NOT_RESTING)]


def test_cancel_of_only_order_at_level_clears_the_level(book):
    sell(book, 1, 100, 5)
    sell(book, 2, 101, 5)
    book.cancel(3, 1)
    assert book.best_ask() == (101, 5)
    assert trades(buy(book, 4, 100, 5)) == []
    assert book.best_bid() == (100, 5)


def test_cancel_of_partially_filled_order_reports_remaining_leaves(book):
    sell(book, 1, 100, 10)
    buy(book, 2, 100, 3)
    buy(book, 3, 100, 2)
    assert book.cancel(4, 1) == [(Event.CANCELLED, 1, 5), (Event.CANCEL_DONE, 4, 1)]
    assert book.best_ask() is None


def test_many_cancels_within_a_level_keep_priority_and_counts(book):
    for oid in range(1, 201):
        sell(book, oid, 100, 1)
    keep = [oid for oid in range(1, 201) if oid % 7 == 0]
    for i, oid in enumerate(o for o in range(1, 201) if o % 7):
        assert book.cancel(1000 + i, oid)[0] == (Event.CANCELLED, oid, 1)
    assert book.depth() == ([], [(100, len(keep), len(keep))])
    assert [r[0] for r in book.resting()] == keep
    assert [t[1] for t in trades(buy(book, 2000, 100, 100))] == keep
    assert book.best_ask() is None


# ------------------------------------------------------------------ rejects


@pytest.mark.parametrize("qty", [0, -1, -100])
def test_non_positive_quantity_is_rejected(book, qty):
    assert buy(book, 1, 100, qty) == [(Event.REJECT, 1, RejectReason.QTY_NOT_POSITIVE)]
    assert market(book, 2, SELL, qty) == [(Event.REJECT, 2, RejectReason.QTY_NOT_POSITIVE)]
    assert book.resting() == []


@pytest.mark.parametrize("price", [0, -1])
def test_non_positive_limit_price_is_rejected(book, price):
    assert sell(book, 1, price, 5) == [(Event.REJECT, 1, RejectReason.PRICE_NOT_POSITIVE)]
    assert buy(book, 2, price, 5, tif=IOC) == [(Event.REJECT, 2, RejectReason.PRICE_NOT_POSITIVE)]
    assert book.resting() == []


def test_market_order_price_is_ignored(book):
    sell(book, 1, 100, 5)
    assert trades(book.submit(2, 1, 1, 1, 0, 0, 5)) == [(2, 1, 100, 5)]


MALFORMED_FIELDS = [
    # (side, otype, tif, price, qty)
    pytest.param(0, 0, 0, 100, 5, id="side-zero"),
    pytest.param(2, 0, 0, 100, 5, id="side-two"),
    pytest.param(True, 0, 0, 100, 5, id="side-bool"),
    pytest.param(1.0, 0, 0, 100, 5, id="side-float"),
    pytest.param(1, 2, 0, 100, 5, id="otype-cancel"),
    pytest.param(1, 7, 0, 100, 5, id="otype-unknown"),
    pytest.param(1, False, 0, 100, 5, id="otype-bool"),
    pytest.param(1, 0, 5, 100, 5, id="tif-unknown"),
    pytest.param(1, 0, -1, 100, 5, id="tif-negative"),
    pytest.param(1, 0, None, 100, 5, id="tif-none"),
    pytest.param(1, 0, 0, 100.5, 5, id="price-float"),
    pytest.param(1, 0, 0, "100", 5, id="price-str"),
    pytest.param(1, 1, 0, None, 5, id="market-price-none"),
    pytest.param(1, 0, 0, 100, 5.0, id="qty-float"),
    pytest.param(1, 0, 0, 100, True, id="qty-bool"),
    pytest.param(1, 0, 0, 100, "5", id="qty-str"),
    pytest.param(1, 0, 0, 100, None, id="qty-none"),
]


@pytest.mark.parametrize("side,otype,tif,price,qty", MALFORMED_FIELDS)
def test_malformed_order_is_rejected(book, side, otype, tif, price, qty):
    assert check_order(side, otype, tif, price, qty) == RejectReason.MALFORMED
    assert book.submit(1, 1, side, otype, tif, price, qty) == [(Event.REJECT, 1, RejectReason.MALFORMED)]
    assert book.resting() == []


@pytest.mark.parametrize("oid,account", [(1.0, 1), ("1", 1), (1, None), (1, True)])
def test_non_int_oid_or_account_is_malformed(book, oid, account):
    assert book.submit(oid, account, 1, 0, 0, 100, 5) == [(Event.REJECT, oid, RejectReason.MALFORMED)]
    assert book.resting() == []


def test_check_order_accepts_valid_orders_and_names_reasons():
    assert check_order(1, 0, 0, 100, 5) is None
    assert check_order(-1, 0, 1, 1, 1) is None
    assert check_order(1, 1, 0, 0, 5) is None
    assert check_order(Side.SELL, OrderType.MARKET, TimeInForce.IOC, 0, 5) is None
    assert check_order(1, 0, 0, 100, 0) is RejectReason.QTY_NOT_POSITIVE
    assert check_order(1, 0, 0, 0, 5) is RejectReason.PRICE_NOT_POSITIVE
    assert check_order(1, 0, 0, 0, 0) is RejectReason.QTY_NOT_POSITIVE


def test_rejected_order_leaves_book_and_counters_untouched(book):
    sell(book, 1, 100, 5)
    book.submit(2, 1, 1, 0, 0, 100, 0)
    book.submit(3, 1, 1, 5, 0, 100, 5)
    assert book.resting() == [(1, 2, -1, 100, 5)]
    assert (book.match_seq, book.volume, book.last_price) == (0, 0, None)


def test_cancel_of_never_seen_order_is_unknown(book):
    assert book.cancel(1, 5) == [(Event.REJECT, 1, RejectReason.UNKNOWN_ORDER)]
    buy(book, 10, 100, 5)
    assert book.cancel(11, 12) == [(Event.REJECT, 11, RejectReason.UNKNOWN_ORDER)]


def test_cancel_of_filled_order_is_not_resting(book):
    sell(book, 1, 100, 5)
    buy(book, 2, 100, 5)
    assert book.cancel(3, 1) == [(Event.REJECT, 3, RejectReason.ORDER_NOT_RESTING)]
    assert book.cancel(4, 2) == [(Event.REJECT, 4, RejectReason.ORDER_NOT_RESTING)]


def test_cancel_of_already_cancelled_order_is_not_resting(book):
    buy(book, 1, 100, 5)
    assert book.cancel(2, 1)[1] == (Event.CANCEL_DONE, 2, 1)
    assert book.cancel(3, 1) == [(Event.REJECT, 3, RejectReason.ORDER_NOT_RESTING)]


def test_cancel_of_ioc_market_or_rejected_order_is_not_resting(book):
    buy(book, 1, 100, 5, tif=IOC)
    market(book, 2, SELL, 5)
    buy(book, 3, 100, 0)
    for cancel_oid, target in [(4, 1), (5, 2), (6, 3)]:
        assert book.cancel(cancel_oid, target) == [(Event.REJECT, cancel_oid, RejectReason.ORDER_NOT_RESTING)]


def test_cancel_of_lower_id_never_sent_here_is_not_resting(book):
    buy(book, 5, 100, 5)
    assert book.cancel(6, 3) == [(Event.REJECT, 6, RejectReason.ORDER_NOT_RESTING)]


@pytest.mark.parametrize("target", [1.0, "1", None, True])
def test_cancel_with_non_int_target_is_malformed(book, target):
    buy(book, 1, 100, 5)
    assert book.cancel(2, target) == [(Event.REJECT, 2, RejectReason.MALFORMED)]
    assert book.order_count == 1


# ------------------------------------------------------------------ views


def test_depth_aggregates_levels_best_first(book):
    buy(book, 1, 99, 5)
    buy(book, 2, 100, 3)
    buy(book, 3, 99, 7)
    buy(book, 4, 98, 1)
    sell(book, 5, 102, 4)
    sell(book, 6, 101, 2)
    sell(book, 7, 102, 6)
    sell(book, 8, 101, 1)
    sell(book, 9, 101, 1)
    bids, asks = book.depth()
    assert bids == [(100, 3, 1), (99, 12, 2), (98, 1, 1)]
    assert asks == [(101, 4, 3), (102, 10, 2)]
    assert book.best_bid() == (100, 3)
    assert book.best_ask() == (101, 4)


def test_depth_limits_levels_and_reflects_fills_and_cancels(book):
    for i in range(15):
        sell(book, i + 1, 100 + i, 10)
    buy(book, 20, 100, 4)
    book.cancel(21, 2)
    bids, asks = book.depth(3)
    assert bids == []
    assert asks == [(100, 6, 1), (102, 10, 1), (103, 10, 1)]
    assert len(book.depth()[1]) == 10
    assert book.depth(0) == ([], [])


def test_resting_lists_orders_in_priority_order(book):
    buy(book, 1, 99, 5, account=11)
    buy(book, 2, 100, 3, account=12)
    buy(book, 3, 99, 7, account=13)
    sell(book, 4, 102, 4, account=14)
    sell(book, 5, 101, 2, account=15)
    sell(book, 6, 101, 1, account=16)
    assert book.resting() == [
        (2, 12, 1, 100, 3),
        (1, 11, 1, 99, 5),
        (3, 13, 1, 99, 7),
        (5, 15, -1, 101, 2),
        (6, 16, -1, 101, 1),
        (4, 14, -1, 102, 4),
    ]


def _populated_book():
    book = OrderBook(SYM)
    buy(book, 1, 99, 5)
    buy(book, 2, 100, 3)
    buy(book, 3, 99, 7)
    buy(book, 4, 97, 2)
    sell(book, 5, 102, 4)
    sell(book, 6, 101, 2)
    sell(book, 7, 101, 6)
    sell(book, 8, 103, 1)
    buy(book, 9, 101, 1)  # partial fill of 6
    book.cancel(10, 7)
    return book


def test_resting_restore_round_trip_gives_identical_subsequent_matching():
    original = _populated_book()
    restored = OrderBook(SYM)
    restored.restore(
        original.resting(),
        match_seq=original.match_seq,
        last_price=original.last_price,
        volume=original.volume,
    )
    assert restored.resting() == original.resting()
    assert restored.depth() == original.depth()
    assert restored.best_bid() == original.best_bid()
    assert restored.best_ask() == original.best_ask()
    assert restored.order_count == original.order_count
    assert (restored.match_seq, restored.last_price, restored.volume) == (
        original.match_seq,
        original.last_price,
        original.volume,
    )
    follow_up = [
        ("sell", 11, 99, 10),
        ("buy", 12, 103, 9),
        ("cancel", 13, 3),
        ("cancel", 14, 7),
        ("cancel", 15, 99),
        ("market", 16, -1, 50),
        ("buy", 17, 100, 2),
    ]
    for op in follow_up:
        results = []
        for b in (original, restored):
            if op[0] == "buy":
                results.append(buy(b, op[1], op[2], op[3]))
            elif op[0] == "sell":
                results.append(sell(b, op[1], op[2], op[3]))
            elif op[0] == "market":
                results.append(market(b, op[1], op[2], op[3]))
            else:
                results.append(b.cancel(op[1], op[2]))
        assert results[0] == results[1], op
        assert original.resting() == restored.resting()


def test_restore_keeps_given_time_priority_within_a_level():
    book = OrderBook(SYM)
    book.restore([(7, 1, -1, 100, 2), (3, 1, -1, 100, 2), (5, 1, -1, 99, 1)])
    assert book.resting() == [(5, 1, -1, 99, 1), (7, 1, -1, 100, 2), (3, 1, -1, 100, 2)]
    assert [t[1] for t in trades(buy(book, 8, 100, 5))] == [5, 7, 3]


def test_restore_sets_up_ids_for_unknown_order_detection():
    book = OrderBook(SYM)
    book.restore([(40, 1, 1, 100, 5), (30, 1, -1, 101, 5)])
    assert book.cancel(41, 35) == [(Event.REJECT, 41, RejectReason.ORDER_NOT_RESTING)]
    assert book.cancel(42, 45) == [(Event.REJECT, 42, RejectReason.UNKNOWN_ORDER)]
    assert book.cancel(43, 30) == [(Event.CANCELLED, 30, 5), (Event.CANCEL_DONE, 43, 30)]
    book.restore([], max_oid=100)
    assert book.cancel(44, 90) == [(Event.REJECT, 44, RejectReason.ORDER_NOT_RESTING)]


def test_restore_replaces_existing_resting_orders():
    book = _populated_book()
    book.restore([(50, 1, 1, 90, 5)])
    assert book.resting() == [(50, 1, 1, 90, 5)]
    assert book.order_count == 1
    assert book.best_ask() is None


@pytest.mark.parametrize(
    "orders",
    [
        [(1, 1, 1, 101, 5), (2, 1, -1, 100, 5)],  # crossed
        [(1, 1, 1, 100, 5), (2, 1, -1, 100, 5)],  # locked
        [(1, 1, 1, 100, 5), (1, 1, 1, 99, 5)],  # repeated id
        [(1, 1, 0, 100, 5)],  # bad side
        [(1, 1, 1, 0, 5)],  # bad price
        [(1, 1, 1, 100, 0)],  # no leaves
        [(1, 1, 1, 100)],  # short
        [(1, 1, 1, 100.0, 5)],  # non-int
    ],
)
def test_restore_refuses_invalid_orders_and_leaves_book_unchanged(orders):
    book = _populated_book()
    before = book.resting()
    with pytest.raises(ValueError):
        book.restore(orders)
    assert book.resting() == before


# ------------------------------------------------------------------ property tests


class ReferenceBook:
    """Naive O(n^2) matcher: a flat list of resting orders, best found by scanning."""

    def __init__(self):
        self.resting = []  # [oid, account, side, price, leaves, arrival]
        self.arrival = 0
        self.match_seq = 0
        self.max_oid = 0

    def submit(self, oid, account, side, otype, tif, price, qty):
        self.max_oid = max(self.max_oid, oid)
        if qty <= 0:
            return [(Event.REJECT, oid, RejectReason.QTY_NOT_POSITIVE)]
        if otype == LIMIT and price <= 0:
            return [(Event.REJECT, oid, RejectReason.PRICE_NOT_POSITIVE)]
        events = [(Event.ACK, oid)]
        leaves = qty
        while leaves:
            candidates = [
                r
                for r in self.resting
                if r[2] == -side and (otype == MARKET or (r[3] <= price if side == BUY else r[3] >= price))
            ]
            if not candidates:
                break
            best = min(candidates, key=lambda r: (r[3] * side, r[5]))
            fill = min(leaves, best[4])
            self.match_seq += 1
            buy_oid, sell_oid = (oid, best[0]) if side == BUY else (best[0], oid)
            events.append((Event.TRADE, SYM, self.match_seq, buy_oid, sell_oid, best[3], fill))
            leaves -= fill
            best[4] -= fill
            if best[4] == 0:
                self.resting.remove(best)
        if leaves:
            if otype == LIMIT and tif == DAY:
                self.arrival += 1
                self.resting.append([oid, account, side, price, leaves, self.arrival])
            else:
                events.append((Event.CANCELLED, oid, leaves))
        return events

    def cancel(self, cancel_oid, target):
        for r in self.resting:
            if r[0] == target:
                self.resting.remove(r)
                return [(Event.CANCELLED, target, r[4]), (Event.CANCEL_DONE, cancel_oid, target)]
        if target > self.max_oid:
            return [(Event.REJECT, cancel_oid, RejectReason.UNKNOWN_ORDER)]
        return [(Event.REJECT, cancel_oid, RejectReason.ORDER_NOT_RESTING)]

    def priority_list(self):
        bids = sorted((r for r in self.resting if r[2] == BUY), key=lambda r: (-r[3], r[5]))
        asks = sorted((r for r in self.resting if r[2] == SELL), key=lambda r: (r[3], r[5]))
        return [(r[0], r[1], r[2], r[3], r[4]) for r in bids + asks]


order_op = st.tuples(
    st.just("order"),
    st.integers(1, 4),  # account
    st.sampled_from([1, -1]),  # side
    st.sampled_from(["day", "day", "day", "ioc", "market"]),
    st.one_of(st.integers(95, 105), st.integers(95, 105), st.sampled_from([0, -3])),  # price
    st.one_of(st.integers(1, 30), st.integers(1, 30), st.integers(1, 30), st.sampled_from([0, -2])),
)
cancel_op = st.tuples(st.just("cancel"), st.integers(1, 70))
ops_strategy = st.lists(st.one_of(order_op, order_op, cancel_op), max_size=60)

KINDS = {"day": (0, 0), "ioc": (0, 1), "market": (1, 0)}


def apply(book, oid, op):
    if op[0] == "cancel":
        return book.cancel(oid, op[1])
    _, account, side, kind, price, qty = op
    otype, tif = KINDS[kind]
    if otype == MARKET:
        price = 0
    return book.submit(oid, account, side, otype, tif, price, qty)


@settings(max_examples=200, deadline=None)
@given(ops_strategy)
def test_book_invariants_and_agreement_with_reference_model(ops):
    book = OrderBook(SYM)
    ref = ReferenceBook()
    accepted = {}  # oid -> (side, otype, price, qty)
    filled = {}
    cancelled = {}
    all_trades = []
    for i, op in enumerate(ops):
        oid = i + 1
        events = apply(book, oid, op)
        assert events == apply(ref, oid, op)
        assert book.resting() == ref.priority_list()

        if events[0][0] == Event.ACK:
            _, _, side, kind, price, qty = op
            accepted[oid] = (side, KINDS[kind][0], price, qty)
        for ev in events:
            if ev[0] == Event.TRADE:
                all_trades.append(ev)
                _, sym, _, buy_oid, sell_oid, price, qty = ev
                assert sym == SYM and qty > 0
                filled[buy_oid] = filled.get(buy_oid, 0) + qty
                filled[sell_oid] = filled.get(sell_oid, 0) + qty
                # the aggressor is this order; the other side was resting at the trade price
                resting_oid = sell_oid if buy_oid == oid else buy_oid
                assert oid in (buy_oid, sell_oid)
                r_side, r_otype, r_price, _ = accepted[resting_oid]
                assert r_otype == LIMIT and price == r_price
                a_side, a_otype, a_price, _ = accepted[oid]
                assert r_side == -a_side
                if a_otype == LIMIT:
                    assert price <= a_price if a_side == BUY else price >= a_price
            elif ev[0] == Event.CANCELLED:
                cancelled[ev[1]] = cancelled.get(ev[1], 0) + ev[2]

        # never crossed
        bb, ba = book.best_bid(), book.best_ask()
        if bb is not None and ba is not None:
            assert bb[0] < ba[0]
        # no order filled beyond its quantity
        for o, f in filled.items():
            assert f <= accepted[o][3]
        # views agree with each other
        rest = book.resting()
        assert book.order_count == len(rest)
        bids, asks = book.depth(1000)
        assert sum(lvl[2] for lvl in bids + asks) == len(rest)
        assert sum(lvl[1] for lvl in bids + asks) == sum(r[4] for r in rest)
        assert bb == (bids[0][:2] if bids else None)
        assert ba == (asks[0][:2] if asks else None)

    # match_seq is 1..n consecutive; counters agree
    assert [t[2] for t in all_trades] == list(range(1, len(all_trades) + 1))
    assert book.match_seq == len(all_trades)
    assert book.volume == sum(t[6] for t in all_trades)
    assert book.last_price == (all_trades[-1][5] if all_trades else None)
    # quantity conserved per accepted order
    resting_leaves = {r[0]: r[4] for r in book.resting()}
    for o, (_, _, _, qty) in accepted.items():
        assert qty == filled.get(o, 0) + cancelled.get(o, 0) + resting_leaves.get(o, 0)


@settings(max_examples=200, deadline=None)
@given(ops_strategy, ops_strategy)
def test_restored_book_matches_like_the_original(before, after):
    original = OrderBook(SYM)
    for i, op in enumerate(before):
        apply(original, i + 1, op)
    restored = OrderBook(SYM)
    max_submitted = max((i + 1 for i, op in enumerate(before) if op[0] == "order"), default=0)
    restored.restore(original.resting(), match_seq=original.match_seq, max_oid=max_submitted)
    for i, op in enumerate(after, start=len(before) + 1):
        assert apply(original, i, op) == apply(restored, i, op)
        assert original.resting() == restored.resting()
        assert original.depth() == restored.depth()


# ------------------------------------------------------------------ flat event records


def test_submit_into_appends_padded_records_and_trades_carry_the_sym_id():
    book = OrderBook(SYM, sym_id=6)
    out = [99]  # what the caller already had stays first
    book.submit_into(out, 1, 1, -1, 0, 0, 100, 10)
    book.submit_into(out, 2, 1, 1, 0, 1, 101, 15)
    assert out == [99] + [
        1, 1, 0, 0, 0, 0, 0,  # ACK
        1, 2, 0, 0, 0, 0, 0,  # ACK
        3, 6, 1, 2, 1, 100, 10,  # TRADE on sym 6
        4, 2, 5, 0, 0, 0, 0,  # CANCELLED, the IOC's rest
    ]  # fmt: skip
    assert book.sym_id == 6 and book.last_price == 100


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([1, -1]), st.integers(90, 110), st.integers(1, 30)), max_size=12),
    st.lists(st.tuples(st.sampled_from([1, -1]), st.integers(1, 60)), min_size=1, max_size=6),
)
def test_rest_leaves_the_book_as_submit_into_resting_the_same_uncrossing_order_does(flow, quotes):
    books = OrderBook(SYM), OrderBook(SYM)
    for book in books:
        for oid, (side, price, qty) in enumerate(flow, start=1):
            book.submit_into([], oid, 1, side, 0, 0, price, qty)
    for oid, (side, off) in enumerate(quotes, start=100):  # behind the other side's best: no cross
        bids, asks = books[0]._bid_keys, books[0]._ask_keys
        price = (
            (-asks[-1] - off if asks else 100 + off) if side == 1 else (bids[-1] + off if bids else 100 - off)
        )
        if price <= 0:
            continue
        out: list = []
        books[0].submit_into(out, oid, 7, side, 0, 0, price, 50)
        books[1].rest(oid, 7, side, price, 50)
        assert out == [1, oid, 0, 0, 0, 0, 0]  # only the ACK: it rested
    assert books[0].state() == books[1].state() and books[0].depth(50) == books[1].depth(50)
    # and both match, cancel and report unknown ids alike from there
    assert books[0].submit(200, 3, 1, 1, 1, 0, 500) == books[1].submit(200, 3, 1, 1, 1, 0, 500)
    assert books[0].cancel(201, 99) == books[1].cancel(201, 99)  # below a rested id: not resting
    assert books[0].cancel(202, 300) == books[1].cancel(202, 300)


def test_cancel_into_appends_cancelled_and_done_or_a_reject():
    book = OrderBook(SYM, sym_id=2)
    out: list = []
    book.submit_into(out, 1, 1, 1, 0, 0, 100, 10)
    out.clear()
    book.cancel_into(out, 2, 1)
    book.cancel_into(out, 3, 1)
    book.cancel_into(out, 4, 50)
    assert out == [
        4, 1, 10, 0, 0, 0, 0,
        5, 2, 1, 0, 0, 0, 0,
        2, 3, int(RejectReason.ORDER_NOT_RESTING), 0, 0, 0, 0,
        2, 4, int(RejectReason.UNKNOWN_ORDER), 0, 0, 0, 0,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "side, otype, tif, price, qty",
    [
        (0, 0, 0, 1, 1),
        (1, 2, 0, 1, 1),
        (1, 0, 7, 1, 1),
        (-2, 1, 1, 0, 0),
        (1, 0, 0, 1, 0),
        (-1, 1, 1, -7, -3),
        (1, 0, 1, 0, 5),
        (-1, 0, 0, -1, 5),
    ],
)
def test_submit_into_rejects_out_of_range_ints_with_check_order_reasons(side, otype, tif, price, qty):
    book = OrderBook(SYM)
    out: list = []
    book.submit_into(out, 9, 1, side, otype, tif, price, qty)
    assert out == [2, 9, int(check_order(side, otype, tif, price, qty)), 0, 0, 0, 0]
    assert book.order_count == 0 and book.cancel(10, 9)[0][2] == RejectReason.ORDER_NOT_RESTING


@settings(max_examples=200, deadline=None)
@given(ops_strategy)
def test_flat_records_say_what_the_readable_events_say(ops):
    readable, flat = OrderBook(SYM, sym_id=4), OrderBook(SYM, sym_id=4)
    for i, op in enumerate(ops, start=1):
        events = apply(readable, i, op)
        out: list = []
        if op[0] == "cancel":
            flat.cancel_into(out, i, op[1])
        else:
            _, account, side, kind, price, qty = op
            otype, tif = KINDS[kind]
            flat.submit_into(out, i, account, side, otype, tif, 0 if otype else price, qty)
        it = iter(out)
        records = list(zip(*[it] * 7))
        assert len(out) == 7 * len(events)
        for event, record in zip(events, records):
            if event[0] == Event.TRADE:
                assert record == (Event.TRADE, 4) + event[2:]
            else:
                assert record == event + (0,) * (7 - len(event))
