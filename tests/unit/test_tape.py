"""The watched symbol's tape as a broker records it: every event of every order taken, in the
book's order, sampled at the eye's rate, with what was left out counted; and the all-symbols
tape, every book of every broker under one budget, merged by the bank in placement order."""

from __future__ import annotations

import pytest

from simulator.book import OrderBook
from simulator.orders import OrderType, RejectReason, Side, TimeInForce
from simulator.outside_ids import priority
from simulator.tape import EYE_BURST, TapeMerge, TapeRecorder, tape_events

LIMIT, MARKET, CANCEL = int(OrderType.LIMIT), int(OrderType.MARKET), int(OrderType.CANCEL)
DAY, IOC = int(TimeInForce.DAY), int(TimeInForce.IOC)
BUY, SELL = int(Side.BUY), int(Side.SELL)


def recorded_book(rate: float = 1000.0, burst: float = 1000.0):
    book = OrderBook("AAPL", 0)
    tape = TapeRecorder(rate, burst)
    submit, cancel = tape.wrap(book)
    return book, tape, submit, cancel


def events_of(tape: TapeRecorder):
    _skipped, taken = tape.take()
    out, seq = [], 1
    for t, order, events in taken:
        new = tape_events("AAPL", t, order, events, seq)
        seq += len(new)
        out += new
    return out


def test_every_event_of_every_order_in_the_order_the_book_made_them():
    _book, tape, submit, cancel = recorded_book()
    out: list = []
    submit(out, 1, 7, BUY, LIMIT, DAY, 10_000, 100)  # rests
    submit(out, 2, 8, SELL, LIMIT, DAY, 10_010, 50)  # rests
    submit(out, 3, 9, SELL, MARKET, IOC, 0, 30)  # hits the bid
    submit(out, 4, 9, BUY, LIMIT, IOC, 9_000, 5)  # nothing to trade with: its rest cancelled
    submit(out, 5, 9, BUY, LIMIT, DAY, -1, 5)  # refused
    cancel(out, 6, 1)  # the rest of order 1
    events = events_of(tape)
    assert [(e.kind, e.oid) for e in events] == [
        ("new", 1), ("ack", 1),
        ("new", 2), ("ack", 2),
        ("new", 3), ("ack", 3), ("fill", 3),
        ("new", 4), ("ack", 4), ("cancelled", 4),
        ("new", 5), ("reject", 5),
        ("new", 6), ("cancelled", 1), ("cancel_done", 6),
    ]  # fmt: skip
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    first = events[0]
    assert (first.side, first.otype, first.tif, first.price, first.qty, first.account) == (
        BUY, LIMIT, DAY, 10_000, 100, 7
    )  # fmt: skip
    fill = events[6]
    assert (fill.side, fill.price, fill.qty, fill.other) == (SELL, 10_000, 30, 1)  # aggressor 3, resting 1
    assert events[9].qty == 5 and events[9].other == 0  # an IOC's rest, not cancelled by a request
    assert events[11].reason == RejectReason.PRICE_NOT_POSITIVE
    assert events[12].otype == CANCEL and events[12].other == 1
    assert events[13].qty == 70 and events[13].other == 6  # what order 1 had left, cancelled by 6


def test_above_the_eyes_rate_orders_are_left_out_whole_and_their_events_counted():
    _book, tape, submit, _cancel = recorded_book(rate=2.0, burst=2.0)
    tape.tick(100.0)
    out: list = []
    for oid in range(1, 6):
        submit(out, oid, 1, BUY, LIMIT, DAY, 10_000 + oid, 10)  # each: NEW + ACK
    skipped, taken = tape.take()
    assert [order[0] for _t, order, _events in taken] == [1, 2]
    assert skipped == 3 * 2
    tape.tick(100.5)  # half a second at 2 a second: one more
    submit(out, 6, 1, BUY, LIMIT, DAY, 10_000, 10)
    submit(out, 7, 1, BUY, LIMIT, DAY, 10_000, 10)
    skipped, taken = tape.take()
    assert [order[0] for _t, order, _events in taken] == [6] and skipped == 2


def test_past_the_eyes_rate_yours_and_what_trades_with_them_are_taken_and_agents_alone_are_not():
    from simulator.agents import agent_oid
    from simulator.outside_ids import SOURCES, YOU

    you = SOURCES[YOU] + 1
    book, tape, submit, cancel = recorded_book(rate=1.0, burst=1.0)
    tape.tick(0.0)
    out: list = []
    submit(out, 1, 1, BUY, LIMIT, DAY, 9_000, 10)  # spends the only token
    submit(out, agent_oid(1, 0), 50, SELL, LIMIT, DAY, 10_100, 10)  # a maker's quote: left out
    submit(out, 2, 1, BUY, LIMIT, IOC, 10_100, 5)  # trades with the maker only: left out
    book._max_oid = agent_oid(2, 0)  # as a desk's reaction holds it: no yours for all that
    submit(out, agent_oid(2, 0), 50, BUY, LIMIT, IOC, 10_100, 5)
    book._max_oid = 2
    assert [order[0] for _t, order, _e in tape.take()[1]] == [1] and tape.tokens < 1.0
    submit(out, you, 9, SELL, LIMIT, DAY, 10_200, 10)  # yours: taken
    submit(out, 3, 1, BUY, LIMIT, IOC, 10_200, 4)  # trades with yours: taken
    submit(out, 4, 1, BUY, LIMIT, DAY, 8_000, 4)  # names no one of yours: left out
    cancel(out, 5, you)  # ends yours: taken
    assert [order[0] for _t, order, _e in tape.take()[1]] == [you, 3, 5]


