"""The tape of the watched symbol: what its broker records, and the events a view reads.

A broker told to WATCH a symbol wraps that one book's ``submit_into`` and ``cancel_into``
(``TapeRecorder.wrap``): each order taken keeps its own record and the event records its book
appended for it, so the tape is every event in the order the book made them (new order, ack,
each fill, the cancel of an IOC's rest or of a resting order, a reject with its reason). The
other books are not touched, so watching costs the flow one Python call per order of the
watched symbol only.

The eye follows a few orders a second, not thousands: the recorder takes at most
``EYE_ORDERS_PER_S`` orders a second (a token bucket refilled on each pump tick, bursts of up
to ``EYE_BURST``), every event of each order taken, and counts the events of the orders it
leaves out; below that rate the tape is complete. Your own orders (``outside_orders.py``), and
every order that trades with one of them, are always taken, whatever the rate. What it took
goes to the bank in a TAPE message:
``(symbol, skipped events, [(t, order record, event records), ...])``, ``t`` the broker's
``time.monotonic()`` (the same clock in every process of the machine).

``tape_events`` turns one such record into ``stats.TapeEvent``s.

The all-symbols tape. Asked to (a WATCH with a budget), a broker records every book it has,
``budget`` orders a second in all (the bank gives each broker its share of the eye's rate), and
names the symbol in each record. The bank merges what the brokers send into one tape, in the
order the orders were *placed* (``TapeMerge``): the key of an order is its id, the flow's ids
counting in placement order, yours right behind the flow order they were placed after
(``outside_ids.priority``). Each book sees its orders in that order, so one broker's tape comes
in key order already; across brokers, a record waits ``MERGE_HOLD_S`` for the records placed
before it that other brokers may still be sending, then goes on the tape. A record that comes
later than that, behind a record placed after it that is shown already, is left out and its
events counted as skipped: the tape stays a sample in placement order, never out of order.

Stdlib only: brokers import this module.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from simulator.orders import Event, OrderType
from simulator.outside_ids import AGENT, OUTSIDE_BASE, SOURCES
from simulator.stats import TapeEvent
from simulator.wire import EVENT_WIDTH

_AGENTS = SOURCES[AGENT]  # ids above it are agents' (agents.py)

EYE_ORDERS_PER_S = 8.0  # orders a second a person can follow on a tape, each with its events
EYE_BURST = 8.0  # orders taken at once after a quiet spell (a step, a slow run)
ALL_SYMBOLS = "*"  # the symbol of the all-symbols tape's TAPE messages and of its "watch" line
MERGE_HOLD_S = 0.3  # how long a record of the all-symbols tape waits for those placed before it
KINDS = ("new", "ack", "fill", "cancelled", "cancel_done", "reject", "watch", "amended", "triggered", "shown")
_CANCEL = int(OrderType.CANCEL)
_ACK, _REJECT, _TRADE = int(Event.ACK), int(Event.REJECT), int(Event.TRADE)
_CANCELLED, _CANCEL_DONE = int(Event.CANCELLED), int(Event.CANCEL_DONE)
_AMENDED, _TRIGGERED, _SHOWN = int(Event.AMENDED), int(Event.TRIGGERED), int(Event.SHOWN)

Submit = Callable[[list, int, int, int, int, int, int, int, int], None]
Cancel = Callable[[list, int, int, int, int], None]


class TapeRecorder:
    """A broker's record of the watched book's orders, sampled at the eye's rate."""

    def __init__(self, rate: float = EYE_ORDERS_PER_S, burst: float = EYE_BURST) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.now = 0.0  # the pump's clock reading of this tick
        self.taken: list[tuple[float, tuple[int, ...], tuple[int, ...]]] = []
        self.skipped = 0  # events left out since the last ``take``
        self._last_refill: float | None = None

    def tick(self, now: float) -> None:
        """A pump tick at ``now``: refill the bucket for the time since the last one."""
        if self._last_refill is not None:
            self.tokens = min(self.burst, self.tokens + (now - self._last_refill) * self.rate)
        self._last_refill = self.now = now

    def take(self) -> tuple[int, list]:
        """(events skipped, orders taken) since the last call; both start again from none."""
        skipped, taken = self.skipped, self.taken
        self.skipped, self.taken = 0, []
        return skipped, taken

    def wrap(self, book: Any) -> tuple[Submit, Cancel]:
        """The book's two entry points, recording what they do for the tape."""
        sym, submit, cancel = book.sym_id, book.submit_into, book.cancel_into
        # Whether one of yours has reached this book, so that an event may name it: most runs
        # place none, and then the makers' quotes, whose ids are as high as yours, need no scan.
        # Seen as it comes in, or (restored, or before the wrap) in the book's largest id outside
        # the agents' (``_max_oid``: a desk's reaction holds its agents' ids there a moment).
        yours = False

        def sees_yours(oid: int) -> bool:
            nonlocal yours
            yours = OUTSIDE_BASE < oid <= _AGENTS or OUTSIDE_BASE < book._max_oid <= _AGENTS
            return yours

        def taped_submit(
            out: list,
            oid: int,
            account: int,
            side: int,
            otype: int,
            tif: int,
            price: int,
            qty: int,
            target: int = 0,
        ) -> None:
            start = len(out)
            submit(out, oid, account, side, otype, tif, price, qty, target)
            if self.tokens >= 1.0 or ((yours or sees_yours(oid)) and _names_outside(out, start)):
                self.tokens = max(self.tokens - 1.0, 0.0)
                order = (oid, account, sym, side, otype, tif, price, qty, target)
                self.taken.append((self.now, order, tuple(out[start:])))
            else:
                self.skipped += 1 + (len(out) - start) // EVENT_WIDTH

        def taped_cancel(out: list, oid: int, target: int, price: int = 0, qty: int = 0) -> None:
            start = len(out)
            cancel(out, oid, target, price, qty)
            if self.tokens >= 1.0 or ((yours or sees_yours(oid)) and _names_outside(out, start)):
                self.tokens = max(self.tokens - 1.0, 0.0)
                order = (oid, -1, sym, 0, _CANCEL, 0, price, qty, target)
                self.taken.append((self.now, order, tuple(out[start:])))
            else:
                self.skipped += 1 + (len(out) - start) // EVENT_WIDTH

        return taped_submit, taped_cancel


