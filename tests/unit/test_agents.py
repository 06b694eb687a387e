"""The agents beside a book (simulator.agents): quotes, skew, refresh, the draw, ids, and the
rule that keeps them a function of the book's orders: a desk restored from what the bank knows
(the book's state and the agents' positions) goes on exactly as the original."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import agent_flags
from simulator import agent_records as records_of
from simulator import agents as ag
from simulator.agents import AGENT_BASE, AGENT_ORDER, AgentParams, Desk
from simulator.broker import Broker
from simulator.config import config_from_args
from simulator.flow import OrderFlow
from simulator.ledger import Ledger
from simulator.messages import BrokerSpec
from simulator.order_types import held_stops, next_stamp
from simulator.orders import STAMP_SHIFT
from simulator.stats import LatencyHistogram
from simulator.stp_book import new_book
from simulator.tape import TapeRecorder

BUY, SELL = 1, -1
P = AgentParams(makers=3, momentum=2, mean_reversion=2, first_account=10, seed=7, move=1)


def feed(book, desk, oid, op) -> list:
    """One inbox order (or cancel) and the desk's reaction: the flat events."""
    out: list = []
    if op[0] == "cancel":
        book.cancel_into(out, oid, op[1])
    else:
        _, account, side, otype, tif, price, qty = op
        book.submit_into(out, oid, account, side, otype, tif, price, qty, 0)
    desk.react(oid, out, 0, book.submit_into, book.cancel_into)
    return out


def records(out: list) -> list[tuple]:
    return [tuple(out[i : i + 7]) for i in range(0, len(out), 7)]


def test_a_maker_quotes_around_the_reference_and_skews_against_its_inventory():
    p = AgentParams(makers=1, spread=4, quote_size=100, skew=1, max_inventory=1000)
    assert ag.maker_quotes(p, 0, 1000, 0) == (998, 1002)
    assert ag.maker_quotes(p, 0, 1000, 300) == (995, 999)  # long: lower, to sell
    assert ag.maker_quotes(p, 0, 1000, -300) == (1001, 1005)  # short: higher, to buy
    assert ag.maker_quotes(p, 1, 1000, 0) == (997, 1003)  # maker 1 quotes 2 ticks wider
    assert ag.maker_quotes(p, 0, 1000, 950) == (None, 992)  # a bid would pass the limit
    assert ag.maker_quotes(p, 0, 1000, -950)[1] is None


def test_a_quote_is_replaced_when_missing_filled_into_or_more_than_refresh_ticks_off():
    p = AgentParams(makers=1, quote_size=100, refresh=2)
    assert ag.needs_new(None, 1000, p)
    assert not ag.needs_new([1, 1000, 100], 1001, p)
    assert not ag.needs_new([1, 1000, 100], 998, p)  # refresh ticks off: it stays
    assert ag.needs_new([1, 1000, 100], 1003, p)
    assert not ag.needs_new([1, 1000, 60], 1000, p)  # partly filled: it stays until filled up
    assert ag.needs_new([1, 1000, 100], None, p)  # no quote wanted there any more
    assert not ag.needs_new(None, None, p)


def test_the_draw_is_a_function_of_its_key_and_spreads_over_0_to_99():
    assert ag.draw(7, 3, 1, 12345) == ag.draw(7, 3, 1, 12345)
    values = [ag.draw(7, 3, 1, t) for t in range(2000)]
    assert min(values) == 0 and max(values) == 99
    assert 900 < sum(v < 50 for v in values) < 1100
    assert values != [ag.draw(8, 3, 1, t) for t in range(2000)]


def test_agent_ids_never_collide_stay_in_int64_and_stamp_as_their_trigger():
    yours = (1 << 40) + 10**9
    ids = {ag.agent_oid(t, s) for t in (1, 2, 10**12, yours) for s in range(ag.SLOTS)}
    assert len(ids) == 4 * ag.SLOTS and min(ids) > AGENT_BASE
    top = ag.agent_oid(1 << 41, ag.SLOTS - 1)
    assert top < 1 << 50 and ((1 << 41) << STAMP_SHIFT) < 1 << 63  # stamps take the trigger's id
    assert ag.trigger_of(ag.agent_oid(yours, 77)) == yours and ag.slot_of(ag.agent_oid(yours, 77)) == 77
    book = new_book("ACME")
    assert next_stamp(book, ag.agent_oid(yours, 5)) >> STAMP_SHIFT == yours
    assert next_stamp(book, ag.agent_oid(yours, 6)) == (yours << STAMP_SHIFT) + 2  # one count per trigger
    assert records_of.unpack_kind(records_of.pack_kind(99_999, SELL, 2, 1)) == (99_999, SELL, 2, 1)