def test_a_book_restored_with_one_of_yours_resting_still_takes_what_trades_with_it():
    from simulator.outside_ids import SOURCES, YOU

    you = SOURCES[YOU] + 1
    book = OrderBook("AAPL", 0)
    book.restore([(you, 9, SELL, 10_200, 10), (7, 1, BUY, 9_000, 10)], max_oid=7)
    tape = TapeRecorder(rate=1.0, burst=0.0)
    submit, _cancel = tape.wrap(book)
    tape.tick(0.0)
    out: list = []
    submit(out, 8, 1, BUY, LIMIT, DAY, 8_000, 4)  # left out
    submit(out, 9, 1, BUY, LIMIT, IOC, 10_200, 4)  # trades with yours: taken
    skipped, taken = tape.take()
    assert [order[0] for _t, order, _e in taken] == [9] and skipped == 2


def test_the_burst_is_bounded_after_a_quiet_spell():
    tape = TapeRecorder()
    tape.tick(0.0)
    tape.tick(3600.0)
    assert tape.tokens == EYE_BURST


def test_a_watched_book_trades_exactly_as_an_unwatched_one():
    watched, _tape, submit, cancel = recorded_book(rate=1.0, burst=1.0)
    plain = OrderBook("AAPL", 0)
    a: list = []
    b: list = []
    for oid in range(1, 200):
        side = BUY if oid % 3 else SELL
        price = 10_000 + (oid * 7) % 11
        submit(a, oid, oid % 5, side, LIMIT, DAY, price, 10 + oid % 4)
        plain.submit_into(b, oid, oid % 5, side, LIMIT, DAY, price, 10 + oid % 4)
        if oid % 10 == 0:
            cancel(a, 1000 + oid, oid - 3)
            plain.cancel_into(b, 1000 + oid, oid - 3)
    assert a == b and watched.depth(10) == plain.depth(10)


def test_a_broker_records_the_watched_symbol_only_and_stops_when_told():
    from simulator import messages as msg
    from simulator.broker import Broker

    broker = Broker(msg.BrokerSpec(0, "broker-1", ("AAPL", "MSFT"), (0, 1)))
    broker.watch("MSFT")
    out: list = []
    orders = [(1, 3, 0, BUY, LIMIT, DAY, 100, 5, 0), (2, 3, 1, SELL, LIMIT, DAY, 200, 5, 0)]
    broker.handle_orders([x for o in orders for x in o], out)
    skipped, taken = broker.tape.take()
    assert [order[:3] for _t, order, _e in taken] == [(2, 3, 1)] and skipped == 0
    broker.watch(None)
    assert broker.tape is None
    broker.handle_orders([3, 3, 1, BUY, LIMIT, DAY, 100, 5, 0], out)  # the book's own entry again
    assert out[-7:] == [1, 3, 0, 0, 0, 0, 0]


def test_watching_the_watched_symbol_again_fills_its_bucket_so_a_step_is_never_left_out():
    from simulator import messages as msg
    from simulator.broker import Broker

    broker = Broker(msg.BrokerSpec(0, "broker-1", ("AAPL",), (0,)))
    broker.watch("AAPL")
    tape = broker.tape
    out: list = []
    for oid in range(1, 40):  # a fast flow drains the bucket
        broker.handle_orders([oid, 3, 0, BUY, LIMIT, DAY, 100 + oid, 5, 0], out)
    assert tape.tokens < 1.0 and tape.skipped
    tape.take()
    broker.watch("AAPL")  # what a step sends ahead of its order
    assert broker.tape is tape and tape.tokens == tape.burst
    broker.handle_orders([99, 3, 0, BUY, LIMIT, DAY, 100, 5, 0], out)
    _skipped, taken = tape.take()
    assert [order[0] for _t, order, _e in taken] == [99]


def test_a_tape_message_travels_and_a_malformed_one_is_refused():
    from simulator import messages as msg

    body = ("AAPL", 3, [(1.5, (1, 2, 0, 1, 0, 0, 100, 5, 0), (1, 1, 0, 0, 0, 0, 0))])
    assert msg.decode(msg.encode(msg.TAPE, body)) == (msg.TAPE, body)
    with pytest.raises(msg.BadMessage, match="TAPE"):
        msg.decode(msg.encode(msg.TAPE, ("AAPL", 3)))