def tape_events(
    symbol: str, t_s: float, order: Sequence[int], events: Sequence[int], first_seq: int
) -> list[TapeEvent]:
    """The TapeEvents of one order taken by a ``TapeRecorder``: the order itself ("new"), then
    one per event record its book made, numbered from ``first_seq``."""
    oid, account, _sym, side, otype, tif, price, qty, target = order[:9]
    out = [TapeEvent(first_seq, t_s, "new", symbol, oid, side, otype, tif, price, qty, account, target)]
    for rec in _records(events):
        kind = rec[0]
        seq = first_seq + len(out)
        if kind == _ACK:
            out.append(TapeEvent(seq, t_s, "ack", symbol, rec[1], side, otype, tif, price, qty, account))
        elif kind == _TRADE:
            buy, sell, fill_price, fill_qty = rec[3], rec[4], rec[5], rec[6]
            resting = sell if buy == oid else buy
            out.append(
                TapeEvent(seq, t_s, "fill", symbol, oid, side, price=fill_price, qty=fill_qty, other=resting)
            )
        elif kind == _CANCELLED:
            by = oid if rec[1] != oid and otype == _CANCEL else 0  # the cancel request that ended it
            out.append(TapeEvent(seq, t_s, "cancelled", symbol, rec[1], qty=rec[2], other=by, reason=rec[3]))
        elif kind == _AMENDED:  # the target now rests with these leaves at this price
            moved = int(rec[6] != 0)  # 1: it lost its place (the reason field says so)
            out.append(TapeEvent(seq, t_s, "amended", symbol, rec[2], price=rec[4], qty=rec[3], reason=moved))
        elif kind == _TRIGGERED:
            out.append(TapeEvent(seq, t_s, "triggered", symbol, rec[1]))
        elif kind == _SHOWN:
            out.append(TapeEvent(seq, t_s, "shown", symbol, rec[1], price=rec[5], qty=rec[3], other=rec[2]))
        elif kind == _CANCEL_DONE:
            out.append(TapeEvent(seq, t_s, "cancel_done", symbol, rec[1], other=rec[2]))
        elif kind == _REJECT:
            out.append(TapeEvent(seq, t_s, "reject", symbol, rec[1], side, otype, reason=rec[2]))
    return out


