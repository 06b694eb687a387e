"""Unit tests for simulator.broker in-process: order records in, event records out.

``Broker`` is driven with the flat int lists a decoded ORDERS body gives (``body.tolist()``);
``InboxPump`` with fake pipe ends, so a whole tick (receive, match, reply) runs without a
process.
"""

from __future__ import annotations

import pytest

from simulator import messages as msg
from simulator import resting, wire
from simulator.broker import Broker, InboxPump
from simulator.bus import new_bus
from simulator.orders import Event, OrderType, RejectReason, Side
from simulator.processes import OrphanWatch
from simulator.testing.pipe_ends import FakeInbox, FakeResults

pytestmark = pytest.mark.timeout(60)

ACK, REJECT, TRADE = int(Event.ACK), int(Event.REJECT), int(Event.TRADE)
CANCELLED, CANCEL_DONE = int(Event.CANCELLED), int(Event.CANCEL_DONE)
LIMIT, MARKET, CANCEL = int(OrderType.LIMIT), int(OrderType.MARKET), int(OrderType.CANCEL)
DAY, IOC = 0, 1
# A broker owning symbols 3 and 5 of the run's list: wire syms need not start at 0.
SPEC = msg.BrokerSpec(index=1, name="broker-1", symbols=("MSFT", "TSLA"), symbol_ids=(3, 5))
MSFT, TSLA = 3, 5


def order(oid, sym, side, price, qty, *, otype=LIMIT, tif=DAY, account=7, target=0):
    return (oid, account, sym, side, otype, tif, price, qty, target)


def cancel(oid, sym, target):
    return (oid, 7, sym, 0, CANCEL, DAY, 0, 0, target)


def flat(*orders):
    """Order tuples as the broker receives them: one flat list of ints off the wire."""
    _kind, body = msg.decode(msg.encode(msg.ORDERS, wire.pack(orders, wire.ORDER_WIDTH)))
    return body.tolist()


def events(out):
    """A flat event list as 7-tuples, checking it holds whole records."""
    assert len(out) % wire.EVENT_WIDTH == 0
    it = iter(out)
    return list(zip(*[it] * wire.EVENT_WIDTH))


def handle(broker, *orders):
    out: list = []
    broker.handle_orders(flat(*orders), out)
    return events(out)


@pytest.fixture
def broker():
    return Broker(SPEC)


def test_orders_are_acked_and_crossing_orders_trade_with_their_wire_sym(broker):
    assert handle(
        broker,
        order(1, MSFT, -1, 10_000, 100),
        order(2, MSFT, 1, 10_050, 60),
    ) == [
        (ACK, 1, 0, 0, 0, 0, 0),
        (ACK, 2, 0, 0, 0, 0, 0),
        (TRADE, MSFT, 1, 2, 1, 10_000, 60),
    ]
    assert (broker.orders, broker.trades) == (2, 1)


def test_each_sym_goes_to_its_own_book(broker):
    assert handle(broker, order(1, MSFT, -1, 100, 10), order(2, TSLA, 1, 100, 10)) == [
        (ACK, 1, 0, 0, 0, 0, 0),
        (ACK, 2, 0, 0, 0, 0, 0),
    ]  # a buy on TSLA does not meet the sell on MSFT
    assert broker.books["MSFT"].best_ask() == (100, 10)
    assert broker.books["TSLA"].best_bid() == (100, 10)


def test_ioc_and_market_remainders_are_cancelled(broker):
    assert handle(
        broker,
        order(1, TSLA, 1, 100, 10, tif=IOC),
        order(2, TSLA, -1, 0, 5, otype=MARKET, tif=IOC),
    ) == [
        (ACK, 1, 0, 0, 0, 0, 0),
        (CANCELLED, 1, 10, 0, 0, 0, 0),
        (ACK, 2, 0, 0, 0, 0, 0),
        (CANCELLED, 2, 5, 0, 0, 0, 0),
    ]


def test_cancel_records_cancel_resting_orders_or_are_rejected(broker):
    handle(broker, order(1, MSFT, 1, 100, 10))
    assert handle(
        broker,
        cancel(2, MSFT, 1),
        cancel(3, MSFT, 1),
        cancel(4, MSFT, 99),
    ) == [
        (CANCELLED, 1, 10, 0, 0, 0, 0),
        (CANCEL_DONE, 2, 1, 0, 0, 0, 0),
        (REJECT, 3, int(RejectReason.ORDER_NOT_RESTING), 0, 0, 0, 0),
        (REJECT, 4, int(RejectReason.UNKNOWN_ORDER), 0, 0, 0, 0),
    ]
    assert broker.books["MSFT"].order_count == 0


