"""The book's slow path: the order types beyond LIMIT/MARKET DAY/IOC, amends, self-trade prevention.

``OrderBook.submit_into`` keeps plain LIMIT and MARKET orders (DAY, IOC) on its hot path. Every
other order fails its range check and comes here (``submit``), and so do an amend (``amend``),
the cancel of a held stop (``cancel_held``), an iceberg's next slice (``refill``) and, while
stops are held, the check of their triggers after a trade (``after_trades``). A book with
self-trade prevention sends every order here (``StpOrderBook`` in ``book.py``), since its
matching looks at each resting order's account. The rules, as the README's order table states:

* **GTC** is DAY: a run is one session. **FOK** fills whole at once or is rejected
  FOK_NOT_FILLABLE, untouched (``_fillable`` walks the book as matching would, icebergs'
  hidden shares and self-trade prevention included). **GTX** is a post-only DAY order: it
  rests, or it is rejected WOULD_CROSS if it would take liquidity on arrival.
* **STOP** / **STOP_LIMIT** (trigger in ``target``; DAY, GTC or IOC) are acked and held off the
  book until a trade prints at or beyond the trigger (a buy stop at >= trigger, a sell stop at
  <= trigger; on arrival the last trade price counts). Then TRIGGERED, and it enters as a
  MARKET order (STOP) or a LIMIT order at ``price`` with its TIF (STOP_LIMIT), after the order
  whose trade touched it. Stops touched by one order enter in the order of the trade that first
  touched each, then of arrival (id); the trades of a stop entering may touch more, which queue
  behind. A held stop can be cancelled; one still held at the end is reported resting.
* **ICEBERG** (display in ``target``, 1..qty; DAY, GTC or GTX) takes liquidity with its whole
  quantity like a LIMIT order, then rests showing at most ``display`` (SHOWN). When that slice is
  filled up the next one is shown at the *back* of its level (SHOWN again), behind every order
  there: only shown shares have time priority, as on most venues.
* **Amend** (a CANCEL with ``qty > 0``, new leaves in ``qty``, new price in ``price``) of an order
  resting on the book: the same price and no more shares keeps its place; a new price or more
  shares puts it at the back of its (new) level. An amend never takes liquidity (a price that
  would cross is WOULD_CROSS); icebergs and held stops are NOT_AMENDABLE.
* **Self-trade prevention** (``STP_MODES``): when an incoming order meets a resting order of its
  own account, cancel-newest cancels the rest of the incoming order, cancel-oldest cancels the
  resting one and matching goes on, cancel-both cancels both; each CANCELLED says SELF_TRADE.

Each entry put at the back of a level while the book handles a message gets a stamp (see
``orders.py``) that the events carry, so the bank can restore a book's priority exactly. Pure
model: stdlib only, and no import of ``book.py`` (which imports this module).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from simulator.order_checks import check_order
from simulator.orders import STAMP_SHIFT, RejectReason

STP_MODES = ("none", "cancel-newest", "cancel-oldest", "cancel-both")


def stp_index(mode: object) -> int:
    """A self-trade prevention mode's number (what books take); 0 (none) for what is not one."""
    return STP_MODES.index(mode) if isinstance(mode, str) and mode in STP_MODES else 0


_NEWEST, _OLDEST = 1, 2
_LIMIT, _MARKET, _STOP, _STOP_LIMIT, _ICEBERG = 0, 1, 3, 4, 5
_DAY, _IOC, _GTC, _FOK, _GTX = 0, 1, 2, 3, 4
_ACK, _REJECT, _TRADE, _CANCELLED, _CANCEL_DONE, _AMENDED, _TRIGGERED, _SHOWN = 1, 2, 3, 4, 5, 6, 7, 8
_SELF_TRADE = int(RejectReason.SELF_TRADE)
_NO_LIMIT = 1 << 62
_TOP = 1 << 62
_AGENT_BASE = 1 << 42  # outside_ids.SOURCES['agent']; agents.SLOTS = 256 = 1 << 8
NO_BUY_STOP, NO_SELL_STOP = _TOP, -1  # a book's stop_lo and stop_hi with no stop held on a side
NO_HELD: Mapping[int, tuple] = MappingProxyType({})  # a book's held stops before its first (read-only)
# how many ints each event kind has in its readable tuple (the rest of its record is padding)
EVENT_LENGTH = {_ACK: 2, _REJECT: 3, _TRADE: 7, _CANCELLED: 3, _CANCEL_DONE: 3, _AMENDED: 7}
EVENT_LENGTH |= {_TRIGGERED: 3, _SHOWN: 6}

