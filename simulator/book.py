"""One symbol's limit order book: price-time priority matching on integer ticks.

``OrderBook`` is the matching engine a broker runs for each symbol it trades. It takes LIMIT
and MARKET orders and cancels and matches them against the resting orders (best price first,
then oldest first, at the resting order's price). The broker calls ``submit_into`` and
``cancel_into``, which append each event to the caller's list as a flat record of
``wire.EVENT_WIDTH`` ints (trades name the symbol by its wire id), so the broker packs a
whole reply at once with nothing to regroup or flatten. ``submit`` and ``cancel`` wrap them
for tests and replays, returning the readable event tuples of ``simulator.orders``
(``(Event.ACK, oid)``, ``(Event.TRADE, symbol, ...)`` and so on).

Pure model: no clock, no randomness, no I/O. It is on the hot path, so the inside is plain
data rather than objects:

* each side is a dict ``price -> level`` plus a sorted list of keys kept with ``bisect``;
  bids are keyed by price and asks by negated price so that on both sides the best level is
  the *last* key (``pop()`` from the end is O(1));
* a level is one flat list ``[dead_entries, entry, entry, ...]``, oldest entry first (at
  ``level[1]``): live orders at the level = ``len(level) - 1 - dead_entries``, and it is removed
  when that reaches 0. With many symbols nearly every level holds one or two orders in a cold
  book, so a level is one object, not a pair around a list of entries (a list object and a cache
  miss more per level; a deque, 760 bytes empty, made a resting order cost about 1.3 KB); taking
  the oldest shifts a few pointers. Its total is summed only when a view asks;
* an entry is the list ``[oid, leaves, account, price, side]``; arrival order in the level is
  the time priority. An iceberg's entry is longer, ``[oid, visible, account, price, side,
  hidden, display]``: its ``leaves`` place is what shows, and when that is filled up the next
  slice goes to the back of the level. The other types (stops, FOK, post-only, amends, STP) live in
  ``order_types.py``: they leave the hot path through its failed range check;
* cancels use lazy deletion: the entry's leaves are set to 0 and it stays in its level until
  matching reaches it (or the level empties, or the level is compacted once dead entries make
  up more than about half of its entries), so a cancel costs amortised O(1), plus a bisect and a
  list deletion over the level prices when it empties a level.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice

from simulator import order_types
from simulator.order_checks import _is_int, check_order, is_special
from simulator.orders import Event, OrderType, RejectReason, Side, TimeInForce

# Plain-int copies of the enum values used on the hot path (no enum lookups per order).
_ACK = int(Event.ACK)
_REJECT = int(Event.REJECT)
_TRADE = int(Event.TRADE)
_CANCELLED = int(Event.CANCELLED)
_CANCEL_DONE = int(Event.CANCEL_DONE)
_BUY = int(Side.BUY)
_SELL = int(Side.SELL)
_LIMIT = int(OrderType.LIMIT)
_MARKET = int(OrderType.MARKET)
_DAY = int(TimeInForce.DAY)
_IOC = int(TimeInForce.IOC)
_R_MALFORMED = int(RejectReason.MALFORMED)
_R_UNKNOWN_ORDER = int(RejectReason.UNKNOWN_ORDER)
_R_NOT_RESTING = int(RejectReason.ORDER_NOT_RESTING)

# A limit no ask price can exceed: what a MARKET buy is matched against. (A MARKET sell uses 0:
# every resting bid price is > 0.)
_NO_LIMIT = 1 << 62

# A level's entries are compacted on cancel when its dead entries outnumber half its length
# plus _COMPACT_SLACK, so cancels cost amortised O(1) and dead entries stay bounded.
_COMPACT_SLACK = 16


def _leaves(level: list) -> int:
    """Total leaves of a level's entries (dead ones count 0): views only, never matching."""
    return sum(e[1] for e in islice(level, 1, None))