def test_makers_quote_after_a_trade_never_cross_and_learn_their_fills():
    book = new_book("ACME", 0)
    desk = Desk(AgentParams(makers=2, first_account=10, spread=4), book)
    assert feed(book, desk, 1, ("order", 1, SELL, 0, 0, 1000, 100)) == [1, 1, 0, 0, 0, 0, 0]  # no trade yet
    out = feed(book, desk, 2, ("order", 2, BUY, 1, 1, 0, 50))  # a trade at 1000: the makers quote
    made = [r for r in records(out) if r[0] == AGENT_ORDER]
    assert [(r[2], r[4]) for r in made] == [(10, 998), (10, 1002), (11, 997), (11, 1003)]
    assert book.best_bid()[0] == 998 and book.best_ask()[0] == 1000  # the flow's rest is still best
    out = feed(book, desk, 3, ("order", 3, SELL, 1, 1, 0, 150))  # sells into the makers' bids
    assert desk.inventory[:2] == [100, 50]
    assert all(r[0] != AGENT_ORDER or r[1] > AGENT_BASE for r in records(out))


def test_an_agents_record_stands_for_its_ack_and_a_cancels_for_its_answer_and_leaves():
    book = new_book("ACME", 0)
    desk = Desk(AgentParams(makers=1, first_account=10, spread=4, refresh=0), book)
    feed(book, desk, 1, ("order", 1, SELL, 0, 0, 1000, 100))
    out = feed(book, desk, 2, ("order", 2, BUY, 1, 1, 0, 50))  # a trade at 1000: the maker quotes
    bid, ask = (r for r in records(out) if r[0] == AGENT_ORDER)
    assert [r[0] for r in records(out)] == [1, 3, AGENT_ORDER, AGENT_ORDER]  # no ACK of their own
    assert records(records_of.expanded(out))[2:] == [
        bid,
        (1, bid[1], 0, 0, 0, 0, 0),
        ask,
        (1, ask[1], 0, 0, 0, 0, 0),
    ]
    out = feed(book, desk, 3, ("order", 3, BUY, 0, 0, 1001, 20))  # the mid moves: both re-quoted
    cancels = [r for r in records(out) if r[0] == AGENT_ORDER and records_of.unpack_kind(r[3])[2] == 2]
    assert [(r[6], r[4]) for r in cancels] == [(bid[1], 100), (ask[1], 100)]  # target, leaves
    assert not [r for r in records(out) if r[0] in (1, 4, 5) and r[1] > AGENT_BASE]  # no answer apart
    again = records(records_of.expanded(out))
    k = again.index((*cancels[0][:4], 0, *cancels[0][5:]))  # a cancel's price 0 again, then:
    assert again[k + 1 : k + 3] == [(4, bid[1], 100, 0, 0, 0, 0), (5, cancels[0][1], bid[1], 0, 0, 0, 0)]


def test_the_kill_switch_halts_an_agent_and_cancels_its_quotes_until_released():
    book = new_book("ACME", 0)
    desk = Desk(AgentParams(makers=1, first_account=10), book)
    feed(book, desk, 1, ("order", 1, SELL, 0, 0, 1000, 100))
    feed(book, desk, 2, ("order", 2, BUY, 1, 1, 0, 50))
    assert {r[1] for r in book.resting()} == {1, 10}
    out: list = []
    assert desk.halt(10, out) == 2 and {r[1] for r in book.resting()} == {1}
    feed(book, desk, 3, ("order", 3, BUY, 1, 1, 0, 10))  # a trade: a halted maker stays away
    assert {r[1] for r in book.resting()} == {1}
    desk.release(-1)
    feed(book, desk, 4, ("order", 4, BUY, 1, 1, 0, 10))
    assert 10 in {r[1] for r in book.resting()}


flow_op = st.tuples(
    st.just("order"),
    st.integers(1, 3),
    st.sampled_from([BUY, SELL]),
    st.sampled_from([0, 0, 1]),  # LIMIT, LIMIT, MARKET
    st.sampled_from([0, 0, 1]),  # DAY, DAY, IOC
    st.integers(990, 1010),
    st.integers(1, 300),
)
ops = st.lists(
    st.one_of(flow_op, flow_op, flow_op, st.tuples(st.just("cancel"), st.integers(1, 80))), max_size=80
)