@pytest.mark.parametrize("sym", [wire.UNKNOWN_SYM, 0, 4, 6, 2**40, -(2**40)])
def test_order_or_cancel_for_a_sym_not_owned_is_rejected_as_unknown_symbol(broker, sym):
    unknown = (REJECT, 0, int(RejectReason.UNKNOWN_SYMBOL), 0, 0, 0, 0)
    out = handle(broker, order(1, sym, 1, 100, 10), cancel(2, sym, 1))
    assert out == [unknown[:1] + (1,) + unknown[2:], unknown[:1] + (2,) + unknown[2:]]
    assert all(b.order_count == 0 for b in broker.books.values())


@pytest.mark.parametrize(
    "fields, reason",
    [
        (dict(side=0), RejectReason.MALFORMED),
        (dict(side=2), RejectReason.MALFORMED),
        (dict(otype=7), RejectReason.MALFORMED),
        (dict(otype=-1), RejectReason.MALFORMED),
        (dict(tif=5), RejectReason.MALFORMED),
        (dict(side=9, qty=0), RejectReason.MALFORMED),  # unreadable first, then quantity
        (dict(qty=0), RejectReason.QTY_NOT_POSITIVE),
        (dict(qty=-(2**63)), RejectReason.QTY_NOT_POSITIVE),
        (dict(price=0), RejectReason.PRICE_NOT_POSITIVE),
        (dict(price=-5), RejectReason.PRICE_NOT_POSITIVE),
    ],
)
def test_out_of_range_fields_get_their_reject_and_the_broker_carries_on(broker, fields, reason):
    bad = dict(oid=1, sym=MSFT, side=1, price=100, qty=10) | fields
    otype = bad.pop("otype", LIMIT)
    tif = bad.pop("tif", DAY)
    assert handle(broker, order(**bad, otype=otype, tif=tif), order(2, MSFT, 1, 100, 10)) == [
        (REJECT, 1, int(reason), 0, 0, 0, 0),
        (ACK, 2, 0, 0, 0, 0, 0),
    ]
    assert broker.books["MSFT"].resting() == [(2, 7, 1, 100, 10)]


def test_extreme_int64_fields_do_not_crash_the_broker(broker):
    top, bottom = 2**63 - 1, -(2**63)
    out = handle(
        broker,
        (top, top, MSFT, 1, LIMIT, DAY, top, top, top),  # acceptable: rests at a huge price
        (bottom, bottom, MSFT, bottom, bottom, bottom, bottom, bottom, bottom),
        (5, 0, MSFT, 0, CANCEL, DAY, 0, 0, bottom),
        (6, 0, TSLA, 0, CANCEL, DAY, 0, 0, top),
    )
    assert out == [
        (ACK, top, 0, 0, 0, 0, 0),
        (REJECT, bottom, int(RejectReason.MALFORMED), 0, 0, 0, 0),
        (REJECT, 5, int(RejectReason.ORDER_NOT_RESTING), 0, 0, 0, 0),
        (REJECT, 6, int(RejectReason.UNKNOWN_ORDER), 0, 0, 0, 0),
    ]
    wire.pack(out, wire.EVENT_WIDTH)  # and every event still fits the wire


def test_a_trailing_partial_record_is_counted_and_dropped(broker):
    out: list = []
    broker.handle_orders(flat(order(1, MSFT, 1, 100, 10)) + [5, 6, 7], out)
    assert events(out) == [(ACK, 1, 0, 0, 0, 0, 0)]
    assert broker.bad_messages == 1


def test_final_report_and_watched_book_name_symbols(broker):
    handle(broker, order(1, TSLA, 1, 100, 10), order(2, TSLA, -1, 101, 4))
    broker.watched = "TSLA"
    assert broker.watched_book() == ("TSLA", ((100, 10, 1),), ((101, 4, 1),), None)
    report = broker.final_report()
    names = {book.sym_id: symbol for symbol, book in broker.books.items()}
    assert resting.tuples(report.resting, report.resting_books, names) == {
        "TSLA": [(1, 7, 1, 100, 10), (2, 7, -1, 101, 4)]
    }
    assert (report.orders, report.trades) == (2, 0)


def test_restored_book_keeps_matching_by_wire_sym(broker):
    state = msg.BookState(resting=((1, 9, -1, 100, 10),), match_seq=4, last_price=99, max_oid=3)
    broker.restore({"MSFT": state})
    assert handle(broker, order(5, MSFT, 1, 100, 4), cancel(6, MSFT, 2)) == [
        (ACK, 5, 0, 0, 0, 0, 0),
        (TRADE, MSFT, 5, 5, 1, 100, 4),
        (REJECT, 6, int(RejectReason.ORDER_NOT_RESTING), 0, 0, 0, 0),
    ]