Book = Any  # an OrderBook: this module reads and writes its slots (book.py owns the layout)


def next_stamp(book: Book, m: int) -> int:
    """The stamp of the next entry put at the back of a level while handling message ``m``."""
    m = m if m < _AGENT_BASE else (m - _AGENT_BASE) >> 8  # an agent's: its trigger's (agents.py)
    if book.stamp_at != m:
        book.stamp_at, book.stamp_k = m, 0
    book.stamp_k += 1
    return (m << STAMP_SHIFT) + book.stamp_k


# ------------------------------------------------------------------ orders


def submit(
    book: Book,
    out: list,
    oid: int,
    account: int,
    side: int,
    otype: int,
    tif: int,
    price: int,
    qty: int,
    target: int,
) -> None:
    """Take any order (exact ints): append its events to ``out`` as flat records."""
    book._max_oid = max(book._max_oid, oid)
    seq = book._match_seq  # a trade is checked for held stops by the message that printed it
    reason = check_order(side, otype, tif, price, qty, target)
    if reason is None and tif == _FOK and not _fillable(book, side, _limit(otype, side, price), qty, account):
        reason = RejectReason.FOK_NOT_FILLABLE
    if reason is None and tif == _GTX and _crosses(book, side, price):
        reason = RejectReason.WOULD_CROSS
    if reason is not None:
        out += (_REJECT, oid, int(reason), 0, 0, 0, 0)
        return
    out += (_ACK, oid, 0, 0, 0, 0, 0)
    if otype == _STOP or otype == _STOP_LIMIT:
        stop = (oid, account, side, otype, tif, price, qty, target)
        last = book._last_price
        if last is not None and (last >= target if side == 1 else last <= target):
            _enter_stop(book, out, stop, oid)
        else:
            hold(book, stop)
    else:
        display = target if otype == _ICEBERG else 0
        _enter(book, out, (oid, account, side, otype, tif, price, qty), display, oid << STAMP_SHIFT, oid)
    if book.held and book._match_seq != seq:  # it traded while stops wait (earlier trades were checked)
        after_trades(book, out, oid)


def _enter(book: Book, out: list, order: tuple, display: int, stamp: int, m: int) -> None:
    """An acked order, (oid, account, side, otype, tif, price, qty), meets the book (``m``: the
    message being handled), then rests or ends."""
    oid, account, side, otype, tif, price, qty = order
    remaining, stopped = _match(book, out, oid, account, side, _limit(otype, side, price), qty, m)
    if stopped:
        out += (_CANCELLED, oid, remaining, _SELF_TRADE, 0, 0, 0)
    elif remaining and (otype == _MARKET or tif == _IOC or tif == _FOK):
        out += (_CANCELLED, oid, remaining, 0, 0, 0, 0)
    elif remaining:
        rest(book, out, oid, account, side, price, remaining, display, stamp)


def _limit(otype: int, side: int, price: int) -> int:
    """The worst price an order may trade at: a MARKET order's is past every resting price."""
    return price if otype != _MARKET else (_NO_LIMIT if side == 1 else 0)