class TapedBook:
    """What a broker routes a taped book's orders to: the book's two entry points, recording."""

    __slots__ = ("submit_into", "cancel_into")

    def __init__(self, submit_into: Submit, cancel_into: Cancel) -> None:
        self.submit_into, self.cancel_into = submit_into, cancel_into


class Taps:
    """Which books a broker's tape wraps, in its routing table (``routes``, indexed by sym: the
    book its orders go to, or a ``TapedBook`` in front of it), and the recorder."""

    def __init__(self, routes: list) -> None:
        self.routes = routes
        self.recorder: TapeRecorder | None = None
        self.budget: float | None = None  # orders/s of the all-symbols tape (None: off)
        self._taped: list[Any] = []  # the books wrapped

    def unwrap(self) -> None:
        """Every book's own entry points again; no recorder."""
        for book in self._taped:
            self.routes[book.sym_id] = book
        self._taped, self.recorder, self.budget = [], None, None

    def wrap(self, books: list[Any], budget: float | None) -> None:
        """Record ``books`` (after ``unwrap``): at the eye's rate, or under ``budget`` orders a
        second in all (the all-symbols tape, which also takes the books opened later)."""
        if not books and budget is None:
            return
        rate, burst = (
            (EYE_ORDERS_PER_S, EYE_BURST) if budget is None else (budget, max(1.0, min(budget, EYE_BURST)))
        )
        self.recorder, self.budget = TapeRecorder(rate, burst), budget
        for book in books:
            self._wrap(book)

    def opened(self, book: Any) -> None:
        """A book just opened: taped too when the tape is of every book."""
        if self.budget is not None:
            self._wrap(book)

    def _wrap(self, book: Any) -> None:
        assert self.recorder is not None
        self.routes[book.sym_id] = TapedBook(*self.recorder.wrap(book))
        self._taped.append(book)


class TapeMerge:
    """The all-symbols tape's records from every broker, given out in placement order."""

    def __init__(self, hold_s: float = MERGE_HOLD_S) -> None:
        self.hold_s = hold_s
        self.last_key: tuple | None = None  # the key of the record given out last
        self.late = 0  # events left out: their record came after one placed later was out
        self._waiting: list[tuple[tuple, int, float, Any, int]] = []  # a heap, by key
        self._added = 0

    def add(self, now: float, key: tuple, item: Any, events: int) -> None:
        """A record (``item``, of ``events`` events) that arrived at ``now``, placed at ``key``."""
        if self.last_key is not None and key <= self.last_key:
            self.late += events
            return
        self._added += 1  # ties (one order's records) keep their arrival order
        heapq.heappush(self._waiting, (key, self._added, now, item, events))

    def due(self, now: float) -> list:
        """The records whose turn has come, in placement order: while the one placed first
        has waited ``hold_s``, it and then the next."""
        out = []
        waiting = self._waiting
        while waiting and waiting[0][2] <= now - self.hold_s:
            key, _n, _t, item, _events = heapq.heappop(waiting)
            self.last_key = key
            out.append(item)
        return out

    def __len__(self) -> int:
        return len(self._waiting)


def _names_outside(out: list, start: int) -> bool:
    """Whether the events an order just made name an order from outside the flow (yours):
    ids that high are no price, quantity or flow id, so the largest number tells."""
    tail = out[start:]
    if not tail or max(tail) <= OUTSIDE_BASE:
        return False
    # agents' are too many: rate-limited; the filters run at C speed (agents' orders come here)
    return next(filter(_AGENTS.__ge__, filter(OUTSIDE_BASE.__lt__, tail)), None) is not None


def _records(flat: Sequence[int]) -> Iterator[Sequence[int]]:
    for i in range(0, len(flat) - EVENT_WIDTH + 1, EVENT_WIDTH):
        yield flat[i : i + EVENT_WIDTH]