def test_spec_without_symbol_ids_numbers_its_symbols_from_zero():
    b = Broker(msg.BrokerSpec(index=0, name="b", symbols=("AAPL", "MSFT")))
    assert handle(b, order(1, 1, 1, 100, 10))[0] == (ACK, 1, 0, 0, 0, 0, 0)
    assert b.books["MSFT"].order_count == 1


def test_spec_with_mismatched_symbol_ids_is_refused():
    with pytest.raises(ValueError, match="symbol ids"):
        Broker(msg.BrokerSpec(index=0, name="b", symbols=("AAPL", "MSFT"), symbol_ids=(0,)))


# ------------------------------------------------------------------ the pump, one tick


def tick(payloads):
    """One pump tick over ``payloads``; the messages it sent back, heartbeats left out."""
    broker = Broker(SPEC)
    results = FakeResults()
    pump = InboxPump(new_bus("test"), broker, FakeInbox(payloads), results, OrphanWatch())
    pump.main()
    return pump, [m for m in results.sent if m[0] != msg.HEARTBEAT]  # one is due: not ours here


def test_pump_answers_a_batch_with_one_events_message_of_records():
    orders = msg.encode(msg.ORDERS, wire.pack([order(1, MSFT, -1, 100, 10)], 9))
    more = msg.encode(msg.ORDERS, wire.pack([order(2, MSFT, 1, 100, 4), order(3, 0, 1, 1, 1)], 9))
    pump, sent = tick([orders, more])
    assert [kind for kind, _ in sent] == [msg.EVENTS]
    index, consumed, records = sent[0][1]
    assert (index, consumed) == (1, 2)
    assert wire.unpack(records, wire.EVENT_WIDTH) == [
        (ACK, 1, 0, 0, 0, 0, 0),
        (ACK, 2, 0, 0, 0, 0, 0),
        (TRADE, MSFT, 1, 2, 1, 100, 4),
        (REJECT, 3, int(RejectReason.UNKNOWN_SYMBOL), 0, 0, 0, 0),
    ]
    assert (pump.broker.orders, pump.broker.bad_messages) == (3, 0)


def test_pump_counts_bad_messages_and_answers_the_good_ones():
    good = msg.encode(msg.ORDERS, wire.pack([order(1, TSLA, 1, 100, 10)], 9))
    torn = good[:-3]  # not whole records
    pump, sent = tick([b"garbage", torn, msg.encode(msg.EVENTS, (0, 0, b"")), good])
    assert pump.broker.bad_messages == 3
    assert pump.consumed == 4
    [(kind, (_index, consumed, records))] = sent
    assert kind == msg.EVENTS and consumed == 4
    assert wire.unpack(records, wire.EVENT_WIDTH) == [(ACK, 1, 0, 0, 0, 0, 0)]


def test_pump_sends_final_report_after_stop_and_reads_nothing_after_it():
    good = msg.encode(msg.ORDERS, wire.pack([order(1, TSLA, 1, 100, 10)], 9))
    late = msg.encode(msg.ORDERS, wire.pack([order(2, TSLA, 1, 100, 10)], 9))
    pump, sent = tick([good, msg.STOP, late])
    assert pump.done
    assert [kind for kind, _ in sent] == [msg.EVENTS, msg.FINAL]
    final = sent[1][1]
    listed = resting.tuples(final.resting, final.resting_books, {TSLA: "TSLA"})
    assert listed == {"TSLA": [(1, 7, 1, 100, 10)]}
    assert pump.consumed == 2


def test_heartbeats_carry_a_bounded_share_of_the_tops_and_every_book_comes_round():
    from simulator.broker import TOPS_PER_HEARTBEAT

    n = TOPS_PER_HEARTBEAT * 2 + 10
    names = tuple(f"S{i}" for i in range(n))
    broker = Broker(msg.BrokerSpec(index=0, name="broker-1", symbols=names, symbol_ids=tuple(range(n))))
    out: list = []
    bids = (order(i + 1, i, int(Side.BUY), 100 + i, 5) for i in range(n))  # one bid each
    broker.handle_orders(flat(*bids), out)
    broker.handle_orders(flat(order(n + 1, 0, int(Side.SELL), 900, 5)), out)  # and an ask on S0
    seen: dict = {}
    for _ in range(3):
        tops = broker.heartbeat(0).tops
        assert 0 < len(tops) <= TOPS_PER_HEARTBEAT  # a heartbeat's cost does not grow with the books
        seen.update({symbol: (bid, ask) for symbol, bid, ask in tops})
    assert seen == {f"S{i}": (100 + i, 900 if i == 0 else 0) for i in range(n)}