def rest(
    book: Book,
    out: list,
    oid: int,
    account: int,
    side: int,
    price: int,
    leaves: int,
    display: int,
    stamp: int,
) -> None:
    """Put an order at the back of its level; an iceberg shows its first slice (SHOWN)."""
    if display:
        visible = min(display, leaves)
        e = [oid, visible, account, price, side, leaves - visible, display]
        out += (_SHOWN, oid, leaves, visible, stamp, price, 0)
    else:
        e = [oid, leaves, account, price, side]
    book._index[oid] = e
    levels, keys, key = (
        (book._bids, book._bid_keys, price) if side == 1 else (book._asks, book._ask_keys, -price)
    )
    level = levels.get(price)
    if level is None:
        levels[price] = [0, e]  # [dead, entries...] (book.py)
        insort(keys, key)
    else:
        level.append(e)


def _match(
    book: Book, out: list, oid: int, account: int, side: int, limit: int, remaining: int, m: int
) -> tuple[int, bool]:
    """Match an incoming order against the other side up to ``limit``: (leaves, whether
    self-trade prevention stopped it). The general form of ``OrderBook.submit_into``'s loops."""
    if side == 1:
        keys, levels, sign = book._ask_keys, book._asks, -1
    else:
        keys, levels, sign = book._bid_keys, book._bids, 1
    index, stp, sym, seq = book._index, book.stp, book._sym_id, book._match_seq
    traded = last = 0
    stopped = False
    while remaining and keys and not stopped:
        p = sign * keys[-1]
        if (p > limit) if side == 1 else (p < limit):
            break
        level = levels[p]
        while remaining:
            e = level[1]  # the oldest entry (level[0] is the dead count)
            lv = e[1]
            if lv == 0:  # cancelled: lazily dropped here
                del level[1]
                level[0] -= 1
                continue
            if stp and e[2] == account:
                if stp != _NEWEST:  # the resting order goes
                    del index[e[0]]
                    out += (_CANCELLED, e[0], book.unlink(e), _SELF_TRADE, 0, 0, 0)
                if stp != _OLDEST:  # the incoming order goes
                    stopped = True
                    break
                if p not in levels:  # that was the level's last order
                    break
                continue
            fill = lv if lv <= remaining else remaining
            seq += 1
            out += (
                (_TRADE, sym, seq, oid, e[0], p, fill)
                if side == 1
                else (_TRADE, sym, seq, e[0], oid, p, fill)
            )
            remaining -= fill
            traded += fill
            last = p
            if fill < lv:
                e[1] = lv - fill
                continue
            del level[1]
            if len(e) > 5 and e[5]:
                refill(book, out, e, level, m)
            else:
                del index[e[0]]
            if len(level) == level[0] + 1:
                keys.pop()
                del levels[p]
                break
    book._match_seq = seq
    if traded:
        book._volume += traded
        book._last_price = last
    return remaining, stopped


def refill(book: Book, out: list, e: list, level: list, m: int) -> None:
    """An iceberg's shown slice is filled up: show the next at the back of its level."""
    hidden, display = e[5], e[6]
    visible = display if display < hidden else hidden
    e[1], e[5] = visible, hidden - visible
    level.append(e)
    out += (_SHOWN, e[0], hidden, visible, next_stamp(book, m), e[3], 0)


def _crosses(book: Book, side: int, price: int) -> bool:
    """Whether a limit order at ``price`` would take liquidity now."""
    if side == 1:
        return bool(book._ask_keys) and -book._ask_keys[-1] <= price
    return bool(book._bid_keys) and book._bid_keys[-1] >= price


def _fillable(book: Book, side: int, limit: int, qty: int, account: int) -> bool:
    """Whether matching would fill ``qty`` whole: the book walked as ``_match`` would, with
    icebergs' next slices at the back of their level and self-trade prevention's stops."""
    keys, levels, sign = (book._ask_keys, book._asks, -1) if side == 1 else (book._bid_keys, book._bids, 1)
    stp, need = book.stp, qty
    for k in reversed(keys):
        p = sign * k
        if (p > limit) if side == 1 else (p < limit):
            return False
        queue = deque((e[1], e[5] if len(e) > 5 else 0, e[-1], e[2]) for e in levels[p][1:] if e[1])
        while queue:
            visible, hidden, display, owner = queue.popleft()
            if stp and owner == account:
                if stp != _OLDEST:
                    return False
                continue
            if visible >= need:
                return True
            need -= visible
            if hidden:
                shown = min(display, hidden)
                queue.append((shown, hidden - shown, display, owner))
    return False


