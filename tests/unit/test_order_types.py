"""The order types beyond LIMIT/MARKET DAY/IOC, amends and self-trade prevention, against a naive
reference matcher written from the README's rules (and hypothesis properties over both)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.book import OrderBook
from simulator.orders import STAMP_SHIFT, Event, OrderType, RejectReason, TimeInForce
from simulator.stp_book import new_book

SYM = "ACME"
BUY, SELL = 1, -1
LIMIT, MARKET, STOP, STOP_LIMIT, ICEBERG = 0, 1, 3, 4, 5
DAY, IOC, GTC, FOK, GTX = 0, 1, 2, 3, 4
NEWEST, OLDEST, BOTH = 1, 2, 3
R = RejectReason


class Reference:
    """Naive matcher: a flat list of resting entries, the best found by scanning; held stops in
    a list; every rule written out plainly."""

    def __init__(self, stp=0):
        self.stp = stp
        self.resting = []  # dicts: oid account side price visible hidden display prio
        self.held = []  # order tuples (oid, account, side, otype, tif, price, qty, trigger)
        self.prio = 0  # time priority: rises each time an entry goes to the back of a level
        self.seq = 0
        self.last = None
        self.max_oid = 0
        self.k = {}  # message -> stamps given while handling it

    def stamp(self, m):
        self.k[m] = self.k.get(m, 0) + 1
        return (m << STAMP_SHIFT) + self.k[m]

    def _back(self):
        self.prio += 1
        return self.prio

    # -- orders
    def submit(self, oid, account, side, otype, tif, price, qty, target=0):
        self.max_oid = max(self.max_oid, oid)
        reason = self.check(side, otype, tif, price, qty, target)
        if reason is None and tif == FOK:
            trial = copy.deepcopy(self)
            left, stopped = trial.match([], oid, account, side, otype, price, qty, oid)
            if left or stopped:
                reason = R.FOK_NOT_FILLABLE
        if reason is None and tif == GTX and self.crosses(side, price):
            reason = R.WOULD_CROSS
        if reason is not None:
            return [(Event.REJECT, oid, reason)]
        ev = [(Event.ACK, oid)]
        trades = []
        if otype in (STOP, STOP_LIMIT):
            order = (oid, account, side, otype, tif, price, qty, target)
            if self.last is not None and (self.last >= target if side == BUY else self.last <= target):
                self.enter_stop(ev, trades, order, oid)
            else:
                self.held.append(order)
        else:
            self.enter(
                ev, trades, oid, account, side, otype, tif, price, qty, target, oid << STAMP_SHIFT, oid
            )
        self.triggers(ev, trades, oid)
        return ev

    def check(self, side, otype, tif, price, qty, target):
        if side not in (1, -1) or otype not in (0, 1, 3, 4, 5) or tif not in (0, 1, 2, 3, 4):
            return R.MALFORMED
        if otype in (STOP, STOP_LIMIT) and tif not in (DAY, GTC, IOC) or otype == MARKET and tif == GTX:
            return R.MALFORMED
        if qty <= 0:
            return R.QTY_NOT_POSITIVE
        if otype in (LIMIT, STOP_LIMIT, ICEBERG) and price <= 0:
            return R.PRICE_NOT_POSITIVE
        if otype in (STOP, STOP_LIMIT) and target <= 0:
            return R.BAD_TRIGGER
        if otype == ICEBERG and not (1 <= target <= qty and tif not in (IOC, FOK)):
            return R.BAD_DISPLAY
        return None

    @staticmethod
    def meets(r, side, price):
        return r["price"] <= price if side == BUY else r["price"] >= price

    def crosses(self, side, price):
        return any(
            r["side"] == -side and (r["price"] <= price if side == BUY else r["price"] >= price)
            for r in self.resting
        )

    def enter(self, ev, trades, oid, account, side, otype, tif, price, qty, display, stamp, m):
        left, stopped = self.match(ev, oid, account, side, otype, price, qty, m, trades)
        if stopped:
            ev.append((Event.CANCELLED, oid, left, R.SELF_TRADE))
        elif left and (otype == MARKET or tif in (IOC, FOK)):
            ev.append((Event.CANCELLED, oid, left))
        elif left:
            shown = min(display, left) if otype == ICEBERG else left
            if otype == ICEBERG:
                ev.append((Event.SHOWN, oid, left, shown, stamp, price))
            self.resting.append(
                dict(oid=oid, account=account, side=side, price=price, visible=shown, hidden=left - shown,
                     display=display, prio=self._back())
            )  # fmt: skip

    def match(self, ev, oid, account, side, otype, price, qty, m, trades=None):
        left = qty
        while left:
            book = [
                r
                for r in self.resting
                if r["side"] == -side and (otype == MARKET or self.meets(r, side, price))
            ]
            if not book:
                break
            best = min(book, key=lambda r: (r["price"] * side, r["prio"]))
            if self.stp and best["account"] == account:
                if self.stp in (OLDEST, BOTH):
                    self.resting.remove(best)
                    ev.append((Event.CANCELLED, best["oid"], best["visible"] + best["hidden"], R.SELF_TRADE))
                if self.stp in (NEWEST, BOTH):
                    return left, True
                continue
            fill = min(left, best["visible"])
            self.seq += 1
            buy, sell = (oid, best["oid"]) if side == BUY else (best["oid"], oid)
            ev.append((Event.TRADE, SYM, self.seq, buy, sell, best["price"], fill))
            if trades is not None:
                trades.append((self.seq, best["price"]))
            self.last = best["price"]
            left -= fill
            best["visible"] -= fill
            if best["visible"] == 0:
                if best["hidden"]:
                    best["visible"] = min(best["display"], best["hidden"])
                    best["hidden"] -= best["visible"]
                    best["prio"] = self._back()
                    total = best["visible"] + best["hidden"]
                    ev.append(
                        (Event.SHOWN, best["oid"], total, best["visible"], self.stamp(m), best["price"])
                    )
                else:
                    self.resting.remove(best)
        return left, False

    def triggers(self, ev, trades, m):
        checked = 0
        queue = []
        while True:
            new = trades[checked:]
            checked = len(trades)
            fired = []
            for s in self.held:
                hits = [q for q, p in new if (p >= s[7] if s[2] == BUY else p <= s[7])]
                if hits:
                    fired.append((hits[0], s[0], s))
            for _q, _o, s in sorted(fired):
                self.held.remove(s)
                queue.append(s)
            if not queue:
                return
            self.enter_stop(ev, trades, queue.pop(0), m)

    def enter_stop(self, ev, trades, s, m):
        oid, account, side, otype, tif, price, qty, _trigger = s
        stamp = self.stamp(m)
        ev.append((Event.TRIGGERED, oid, stamp))
        if otype == STOP:
            self.enter(ev, trades, oid, account, side, MARKET, IOC, 0, qty, 0, stamp, m)
        else:
            self.enter(ev, trades, oid, account, side, LIMIT, tif, price, qty, 0, stamp, m)

    # -- requests
    def cancel(self, cancel_oid, target, price=0, qty=0):
        if qty:
            return self.amend(cancel_oid, target, price, qty)
        for r in self.resting:
            if r["oid"] == target:
                self.resting.remove(r)
                return [
                    (Event.CANCELLED, target, r["visible"] + r["hidden"]),
                    (Event.CANCEL_DONE, cancel_oid, target),
                ]
        for s in self.held:
            if s[0] == target:
                self.held.remove(s)
                return [(Event.CANCELLED, target, s[6]), (Event.CANCEL_DONE, cancel_oid, target)]
        reason = R.UNKNOWN_ORDER if target > self.max_oid else R.ORDER_NOT_RESTING
        return [(Event.REJECT, cancel_oid, reason)]

    def amend(self, amend_oid, target, price, qty):
        r = next((r for r in self.resting if r["oid"] == target), None)
        if r is None:
            if any(s[0] == target for s in self.held):
                return [(Event.REJECT, amend_oid, R.NOT_AMENDABLE)]
            return [
                (Event.REJECT, amend_oid, R.UNKNOWN_ORDER if target > self.max_oid else R.ORDER_NOT_RESTING)
            ]
        if r["display"]:
            return [(Event.REJECT, amend_oid, R.NOT_AMENDABLE)]
        if qty <= 0:
            return [(Event.REJECT, amend_oid, R.QTY_NOT_POSITIVE)]
        if price <= 0:
            return [(Event.REJECT, amend_oid, R.PRICE_NOT_POSITIVE)]
        if price != r["price"] and self.crosses(r["side"], price):
            return [(Event.REJECT, amend_oid, R.WOULD_CROSS)]
        old = r["visible"]
        stamp = 0
        if price != r["price"] or qty > old:
            stamp = self.stamp(amend_oid)
            r["prio"] = self._back()
        r["visible"], r["price"] = qty, price
        return [(Event.AMENDED, amend_oid, target, qty, price, qty - old, stamp)]

    # -- views
    def priority_list(self):
        bids = sorted((r for r in self.resting if r["side"] == BUY), key=lambda r: (-r["price"], r["prio"]))
        asks = sorted((r for r in self.resting if r["side"] == SELL), key=lambda r: (r["price"], r["prio"]))
        return [
            (r["oid"], r["account"], r["side"], r["price"], r["visible"] + r["hidden"]) for r in bids + asks
        ]

    def held_list(self):
        return sorted(self.held)


# ------------------------------------------------------------------ examples


@pytest.fixture
def book():
    return OrderBook(SYM)


def test_fok_fills_whole_or_is_rejected_untouched(book):
    book.submit(1, 1, SELL, LIMIT, DAY, 100, 10)
    book.submit(2, 1, SELL, LIMIT, DAY, 101, 10)
    assert book.submit(3, 2, BUY, LIMIT, FOK, 101, 25) == [(Event.REJECT, 3, R.FOK_NOT_FILLABLE)]
    assert book.resting() == [(1, 1, SELL, 100, 10), (2, 1, SELL, 101, 10)]
    events = book.submit(4, 2, BUY, LIMIT, FOK, 101, 15)
    assert [e[0] for e in events] == [Event.ACK, Event.TRADE, Event.TRADE]
    assert book.resting() == [(2, 1, SELL, 101, 5)]


def test_gtc_rests_like_day_and_post_only_never_takes(book):
    book.submit(1, 1, SELL, LIMIT, GTC, 100, 10)
    assert book.resting() == [(1, 1, SELL, 100, 10)]
    assert book.submit(2, 2, BUY, LIMIT, GTX, 100, 5) == [(Event.REJECT, 2, R.WOULD_CROSS)]
    assert book.submit(3, 2, BUY, LIMIT, GTX, 99, 5) == [(Event.ACK, 3)]
    assert book.best_bid() == (99, 5)


def test_stop_is_held_until_a_trade_touches_it_then_enters_as_market(book):
    book.submit(1, 1, SELL, LIMIT, DAY, 101, 10)
    assert book.submit(2, 2, BUY, STOP, DAY, 0, 5, 101) == [(Event.ACK, 2)]
    assert book.resting() == [(1, 1, SELL, 101, 10)] and book.depth()[0] == []
    book.submit(3, 3, SELL, LIMIT, DAY, 102, 10)
    events = book.submit(4, 4, BUY, LIMIT, DAY, 101, 2)  # prints 101: touches the trigger
    assert events == [
        (Event.ACK, 4),
        (Event.TRADE, SYM, 1, 4, 1, 101, 2),
        (Event.TRIGGERED, 2, (4 << STAMP_SHIFT) + 1),
        (Event.TRADE, SYM, 2, 2, 1, 101, 5),
    ]


def test_stops_touched_by_one_order_enter_by_trigger_time_then_arrival(book):
    for oid, price in ((1, 100), (2, 101), (3, 102)):
        book.submit(oid, 1, SELL, LIMIT, DAY, price, 1)
    book.submit(4, 2, SELL, LIMIT, DAY, 110, 100)
    book.submit(5, 3, BUY, STOP_LIMIT, DAY, 110, 1, 102)  # touched by the third trade
    book.submit(6, 3, BUY, STOP_LIMIT, DAY, 110, 1, 101)  # by the second
    book.submit(7, 3, BUY, STOP_LIMIT, DAY, 110, 1, 101)  # by the second, arrived later
    events = book.submit(8, 4, BUY, LIMIT, IOC, 102, 3)
    assert [e[1] for e in events if e[0] == Event.TRIGGERED] == [6, 7, 5]


def test_a_held_stop_can_be_cancelled_and_is_listed_until_then(book):
    book.submit(1, 1, SELL, STOP_LIMIT, DAY, 95, 10, 96)
    assert book.state() == ([], [(1, 1, SELL, STOP_LIMIT, DAY, 95, 10, 96)])
    assert book.cancel(2, 1) == [(Event.CANCELLED, 1, 10), (Event.CANCEL_DONE, 2, 1)]
    assert book.state() == ([], [])


def test_iceberg_shows_its_display_and_refills_at_the_back_of_its_level(book):
    assert book.submit(1, 1, SELL, ICEBERG, DAY, 100, 25, 10) == [
        (Event.ACK, 1),
        (Event.SHOWN, 1, 25, 10, 1 << STAMP_SHIFT, 100),
    ]
    book.submit(2, 2, SELL, LIMIT, DAY, 100, 4)
    assert book.depth() == ([], [(100, 14, 2)])
    events = book.submit(3, 3, BUY, LIMIT, IOC, 100, 12)
    assert events == [
        (Event.ACK, 3),
        (Event.TRADE, SYM, 1, 3, 1, 100, 10),
        (Event.SHOWN, 1, 15, 10, (3 << STAMP_SHIFT) + 1, 100),
        (Event.TRADE, SYM, 2, 3, 2, 100, 2),  # order 2 is ahead of the refill now
    ]
    assert book.resting() == [(2, 2, SELL, 100, 2), (1, 1, SELL, 100, 15)]
    assert book.cancel(4, 1) == [(Event.CANCELLED, 1, 15), (Event.CANCEL_DONE, 4, 1)]


def test_amend_down_keeps_priority_up_or_new_price_loses_it(book):
    book.submit(1, 1, SELL, LIMIT, DAY, 100, 10)
    book.submit(2, 2, SELL, LIMIT, DAY, 100, 10)
    assert book.cancel(3, 1, 100, 4) == [(Event.AMENDED, 3, 1, 4, 100, -6, 0)]
    assert book.resting()[0] == (1, 1, SELL, 100, 4)
    assert book.cancel(4, 1, 100, 8) == [(Event.AMENDED, 4, 1, 8, 100, 4, (4 << STAMP_SHIFT) + 1)]
    assert book.resting() == [(2, 2, SELL, 100, 10), (1, 1, SELL, 100, 8)]
    assert book.cancel(5, 99, 100, 8) == [(Event.REJECT, 5, R.UNKNOWN_ORDER)]
    book.submit(6, 3, BUY, LIMIT, DAY, 98, 1)
    assert book.cancel(7, 2, 98, 10) == [(Event.REJECT, 7, R.WOULD_CROSS)]


@pytest.mark.parametrize(
    "mode, events",
    [
        (
            NEWEST,
            [(Event.ACK, 3), (Event.TRADE, SYM, 1, 3, 1, 100, 5), (Event.CANCELLED, 3, 10, R.SELF_TRADE)],
        ),
        (
            OLDEST,
            [(Event.ACK, 3), (Event.TRADE, SYM, 1, 3, 1, 100, 5), (Event.CANCELLED, 2, 5, R.SELF_TRADE)],
        ),
        (
            BOTH,
            [
                (Event.ACK, 3),
                (Event.TRADE, SYM, 1, 3, 1, 100, 5),
                (Event.CANCELLED, 2, 5, R.SELF_TRADE),
                (Event.CANCELLED, 3, 10, R.SELF_TRADE),
            ],
        ),
    ],
)
def test_self_trade_prevention_modes(mode, events):
    book = new_book(SYM, 0, mode)
    book.submit(1, 1, SELL, LIMIT, DAY, 100, 5)
    book.submit(2, 7, SELL, LIMIT, DAY, 100, 5)
    assert book.submit(3, 7, BUY, LIMIT, DAY, 100, 15) == events


# ------------------------------------------------------------------ properties

order_op = st.tuples(
    st.just("order"),
    st.integers(1, 3),  # account
    st.sampled_from([BUY, SELL]),
    st.sampled_from(["day", "day", "gtc", "ioc", "fok", "gtx", "market", "stop", "stop_limit", "iceberg"]),
    st.integers(96, 104),  # price
    st.one_of(st.integers(1, 30), st.sampled_from([0, 40])),  # qty
    st.integers(0, 12),  # trigger offset, or display
)
cancel_op = st.tuples(st.just("cancel"), st.integers(1, 60))
amend_op = st.tuples(st.just("amend"), st.integers(1, 60), st.integers(95, 105), st.integers(1, 30))
ops = st.lists(st.one_of(order_op, order_op, order_op, cancel_op, amend_op), max_size=60)
KINDS = {
    "day": (LIMIT, DAY), "gtc": (LIMIT, GTC), "ioc": (LIMIT, IOC), "fok": (LIMIT, FOK), "gtx": (LIMIT, GTX),
    "market": (MARKET, IOC), "stop": (STOP, DAY), "stop_limit": (STOP_LIMIT, GTC), "iceberg": (ICEBERG, DAY),
}  # fmt: skip


def order_of(oid, op):
    _, account, side, kind, price, qty, extra = op
    otype, tif = KINDS[kind]
    target = 0
    if otype in (STOP, STOP_LIMIT):
        target = 100 + side * (extra - 6)  # either side of the market
    elif otype == ICEBERG:
        target = extra
    return (oid, account, side, otype, tif, 0 if otype in (MARKET, STOP) else price, qty, target)


def apply(book, oid, op):
    if op[0] == "cancel":
        return book.cancel(oid, op[1])
    if op[0] == "amend":
        return book.cancel(oid, op[1], op[2], op[3])
    return book.submit(*order_of(oid, op))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([0, NEWEST, OLDEST, BOTH]), ops)
def test_book_agrees_with_the_reference_and_keeps_its_invariants(stp, script):
    book, ref = new_book(SYM, 0, stp), Reference(stp)
    qty_of, filled, ended = {}, {}, {}
    for oid, op in enumerate(script, start=1):
        events = apply(book, oid, op)
        assert events == apply(ref, oid, op)
        assert book.resting() == ref.priority_list()
        assert book.state()[1] == ref.held_list()
        if op[0] == "order" and events[0][0] == Event.ACK:
            qty_of[oid] = order_of(oid, op)[6]
        for ev in events:
            if ev[0] == Event.TRADE:
                buy, sell, qty = ev[3], ev[4], ev[6]
                filled[buy] = filled.get(buy, 0) + qty
                filled[sell] = filled.get(sell, 0) + qty
                if stp:  # never a fill with one account on both sides
                    accounts = {o: order_of(o, script[o - 1])[1] for o in (buy, sell)}
                    assert accounts[buy] != accounts[sell]
            elif ev[0] == Event.CANCELLED:
                ended[ev[1]] = ended.get(ev[1], 0) + ev[2]
            elif ev[0] == Event.AMENDED:
                qty_of[ev[2]] += ev[5]  # the target's quantity changes by the amend's delta
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid[0] < ask[0]  # never crossed
        for o, f in filled.items():
            assert f <= qty_of[o]  # never overfilled
    resting, held = book.state()
    left = {r[0]: r[4] for r in resting} | {s[0]: s[6] for s in held}
    for o, qty in qty_of.items():  # quantity conserved
        assert qty == filled.get(o, 0) + ended.get(o, 0) + left.get(o, 0)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([0, NEWEST, BOTH]), ops, ops)
def test_a_book_restored_from_its_state_matches_like_the_original(stp, before, after):
    original = new_book(SYM, 0, stp)
    for oid, op in enumerate(before, start=1):
        apply(original, oid, op)
    restored = new_book(SYM, 0, stp)
    resting, held = original.state()
    top = max((i for i, op in enumerate(before, 1) if op[0] == "order"), default=0)
    restored.restore(
        resting, held=held, match_seq=original.match_seq, last_price=original.last_price, max_oid=top
    )
    for oid, op in enumerate(after, start=len(before) + 1):
        assert apply(original, oid, op) == apply(restored, oid, op)
        assert original.state() == restored.state()


def test_enum_values_the_wire_and_the_book_share():
    assert [int(t) for t in (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.ICEBERG)] == [3, 4, 5]
    assert [int(t) for t in (TimeInForce.GTC, TimeInForce.FOK, TimeInForce.GTX)] == [2, 3, 4]
    assert all(7 <= int(r) <= 19 for r in R if R.MALFORMED < r < R.ORDER_QTY_LIMIT)  # 20..29: risk's


def test_the_kill_switch_cancels_held_stops_and_icebergs_whole(book):
    book.submit(1, 7, SELL, ICEBERG, DAY, 101, 30, 10)
    book.submit(2, 7, BUY, STOP, DAY, 0, 5, 105)
    book.submit(3, 8, BUY, LIMIT, DAY, 99, 5)
    out: list = []
    assert book.cancel_account_into(out, 7, 3) == 2
    assert list(zip(*[iter(out)] * 7)) == [(4, 1, 30, 0, 0, 0, 0), (4, 2, 5, 0, 0, 0, 0)]
    assert book.state() == ([(3, 8, BUY, 99, 5)], [])