class OrderBook:
    """The limit order book of one symbol, matching with price-time priority.

    Order ids are expected to increase over the life of the system (the book uses the
    highest id it has seen to tell an UNKNOWN_ORDER from one that is no longer resting) and
    to be unique.
    """

    __slots__ = (  # those every order reads first: with 100,000 cold books, fewer cache lines
        "_max_oid",
        "_bid_keys",
        "_ask_keys",
        "_bids",
        "_asks",
        "_index",
        "_match_seq",
        "_sym_id",
        "_volume",
        "_last_price",
        "_symbol",
        "stp",
        "held",
        "buy_stops",
        "sell_stops",
        "stops_seq",
        "stop_lo",
        "stop_hi",
        "stamp_at",
        "stamp_k",
        "triggering",
    )

    def __init__(self, symbol: str, sym_id: int = 0, stp: int = 0) -> None:
        self._symbol = symbol
        self._sym_id = sym_id  # the symbol on the wire (see wire.py): what trades carry
        self._bids: dict[int, list] = {}  # price -> [dead, entry, entry...], oldest entry first
        self._asks: dict[int, list] = {}
        self._bid_keys: list[int] = []  # ascending prices: best bid last
        self._ask_keys: list[int] = []  # ascending negated prices: best ask last
        self._index: dict[int, list[int]] = {}  # oid -> entry, live resting orders only
        self._match_seq = 0
        self._last_price: int | None = None
        self._volume = 0
        self._max_oid = 0
        self.stp = stp  # order_types.STP_MODES: 0 none (this class), else StpOrderBook
        self.held: Mapping[int, tuple] = order_types.NO_HELD  # stops not triggered yet, oid -> order
        # record (a dict from the first, order_types.hold: most books hold none), then (trigger, oid)
        self.buy_stops: Sequence[tuple[int, int]] = ()  # of the buy stops and (-trigger, oid) of the
        self.sell_stops: Sequence[tuple[int, int]] = ()  # sell stops, ascending
        self.stops_seq = 0  # the match_seq up to which the stops were checked
        self.stop_lo, self.stop_hi = order_types.NO_BUY_STOP, order_types.NO_SELL_STOP  # the nearest triggers
        self.stamp_at = self.stamp_k = 0  # the message the latest stamp was given for, and its k
        self.triggering = False  # stops are being entered: triggers found meanwhile queue up

    # ------------------------------------------------------------------ orders

    def submit(
        self, oid: int, account: int, side: int, otype: int, tif: int, price: int, qty: int, target: int = 0
    ) -> list[tuple]:
        """Take a LIMIT or MARKET order; return its events in causal order.

        ``[(REJECT, oid, reason)]`` if the order is refused (see ``check_order``; a non-int
        ``oid`` or ``account`` is MALFORMED too). Otherwise ``(ACK, oid)``, then one
        ``(TRADE, symbol, match_seq, buy_oid, sell_oid, price, qty)`` per fill against the
        opposite side (best price, then oldest, first; at the resting order's price), then
        ``(CANCELLED, oid, leaves)`` if something is left of an IOC or MARKET order. What is
        left of a LIMIT DAY order rests on the book silently.

        The readable form of ``submit_into``, for tests and replays; unlike it, this accepts
        fields of any type and refuses the ones that are not ints.
        """
        exact = type(qty) is type(price) is type(side) is type(otype) is int  # (chained: all are int)
        if not (exact and type(tif) is type(oid) is type(account) is type(target) is int):
            if _is_int(oid) and oid > self._max_oid:
                self._max_oid = int(oid)
            if not (_is_int(oid) and _is_int(account)):
                return [(_REJECT, oid, _R_MALFORMED)]
            reason = check_order(side, otype, tif, price, qty, target)
            if reason is not None:
                return [(_REJECT, oid, int(reason))]
            # Acceptable but not plain ints (int enums, int subclasses): normalise.
            oid, account, side, otype, tif = int(oid), int(account), int(side), int(otype), int(tif)
            price, qty, target = int(price), int(qty), int(target)
        out: list[int] = []
        self.submit_into(out, oid, account, side, otype, tif, price, qty, target)
        return self._readable(out)

    def cancel(self, cancel_oid: int, target_oid: int, price: int = 0, qty: int = 0) -> list[tuple]:
        """Cancel the resting order ``target_oid`` on behalf of the cancel order ``cancel_oid``.

        Success: ``[(CANCELLED, target_oid, leaves), (CANCEL_DONE, cancel_oid, target_oid)]``.
        Otherwise ``[(REJECT, cancel_oid, reason)]``: MALFORMED if ``target_oid`` is not an
        int; UNKNOWN_ORDER if it is higher than every id ever passed to ``submit`` here
        (accepted or rejected; cancel ids do not count) or to ``restore``; else
        ORDER_NOT_RESTING (filled, cancelled, rejected, IOC/MARKET, or placed elsewhere).
        ``qty > 0`` makes it an amend (``order_types.amend``).

        The readable form of ``cancel_into``.
        """
        if type(target_oid) is not int or type(price) is not int or type(qty) is not int:
            if not (_is_int(target_oid) and _is_int(price) and _is_int(qty)):
                return [(_REJECT, cancel_oid, _R_MALFORMED)]
            target_oid, price, qty = int(target_oid), int(price), int(qty)
        out: list = []
        self.cancel_into(out, cancel_oid, target_oid, price, qty)
        return self._readable(out)

    def _readable(self, flat: list) -> list[tuple]:
        """Event records regrouped as the tuples of ``simulator.orders``: padding stripped,
        a trade naming its symbol rather than its wire id."""
        events = []
        it = iter(flat)
        for rec in zip(it, it, it, it, it, it, it):
            kind = rec[0]
            if kind == _TRADE:
                events.append((_TRADE, self._symbol) + rec[2:])
            else:
                events.append(rec[: order_types.EVENT_LENGTH.get(kind, 3)])
                if kind == _CANCELLED and rec[3]:
                    events[-1] += rec[3:4]  # the reason self-trade prevention gave
        return events

    def submit_into(
        self,
        out: list[int],
        oid: int,
        account: int,
        side: int,
        otype: int,
        tif: int,
        price: int,
        qty: int,
        target: int = 0,
    ) -> None:
        """``submit`` for the broker's hot path: append the order's events to ``out`` as flat
        ``wire.EVENT_WIDTH``-int records (see ``wire.py``), trades carrying ``sym_id``.

        Every field must be an exact int (as decoded wire records are): only their ranges are
        checked here, with the same REJECT reasons as ``check_order``. Any type or time in
        force but LIMIT/MARKET and DAY/IOC fails the range check and goes to ``order_types``.
        """
        if oid > self._max_oid:
            self._max_oid = oid
        if not (
            qty > 0
            and (side == 1 or side == -1)
            and (tif == 0 or tif == 1)
            and ((otype == 0 and price > 0) or otype == 1)
        ):
            if is_special(side, otype, tif):
                order_types.submit(self, out, oid, account, side, otype, tif, price, qty, target)
                return
            # an order failing the range checks above always has a reason
            reason = check_order(side, otype, tif, price, qty)
            out += (2, oid, int(reason), 0, 0, 0, 0)  # type: ignore[arg-type]
            return
        # Literal ints below: 1 = Event.ACK / Side.BUY, 3 = Event.TRADE, 4 = Event.CANCELLED,
        # 0 = OrderType.LIMIT / TimeInForce.DAY (asserted at import, see the end of the module).
        out += (1, oid, 0, 0, 0, 0, 0)
        remaining, touch = qty, False  # touch: a trade reached a held stop's trigger

        if side == 1:
            keys = self._ask_keys
            if keys and (otype or -keys[-1] <= price):
                lim, first = (price if otype == 0 else _NO_LIMIT), -keys[-1]
                index = self._index
                book = self._asks
                sym = self._sym_id
                seq = self._match_seq
                while keys:
                    p = -keys[-1]
                    if p > lim:
                        break
                    # typed for mypyc (bench/mypyc_gain.py); the sell side below shares the names
                    level: list = book[p]
                    while True:
                        e: list[int] = level[1]  # the oldest entry (level[0] is the dead count)
                        lv = e[1]
                        if lv == 0:  # cancelled: lazily dropped here
                            del level[1]
                            level[0] -= 1
                            continue
                        seq += 1
                        if lv <= remaining:
                            out += (3, sym, seq, oid, e[0], p, lv)
                            remaining -= lv
                            del level[1]  # filled: no longer in any level or the index
                            if len(e) > 5 and e[5]:  # an iceberg shows its next slice
                                order_types.refill(self, out, e, level, oid)
                            else:
                                del index[e[0]]
                            if len(level) == level[0] + 1:  # only dead entries left
                                keys.pop()
                                del book[p]
                                break
                            if remaining == 0:
                                break
                        else:
                            out += (3, sym, seq, oid, e[0], p, remaining)
                            e[1] = lv - remaining
                            remaining = 0
                            break
                    if remaining == 0:
                        break
                self._match_seq = seq
                self._volume += qty - remaining
                self._last_price = out[-2]  # the price of the trade just appended
                touch = out[-2] >= self.stop_lo or first <= self.stop_hi  # prices rose from first
            if remaining:
                if otype == 0 and tif == 0:
                    e = [oid, remaining, account, price, 1]
                    self._index[oid] = e
                    book = self._bids
                    at_price = book.get(price)
                    if at_price is None:
                        book[price] = [0, e]
                        keys = self._bid_keys
                        if not keys or price > keys[-1]:
                            keys.append(price)
                        else:
                            insort(keys, price)
                    else:
                        at_price.append(e)
                else:
                    out += (4, oid, remaining, 0, 0, 0, 0)
        else:
            keys = self._bid_keys
            if keys and (otype or keys[-1] >= price):
                lim, first = (price if otype == 0 else 0), keys[-1]
                index = self._index
                book = self._bids
                sym = self._sym_id
                seq = self._match_seq
                while keys:
                    p = keys[-1]
                    if p < lim:
                        break
                    level = book[p]
                    while True:
                        e = level[1]
                        lv = e[1]
                        if lv == 0:
                            del level[1]
                            level[0] -= 1
                            continue
                        seq += 1
                        if lv <= remaining:
                            out += (3, sym, seq, e[0], oid, p, lv)
                            remaining -= lv
                            del level[1]
                            if len(e) > 5 and e[5]:
                                order_types.refill(self, out, e, level, oid)
                            else:
                                del index[e[0]]
                            if len(level) == level[0] + 1:  # only dead entries left
                                keys.pop()
                                del book[p]
                                break
                            if remaining == 0:
                                break
                        else:
                            out += (3, sym, seq, e[0], oid, p, remaining)
                            e[1] = lv - remaining
                            remaining = 0
                            break
                    if remaining == 0:
                        break
                self._match_seq = seq
                self._volume += qty - remaining
                self._last_price = out[-2]
                touch = first >= self.stop_lo or out[-2] <= self.stop_hi  # prices fell from first
            if remaining:
                if otype == 0 and tif == 0:
                    e = [oid, remaining, account, price, -1]
                    self._index[oid] = e
                    book = self._asks
                    at_price = book.get(price)
                    if at_price is None:
                        book[price] = [0, e]
                        keys = self._ask_keys
                        if not keys or -price > keys[-1]:
                            keys.append(-price)
                        else:
                            insort(keys, -price)
                    else:
                        at_price.append(e)
                else:
                    out += (4, oid, remaining, 0, 0, 0, 0)
        if touch:
            order_types.after_trades(self, out, oid)

    def cancel_into(self, out: list, cancel_oid: int, target_oid: int, price: int = 0, qty: int = 0) -> None:
        """``cancel`` for the broker's hot path: append its event records to ``out``.
        ``target_oid`` must be an exact int; ``qty > 0`` makes it an amend."""
        if qty:
            order_types.amend(self, out, cancel_oid, target_oid, price, qty)
            return
        e = self._index.pop(target_oid, None)
        if e is None:
            if target_oid in self.held:
                order_types.cancel_held(self, out, cancel_oid, target_oid)
            elif target_oid > self._max_oid:
                out += (2, cancel_oid, _R_UNKNOWN_ORDER, 0, 0, 0, 0)
            else:
                out += (2, cancel_oid, _R_NOT_RESTING, 0, 0, 0, 0)
            return
        leaves = self.unlink(e)
        out += (4, target_oid, leaves, 0, 0, 0, 0, 5, cancel_oid, target_oid, 0, 0, 0, 0)

    def unlink(self, e: list) -> int:
        """Take the live entry ``e`` (no longer in the index) off its level: its leaves, hidden
        ones included. It stays there dead until matching, or a compaction, drops it."""
        leaves = e[1] + e[5] if len(e) > 5 else e[1]
        e[1] = 0
        price = e[3]
        if e[4] == 1:
            book = self._bids
            keys = self._bid_keys
            key = price
        else:
            book = self._asks
            keys = self._ask_keys
            key = -price
        level = book[price]
        dead = level[0] + 1
        if len(level) == dead + 1:  # that was the level's last live order
            del book[price]
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
        elif dead > ((len(level) - 1) >> 1) + _COMPACT_SLACK:  # mostly dead: compact, in place
            level[1:] = [x for x in level[1:] if x[1]]  # (order_types._match may hold the level)
            level[0] = 0
        else:
            level[0] = dead
        return leaves

    def rest(self, oid: int, account: int, side: int, price: int, leaves: int) -> None:
        """Put a LIMIT DAY order that cannot cross (priced behind the other side's best) at the
        back of its level, with no event: a market maker's quote (agents.py), not submit_into's way."""
        if oid > self._max_oid:
            self._max_oid = oid
        e = self._index[oid] = [oid, leaves, account, price, side]
        book, keys = (self._bids, self._bid_keys) if side == 1 else (self._asks, self._ask_keys)
        level = book.get(price)
        if level is None:
            book[price] = [0, e]
            insort(keys, price if side == 1 else -price)
        else:
            level.append(e)

    def cancel_account_into(self, out: list, account: int, upto: int) -> int:
        """The kill switch: cancel ``account``'s orders up to id ``upto`` (order_types.cancel_account)."""
        return order_types.cancel_account(self, out, account, upto)

    # ------------------------------------------------------------------ views

    def best_bid(self) -> tuple[int, int] | None:
        """(price, total quantity) of the best bid level, or None if there are no bids."""
        keys = self._bid_keys
        if not keys:
            return None
        p = keys[-1]
        return (p, _leaves(self._bids[p]))

    def best_ask(self) -> tuple[int, int] | None:
        """(price, total quantity) of the best ask level, or None if there are no asks."""
        keys = self._ask_keys
        if not keys:
            return None
        p = -keys[-1]
        return (p, _leaves(self._asks[p]))

    def depth(self, levels: int = 10) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """(bids, asks), each best first, at most ``levels`` items of (price, total, count)."""
        bids = []
        for p in reversed(self._bid_keys[-levels:] if levels > 0 else []):
            lvl = self._bids[p]
            bids.append((p, _leaves(lvl), len(lvl) - 1 - lvl[0]))
        asks = []
        for k in reversed(self._ask_keys[-levels:] if levels > 0 else []):
            lvl = self._asks[-k]
            asks.append((-k, _leaves(lvl), len(lvl) - 1 - lvl[0]))
        return bids, asks

    def _live(self) -> list[list]:
        """Every live entry in priority order: bids best first, then asks; oldest first in a level."""
        bids, asks = self._bids, self._asks
        levels = [bids[p] for p in reversed(self._bid_keys)] + [asks[-k] for k in reversed(self._ask_keys)]
        return [e for lv in levels for e in islice(lv, 1, None) if e[1]]

    def resting(self) -> list[tuple[int, int, int, int, int]]:
        """Every live resting order as (oid, account, side, price, leaves), in priority order:
        bids best first, then asks best first; oldest first within a level."""
        return [(e[0], e[2], e[4], e[3], e[1] + e[5] if len(e) > 5 else e[1]) for e in self._live()]

    def state(self) -> tuple[list[tuple], list[tuple]]:
        """What ``restore`` takes to rebuild this book: the resting orders as ``resting()``
        lists them, an iceberg's with (display, visible) after, and the held stops."""
        entries = [
            (e[0], e[2], e[4], e[3], e[1] + e[5], e[6], e[1])
            if len(e) > 5
            else (e[0], e[2], e[4], e[3], e[1])
            for e in self._live()
        ]
        return entries, order_types.held_stops(self)

    # ------------------------------------------------------------------ restart

    def restore(
        self,
        orders: Iterable[Sequence[int]],
        *,
        match_seq: int | None = None,
        last_price: int | None = None,
        volume: int | None = None,
        max_oid: int = 0,
        held: Iterable[Sequence[int]] = (),
    ) -> None:
        """Replace the resting orders with ``orders``, as returned by ``resting()`` (an iceberg
        with its display and visible shares after: ``state()``), and the held stops with ``held``.

        Within a price level the given order is the time priority. No events are emitted.
        The highest id seen becomes at least the highest restored id (and ``max_oid`` if
        given, so a restarted broker can also tell the book about orders that were filled
        or cancelled before the restart). ``match_seq``, ``last_price`` and ``volume``, if
        given, restore those counters too (otherwise they are left as they are).

        Raises ValueError, leaving the book unchanged, if an order is malformed, an id is
        repeated, or the orders would leave the book crossed.
        """
        orders = [tuple(o) for o in orders]
        seen = set()
        for o in orders:
            if len(o) not in (5, 7) or not all(_is_int(x) for x in o):
                raise ValueError(f"malformed resting order {o!r}")
            oid, _account, side, price, leaves = o[:5]
            if len(o) == 7 and not (0 < o[6] <= o[5] and o[6] <= leaves):
                raise ValueError(f"bad display in resting iceberg {o!r}")
            if side != _BUY and side != _SELL:
                raise ValueError(f"bad side in resting order {o!r}")
            if price <= 0 or leaves <= 0:
                raise ValueError(f"non-positive price or leaves in resting order {o!r}")
            if oid in seen:
                raise ValueError(f"order id {oid} repeated")
            seen.add(oid)
        bid_prices = [o[3] for o in orders if o[2] == _BUY]
        ask_prices = [o[3] for o in orders if o[2] == _SELL]
        if bid_prices and ask_prices and max(bid_prices) >= min(ask_prices):
            raise ValueError("restored orders would leave the book crossed")

        self._bids = {}
        self._asks = {}
        self._index = {}
        index = self._index
        top = int(max_oid) if max_oid else 0
        for o in orders:
            oid, account, side, price, leaves = (int(x) for x in o[:5])
            e = [oid, leaves, account, price, side]
            if len(o) == 7:  # an iceberg: (display, visible)
                e = [oid, int(o[6]), account, price, side, leaves - int(o[6]), int(o[5])]
            index[oid] = e
            book = self._bids if side == _BUY else self._asks
            level = book.get(price)
            if level is None:
                book[price] = [0, e]
            else:
                level.append(e)
            if oid > top:
                top = oid
        self._bid_keys = sorted(self._bids)
        self._ask_keys = sorted(-p for p in self._asks)
        if top > self._max_oid:
            self._max_oid = top
        if match_seq is not None:
            self._match_seq = int(match_seq)
        if last_price is not None:
            self._last_price = int(last_price)
        if volume is not None:
            self._volume = int(volume)
        order_types.restore_held(self, held)
        self.stamp_at = self.stamp_k = 0

    # ------------------------------------------------------------------ properties

    @property
    def symbol(self) -> str:
        return self._symbol

    @property
    def sym_id(self) -> int:
        """The symbol's wire id, carried by the trades of ``submit_into``."""
        return self._sym_id

    @property
    def match_seq(self) -> int:
        """Number of trades so far (the match_seq of the latest trade)."""
        return self._match_seq

    @property
    def last_price(self) -> int | None:
        """Price of the latest trade, None before the first."""
        return self._last_price

    @property
    def volume(self) -> int:
        """Shares traded so far."""
        return self._volume

    @property
    def order_count(self) -> int:
        """Number of live resting orders."""
        return len(self._index)

    def __repr__(self) -> str:
        return (
            f"OrderBook({self._symbol!r}, bid={self.best_bid()}, ask={self.best_ask()}, "
            f"orders={len(self._index)}, trades={self._match_seq})"
        )


# The hot path writes these enum values as literals; fail loudly if orders.py ever renumbers.
_LITERALS = (_ACK, _REJECT, _TRADE, _CANCELLED, _CANCEL_DONE, _BUY, _SELL, _LIMIT, _MARKET, _DAY, _IOC)
if _LITERALS != (1, 2, 3, 4, 5, 1, -1, 0, 1, 0, 1):  # pragma: no cover
    raise ImportError("simulator.book hard-codes enum values that simulator.orders changed")