# ------------------------------------------------------------------ stops


def hold(book: Book, stop: tuple) -> None:
    """Keep a stop off the book until a trade touches its trigger."""
    if book.held is NO_HELD:  # the book's first stop: a book opens without their containers
        book.held, book.buy_stops, book.sell_stops = {}, [], []
    book.stops_seq = book._match_seq  # the trades before it touched no stop held: none touch it
    oid, side, trigger = stop[0], stop[2], stop[7]
    book.held[oid] = stop
    if side == 1:
        insort(book.buy_stops, (trigger, oid))
    else:
        insort(book.sell_stops, (-trigger, oid))
    _bounds(book)


def _bounds(book: Book) -> None:
    """The lowest buy trigger and the highest sell trigger: what a trade must reach (hot path)."""
    book.stop_lo = book.buy_stops[0][0] if book.buy_stops else NO_BUY_STOP
    book.stop_hi = -book.sell_stops[0][0] if book.sell_stops else NO_SELL_STOP


def cancel_held(book: Book, out: list, cancel_oid: int, target: int) -> None:
    """Cancel a held stop: CANCELLED with its whole quantity, then CANCEL_DONE."""
    stop = book.held.pop(target)
    stops, key = (
        (book.buy_stops, (stop[7], target)) if stop[2] == 1 else (book.sell_stops, (-stop[7], target))
    )
    del stops[bisect_left(stops, key)]
    _bounds(book)
    out += (_CANCELLED, target, stop[6], 0, 0, 0, 0, _CANCEL_DONE, cancel_oid, target, 0, 0, 0, 0)


def after_trades(book: Book, out: list, m: int) -> None:
    """Enter every held stop that the trades of message ``m`` touched, in trigger order, and
    those their own trades touch after them."""
    if book.triggering:
        return  # the loop below is running: it checks again after each stop it enters
    book.triggering = True
    try:
        queue = deque(_touched(book, out, m))
        while queue:
            _enter_stop(book, out, queue.popleft(), m)
            queue.extend(_touched(book, out, m))
    finally:
        book.triggering = False


def _enter_stop(book: Book, out: list, stop: tuple, m: int) -> None:
    oid, account, side, otype, tif, price, qty, _trigger = stop
    stamp = next_stamp(book, m)
    out += (_TRIGGERED, oid, stamp, 0, 0, 0, 0)
    if otype == _STOP:
        _enter(book, out, (oid, account, side, _MARKET, _IOC, 0, qty), 0, stamp, m)
    else:
        _enter(book, out, (oid, account, side, _LIMIT, tif, price, qty), 0, stamp, m)


def _touched(book: Book, out: list, m: int) -> list[tuple]:
    """The held stops the trades since ``stops_seq`` made while handling message ``m`` touched,
    taken off hold, in trigger order: the trade that first touched each, then its id. (Earlier
    trades touched none: a trade that reaches a trigger is checked at once, and a stop held
    later does not look back.)"""
    lo, hi = book.stops_seq, book._match_seq
    book.stops_seq = hi
    if lo == hi or not book.held:
        return []
    trades = _trades_since(out, hi - lo, m)  # (seq, price), oldest first
    if not trades:
        return []
    prices = [p for _s, p in trades]
    buys, sells = book.buy_stops, book.sell_stops
    nb = bisect_right(buys, (max(prices), _TOP))
    ns = bisect_right(sells, (-min(prices), _TOP))
    if not nb and not ns:
        return []
    fired = []
    for trigger, oid in buys[:nb]:
        fired.append((next(s for s, p in trades if p >= trigger), oid))
    for neg, oid in sells[:ns]:
        fired.append((next(s for s, p in trades if p <= -neg), oid))
    del buys[:nb], sells[:ns]
    _bounds(book)
    fired.sort()
    return [book.held.pop(oid) for _seq, oid in fired]