def run(ops_list, book, desk, first=1, seen=None):
    seen = {} if seen is None else seen  # every order: [account, qty, filled, ended]
    outs = []
    for oid, op in enumerate(ops_list, start=first):
        if op[0] == "order":
            seen[oid] = [op[1], op[6], 0, 0]
        out = feed(book, desk, oid, op)
        outs.append(out)
        for r in records(records_of.expanded(out)):  # the answers the agents' records stand for too
            if r[0] == AGENT_ORDER and records_of.unpack_kind(r[3])[2] != 2:
                seen[r[1]] = [r[2], r[5], 0, 0]
            elif r[0] == 3:
                for o in (r[3], r[4]):
                    seen[o][2] += r[6]
            elif r[0] == 4:
                seen[r[1]][3] += r[2]
            elif r[0] == 6:  # a maker's amend moved its quote and topped it up
                seen[r[2]][1] += r[5]
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid[0] < ask[0]  # never crossed
    return outs, seen


@settings(max_examples=150, deadline=None)
@given(ops)
def test_with_agents_a_book_is_never_crossed_never_overfilled_and_conserves_quantity(script):
    book = new_book("ACME", 0)
    _outs, seen = run(script, book, Desk(P, book))
    left = {r[0]: r[4] for r in book.resting()}
    for oid, (_account, qty, filled, ended) in seen.items():
        assert filled <= qty and qty == filled + ended + left.get(oid, 0), oid


@settings(max_examples=150, deadline=None)
@given(ops, ops)
def test_a_desk_restored_from_the_book_and_the_positions_goes_on_as_the_original(before, after):
    original = new_book("ACME", 0)
    desk = Desk(P, original)
    _outs, seen = run(before, original, desk)
    positions: dict[int, int] = {}  # what the bank books: each agent account's position
    for r in (r for out in _outs for r in records(out)):
        if r[0] == 3:
            for o, sign in ((r[3], 1), (r[4], -1)):
                positions[seen[o][0]] = positions.get(seen[o][0], 0) + sign * r[6]
    # the desk booked every agent's fill from the events, as the bank does
    assert desk.inventory == [positions.get(P.first_account + a, 0) for a in range(P.count)]
    restored = new_book("ACME", 0)
    top = max((i for i, op in enumerate(before, 1) if op[0] == "order"), default=0)
    resting, held = original.state()
    restored.restore(
        resting, held=held, match_seq=original.match_seq, last_price=original.last_price, max_oid=top
    )
    again = Desk(P, restored)
    again.restore(sorted(positions.items()), top)
    first = len(before) + 1
    assert (
        run(after, original, desk, first, copy.deepcopy(seen))[0]
        == run(after, restored, again, first, seen)[0]
    )


def test_a_broker_cancel_all_halts_agents_whatever_their_ids_and_upto_minus_1_releases_them():
    from simulator import messages as msg
    from simulator.broker import Broker

    params = AgentParams(makers=1, first_account=10)
    broker = Broker(msg.BrokerSpec(0, "b", ("ACME",), (0,), agents=params))
    out: list = []
    broker.handle_orders([1, 1, 0, SELL, 0, 0, 1000, 100, 0, 2, 2, 0, BUY, 1, 1, 0, 50, 0], out)
    book = broker.books["ACME"]
    assert {r[1] for r in book.resting()} == {1, 10}  # the maker quotes after the trade
    out = []
    broker.cancel_all(10, 2, out)  # its ids are far above 2: cancelled all the same
    assert {r[1] for r in book.resting()} == {1} and [r[0] for r in records(out)] == [4, 4]
    broker.handle_orders([3, 3, 0, BUY, 1, 1, 0, 10, 0], out := [])
    assert {r[1] for r in book.resting()} == {1}  # halted: no new quotes
    assert broker.cancel_all(10, -1, []) == 0  # the release cancels nothing
    broker.handle_orders([4, 3, 0, BUY, 1, 1, 0, 10, 0], out := [])
    assert 10 in {r[1] for r in book.resting()}


@settings(max_examples=400, deadline=None)
@given(
    st.integers(0, 5),
    st.integers(-1500, 1500),
    st.one_of(st.none(), st.integers(1, 40)),
    st.one_of(st.none(), st.integers(-3, 3)),
    st.integers(-3, 3),
    st.integers(1, 4),
)
def test_a_maker_is_skipped_only_where_it_would_replace_no_quote(i, inventory, bid, off, ref_off, refresh):
    p = AgentParams(makers=6, spread=4, quote_size=100, skew=1, max_inventory=1000, refresh=refresh)
    ask = None if off is None else (bid or 20) + p.spread + 2 * (i % 3) + off
    quotes = [None if bid is None else [1, bid, 100], None if ask is None else [2, ask, 100]]
    lo, hi = ag.steady(p, i, quotes, inventory)
    for ref in range(lo + 1, hi) if hi - lo < 100 else ():
        wants = ag.maker_quotes(p, i, ref, inventory)
        assert not ag.needs_new(quotes[0], wants[0], p) and not ag.needs_new(quotes[1], wants[1], p)