def test_the_new_events_of_the_order_types_are_on_the_tape_with_plain_int_fields():
    book = OrderBook("AAPL", 0)
    recorder = TapeRecorder(burst=10.0)
    submit, cancel = recorder.wrap(book)
    out: list = []
    submit(out, 1, 1, -1, 5, 0, 100, 30, 10)  # an iceberg: SHOWN
    submit(out, 2, 2, 1, 3, 0, 0, 5, 100)  # a buy stop at 100: held
    submit(out, 3, 3, 1, 0, 1, 100, 10)  # trades 10 at 100: the iceberg refills, the stop triggers
    submit(out, 4, 4, -1, 0, 0, 103, 10)
    cancel(out, 5, 4, 104, 5)  # an amend of order 4 to the back of 104
    kinds = []
    for t, order, events in recorder.take()[1]:
        for e in tape_events("AAPL", t, order, events, 0):
            kinds.append(e.kind)
            assert all(type(getattr(e, f)) is int for f in ("oid", "qty", "price", "reason", "other"))
    assert {"shown", "triggered", "amended"} <= set(kinds)


# -- the all-symbols tape -------------------------------------------------------------------------


def test_a_broker_told_to_tape_all_records_every_book_under_one_budget_even_books_opened_later():
    from simulator import messages as msg
    from simulator.broker import Broker

    broker = Broker(msg.BrokerSpec(0, "broker-1", ("AAPL", "MSFT", "NVDA"), (0, 1, 2)))
    broker.handle_orders([1, 3, 0, BUY, LIMIT, DAY, 100, 5, 0], [])  # AAPL's book is open
    kind, body = msg.decode(msg.encode(msg.WATCH, ("", 2.0)))
    assert (kind, body) == (msg.WATCH, ("", 2.0))
    broker.watch(*body)
    out: list = []
    for oid, sym in ((2, 0), (3, 1), (4, 2), (5, 0)):  # MSFT and NVDA open only now
        broker.handle_orders([oid, 3, sym, BUY, LIMIT, DAY, 100, 5, 0], out)
    skipped, taken = broker.tape.take()
    assert [order[:3] for _t, order, _e in taken] == [(2, 3, 0), (3, 3, 1)]  # a burst of 2
    assert skipped == 4 and broker.watched is None  # two orders left out, a new and an ack each
    broker.watch(None)  # off: every book's own entry points again
    broker.handle_orders([6, 3, 2, BUY, LIMIT, DAY, 100, 5, 0], out)
    assert broker.tape is None and out[-7:] == [1, 6, 0, 0, 0, 0, 0]
    with pytest.raises(msg.BadMessage, match="WATCH"):
        msg.decode(msg.encode(msg.WATCH, ("AAPL", float("inf"))))


def test_the_merge_gives_records_out_in_placement_order_and_counts_what_came_too_late():
    merge = TapeMerge(hold_s=0.3)
    merge.add(0.0, priority(20), "b20", 2)  # broker B is ahead
    merge.add(0.1, priority(10), "a10", 2)  # broker A's earlier order comes later
    merge.add(0.1, priority(2**40 + 1, anchor=10), "you1", 2)  # yours, placed right after 10
    assert merge.due(0.35) == []  # a10 has not waited its hold yet: nothing overtakes it
    assert merge.due(0.4) == ["a10", "you1", "b20"]
    merge.add(0.5, priority(15), "a15", 3)  # behind b20, shown already: left out, counted
    merge.add(0.5, priority(21), "b21", 2)
    assert merge.due(1.0) == ["b21"] and merge.late == 3 and len(merge) == 0


def test_the_feed_merges_every_brokers_tape_by_placement_and_names_each_symbol():
    from types import SimpleNamespace

    from simulator.outside_orders import OutsideOrders
    from simulator.tape_feed import TapeFeed

    outside = OutsideOrders()
    you = outside.new_id("you")
    outside.put((you, 9, 1, BUY, LIMIT, DAY, 100, 5, 0), 0, anchor=3)
    bank = SimpleNamespace(
        config=SimpleNamespace(symbols=("AAPL", "MSFT")), ledger=SimpleNamespace(outside=outside)
    )
    feed = TapeFeed(bank, t0=0.0)
    feed.set_all(True)
    ack = (1, 0, 0, 0, 0, 0, 0)

    def order(oid, sym):
        return (oid, 1, sym, BUY, LIMIT, DAY, 100, 5, 0)

    feed.on_tape(("*", 4, [(1.0, order(5, 0), ack)]), now=1.0)  # broker of AAPL
    feed.on_tape(("*", 0, [(1.0, order(3, 1), ack), (1.0, order(you, 1), ack)]), now=1.1)  # of MSFT
    feed.release(1.2)
    assert list(feed.kept) == []  # 3 and yours have not waited their hold
    feed.release(1.5)
    news = [(e.symbol, e.oid) for e in feed.kept if e.kind == "new"]
    assert news == [("MSFT", 3), ("MSFT", you), ("AAPL", 5)]
    assert [e.seq for e in feed.kept] == list(range(1, 7)) and feed.skipped == 4