def _trades_since(out: list, n: int, m: int) -> list[tuple[int, int]]:
    """(match_seq, price) of the last ``n`` trade records in ``out`` after the ACK of message
    ``m``, oldest first."""
    found: list[tuple[int, int]] = []
    i = len(out) - 7
    while len(found) < n and i >= 0 and not (out[i] == _ACK and out[i + 1] == m):
        if out[i] == _TRADE:
            found.append((out[i + 2], out[i + 5]))
        i -= 7
    found.reverse()
    return found


# ------------------------------------------------------------------ amends


def amend(book: Book, out: list, amend_oid: int, target: int, price: int, qty: int) -> None:
    """Cancel-replace of the resting order ``target``: new leaves ``qty``, new price ``price``."""
    e = book._index.get(target)
    if e is None:
        if target in book.held:
            reason = RejectReason.NOT_AMENDABLE
        elif target > book._max_oid:
            reason = RejectReason.UNKNOWN_ORDER
        else:
            reason = RejectReason.ORDER_NOT_RESTING
    elif len(e) > 5:
        reason = RejectReason.NOT_AMENDABLE
    elif qty <= 0:
        reason = RejectReason.QTY_NOT_POSITIVE
    elif price <= 0:
        reason = RejectReason.PRICE_NOT_POSITIVE
    elif price != e[3] and _crosses(book, e[4], price):
        reason = RejectReason.WOULD_CROSS
    else:
        old = e[1]
        if price == e[3] and qty <= old:  # fewer shares at the same price: its place is kept
            e[1] = qty
            out += (_AMENDED, amend_oid, target, qty, price, qty - old, 0)
            return
        del book._index[target]
        book.unlink(e)
        stamp = next_stamp(book, amend_oid)
        rest(book, out, target, e[2], e[4], price, qty, 0, stamp)
        out += (_AMENDED, amend_oid, target, qty, price, qty - old, stamp)
        return
    out += (_REJECT, amend_oid, int(reason), 0, 0, 0, 0)


def cancel_account(book: Book, out: list, account: int, upto: int) -> int:
    """The kill switch: cancel every order of ``account`` (-1: of every account) with an id up
    to ``upto``, resting on the book (icebergs' hidden shares too) or held (stops), appending a
    CANCELLED record for each, oldest id first; how many. Orders placed after ``upto`` stay, so
    asking twice changes nothing."""
    mine = [o for o, e in book._index.items() if o <= upto and (account < 0 or e[2] == account)]
    mine += [o for o, s in book.held.items() if o <= upto and (account < 0 or s[1] == account)]
    for oid in sorted(mine):
        e = book._index.pop(oid, None)
        if e is None:  # a held stop
            cancel_held(book, out, 0, oid)
            del out[-7:]  # its CANCEL_DONE: no cancel request asked
        else:
            out += (_CANCELLED, oid, book.unlink(e), 0, 0, 0, 0)
    return len(mine)


# ------------------------------------------------------------------ state


def restore_held(book: Book, held: Iterable[Sequence[int]]) -> None:
    """Hold these stops, as ``held_stops`` lists them; ValueError for a malformed one."""
    stops = [tuple(int(x) for x in s) for s in held]
    for s in stops:
        if len(s) != 8 or s[3] not in (_STOP, _STOP_LIMIT) or check_order(*s[2:8]) is not None:
            raise ValueError(f"malformed held stop {s!r}")
    book.held, book.buy_stops, book.sell_stops = {}, [], []
    for s in stops:
        hold(book, s)
        book._max_oid = max(book._max_oid, s[0])
    _bounds(book)
    book.stops_seq = book._match_seq


def held_stops(book: Book) -> list[tuple]:
    """The held stops as order records without the symbol, by id:
    (oid, account, side, otype, tif, price, qty, trigger)."""
    return [book.held[oid] for oid in sorted(book.held)]