def test_a_maker_whose_quotes_are_where_they_should_be_is_steady_around_that_reference():
    p = AgentParams(makers=1, spread=4, quote_size=100, refresh=3)
    assert ag.steady(p, 0, [[1, 998, 100], [2, 1002, 100]], 0) == (996, 1004)
    assert ag.steady(p, 0, [[1, 998, 100], None], 0) == ag.NOT_STEADY  # an ask to place
    assert ag.steady(p, 0, [[1, 988, 100], [2, 992, 100]], 950) == ag.NOT_STEADY  # a bid to cancel


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 5),
    st.integers(-1150, 1150),
    st.integers(2, 60),
    st.integers(1, 4),
    st.lists(st.tuples(st.sampled_from([BUY, SELL]), st.integers(1, 80)), max_size=4),
)
def test_a_desks_inlined_quote_places_what_maker_quotes_says_and_is_then_as_steady_says(
    i, inventory, ref, refresh, flow
):
    p = AgentParams(makers=6, spread=4, quote_size=100, skew=1, max_inventory=1000, refresh=refresh)
    book, twin = new_book("ACME", 0), new_book("ACME", 0)  # twin: the book's generic entry points
    for oid, (side, price) in enumerate(flow, start=1):  # the other side's best a quote stays behind
        book.submit_into([], oid, 1, side, 0, 0, price, 10, 0)
        twin.submit_into([], oid, 1, side, 0, 0, price, 10, 0)
    desk, twin_desk = Desk(p, book), Desk(p, twin)
    desk.inventory[i] = twin_desk.inventory[i] = inventory
    out: list = []
    got = desk._quote(i, ref, 99, out, None, None)  # in place: OrderBook.rest, unlink
    assert got == ag.steady(p, i, desk.quotes[i], inventory)
    assert twin_desk._quote(i, ref, 99, twin_out := [], twin.submit_into, twin.cancel_into) == got
    assert twin_out == out and twin.state() == book.state() and twin_desk.quotes == desk.quotes
    bid_keys, ask_keys = book._bid_keys, book._ask_keys
    for s, want in enumerate(ag.maker_quotes(p, i, ref, inventory)):
        quote = desk.quotes[i][s]
        if want is not None and s == 0 and ask_keys:  # behind the other side's best (tops())
            want = min(want, -ask_keys[-1] - 1)
        elif want is not None and s == 1 and bid_keys:  # (the bid it just placed among them)
            want = max(want, bid_keys[-1] + 1)
        want = want if want is not None and want > 0 else None
        assert (quote and quote[1]) == want
    assert all(r[0] == AGENT_ORDER for r in records(out))  # each stands for its ack
    moved = desk._quote(i, ref + 7, 100, again := [], None, None)  # a re-quote: its cancels too
    assert twin_desk._quote(i, ref + 7, 100, twin_again := [], twin.submit_into, twin.cancel_into) == moved
    assert twin_again == again and twin.state() == book.state() and twin_desk.quotes == desk.quotes


def test_the_tape_still_shows_an_agents_ack_and_its_cancels_answers_that_the_bank_is_not_sent():
    book = new_book("ACME", 0)
    recorder = TapeRecorder(rate=1000.0, burst=1000.0)
    submit, cancel = recorder.wrap(book)
    desk = Desk(AgentParams(makers=1, first_account=10, spread=4, refresh=0), book)
    for oid, side, otype, tif, price, qty in (
        (1, SELL, 0, 0, 1000, 100),
        (2, BUY, 1, 1, 0, 50),
        (3, BUY, 0, 0, 1001, 20),
    ):
        out: list = []
        submit(out, oid, 1, side, otype, tif, price, qty, 0)
        desk.react(oid, out, 0, submit, cancel)
        assert not [r for r in records(out) if r[0] in (1, 4, 5) and r[1] > AGENT_BASE]
    taped = {order[0]: [e[0] for e in records(list(events))] for _t, order, events in recorder.take()[1]}
    quotes = [oid for oid in taped if oid > AGENT_BASE and ag.slot_of(oid) % 4 >= 2]
    cancels = [oid for oid in taped if oid > AGENT_BASE and ag.slot_of(oid) % 4 < 2]
    assert quotes and cancels
    assert all(taped[oid] == [1] for oid in quotes)  # its ack
    assert all(taped[oid] == [4, 5] for oid in cancels)  # its target's end, its answer


@pytest.mark.parametrize("batch", [1, 256])  # booked event by event, and whole-array
def test_a_ledger_books_the_agents_short_records_and_reconciles_with_the_books(batch):
    config = config_from_args(["--headless", "--market-makers", "4", "--momentum", "1", "--seed", "3"])
    params = agent_flags.params(config, config.accounts + 1)
    symbols = tuple(config.symbols)
    broker = Broker(BrokerSpec(0, "b", symbols, tuple(range(len(symbols))), agents=params))
    ledger = Ledger(symbols, config.accounts + 1 + params.count, params)
    flow, acks = OrderFlow.from_config(config), LatencyHistogram()
    for _ in range(6000 // batch):
        rows = flow.generate(batch)
        out: list = []
        broker.handle_orders(rows.ravel().tolist(), out)
        ledger.place(rows, 1000)
        ledger.apply(np.array(out, np.int64), 2000, acks)
    made = sum(d.orders for d in broker.desks.values())
    counts = ledger.types.agent_counts
    assert made > 100 and int(counts[:, :2].sum()) == made and ledger.unknown_events == 0
    assert ledger.cancels_done == ledger.cancels_sent - ledger.cancels_rejected  # every cancel answered
    resting = {r[0]: r[4] for b in broker.books.values() for r in b.resting()}
    resting.update((s[0], s[6]) for b in broker.books.values() for s in held_stops(b))  # off the book
    closed = ledger.reconcile(resting)
    assert closed.ok and closed.lost == 0 and closed.resting == len(resting), closed


def _booked(ledger: Ledger) -> tuple:
    """What a ledger's books say: counts, agents' counts, fills, positions, cash, open orders."""
    counts = (ledger.placed, ledger.acked, ledger.filled, ledger.cancelled, ledger.rejected)
    cancels = (ledger.cancels_sent, ledger.cancels_done, ledger.cancels_rejected, ledger.unknown_events)
    return (
        counts,
        cancels,
        ledger.types.agent_counts.tolist(),
        ledger.fills_digest(),
        ledger.positions,
        ledger.cash,
        ledger.window.open_orders(),
        ledger.reject_reasons,
    )


def test_agents_records_booked_whole_array_end_as_booked_a_few_events_at_a_time():
    config = config_from_args(
        ["--headless", "--market-makers", "6", "--momentum", "2", "--mean-reversion", "2"]
    )
    params = agent_flags.params(config, config.accounts + 1)
    symbols = tuple(config.symbols)
    broker = Broker(BrokerSpec(0, "b", symbols, tuple(range(len(symbols))), agents=params))
    whole, few = (Ledger(symbols, config.accounts + 1 + params.count, params) for _ in range(2))
    flow, acks = OrderFlow.from_config(config), LatencyHistogram()
    for _ in range(30):
        rows = flow.generate(256)
        out: list = []
        broker.handle_orders(rows.ravel().tolist(), out)
        events = np.array(out, np.int64).reshape(-1, 7)
        assert (events[:, 0] == AGENT_ORDER).any()
        whole.place(rows, 1000)
        whole.apply(events, 2000, acks)  # whole-array
        few.place(rows, 1000)
        for start in range(0, len(events), 5):  # event by event (too few for whole-array)
            few.apply(events[start : start + 5], 2000, acks)
    assert whole.unknown_events == 0 and whole.types.agents_placed > 1000
    assert _booked(whole) == _booked(few)


def test_an_agent_order_of_an_account_no_agent_has_is_booked_and_counted_for_no_kind():
    params = AgentParams(makers=2, momentum=1, first_account=10)
    ledger = Ledger(("ACME",), 20, params)
    oid = AGENT_BASE + (7 << 8)
    quote = records_of.pack_kind(0, 0, 0, 0)  # a DAY LIMIT buy
    cancel = records_of.pack_kind(0, 0, 2, 0)
    events = [
        (AGENT_ORDER, oid, 10, quote, 100, 10, 0),  # a maker's
        (AGENT_ORDER, oid + 1, 12, quote, 100, 10, 0),  # the momentum taker's
        (AGENT_ORDER, oid + 2, 13, quote, 100, 10, 0),  # past the agents' accounts
        (AGENT_ORDER, oid + 3, 9, quote, 100, 10, 0),  # below them
        (AGENT_ORDER, oid + 4, 15, cancel, 0, 0, oid + 2),  # a cancel, past them too
    ]
    ledger.apply(np.array(events, np.int64), 0, LatencyHistogram())
    assert ledger.unknown_events == 0 and ledger.placed == 4 and ledger.cancels_sent == 1
    assert ledger.types.agent_counts[:, :2].tolist() == [[1, 0], [1, 0], [0, 0]]
