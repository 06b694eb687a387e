"""What a restarted broker needs from the ledger: its books as the bank knows them, and the
orders of its shard not answered yet, the flow's and those from outside it in arrival order.

A book keeps arrival order within a price, and the flow's ids are arrival order; an order from
outside the flow (``outside_orders.py``) arrived right behind the flow order it is anchored to.
So both lists sort every order by ``outside_orders.priority``, and the new broker rebuilds the
book its predecessor had and sees the unanswered orders in the order its predecessor would
have. Pure model: reads the ledger, changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

import numpy as np

from simulator import wire
from simulator.order_window import ACKED, SENT, SHOWN, TRIGGERED
from simulator.orders import STAMP_SHIFT

if TYPE_CHECKING:
    from simulator.ledger import Ledger
    from simulator.ledger_types import TypeLedger

_ACCOUNT, _SYM, _SIDE, _OTYPE, _TIF, _PRICE, _TARGET = 1, 2, 3, 4, 5, 6, 8
_STOP, _STOP_LIMIT, _ICEBERG = 3, 4, 5  # orders.OrderType
_STAMP_K = (1 << STAMP_SHIFT) - 1  # a stamp's place among its message's stamps


def unanswered(ledger: Ledger, sym_ids: Collection[int]) -> np.ndarray:
    """Orders and cancels of these wire symbol ids (``wire.UNKNOWN_SYM`` too) sent and not
    answered yet, in placement order: an (n, 9) array of records ready to send again."""
    window = ledger._window
    _ids, at = window.open_of(sym_ids)  # whole-array: no tuple per order to free
    flow = window.record[at[window.state[at] == SENT]].reshape(-1, wire.ORDER_WIDTH)
    return ledger.outside.merge_unanswered(flow, sym_ids)


def book_states(ledger: Ledger, symbols: Iterable[str]) -> dict[str, tuple]:
    """What each book holds as far as the bank knows: {symbol: (resting, match_seq,
    last_price, max_oid, held)}, resting as int64 records (``wire.RESTORE_WIDTH``: oid,
    account, side, price, leaves, and an iceberg's display and visible, 0 for other orders) in
    priority order (bids best first, then asks best first; within a price by
    ``TypeLedger.priority``: arrival, or the event that last put the order at the back of its
    level); held: the stops not triggered, by id, as int64 records (``wire.HELD_WIDTH``);
    max_oid: the highest flow id the book has answered. ``wire.resting_orders`` and
    ``wire.held_stops`` read them back as tuples.

    Chosen, sorted and packed with array operations: no Python object is made per order. A
    restart every few seconds of a shard with thousands of resting orders otherwise made a
    burst of small objects each time (a list, a tuple and a key per order, then a tuple and
    its ints), for which the interpreter took new arenas of memory that a few objects made
    meanwhile then kept: the bank's resident memory crept up with each restart."""
    ids, types = ledger.symbol_ids, ledger.types
    wanted = {ids[s]: s for s in symbols if s in ids}
    window = ledger._window
    oids, at = window.open_of(wanted)
    record, state = window.record[at], window.state[at]
    leaves, stamp, flags, shown = window.leaves[at], window.stamp[at], window.flags[at], window.shown[at]
    # every order before a book's first unanswered one was answered (a broker answers in order)
    sent = state != ACKED
    first_unanswered = dict(zip(record[sent, _SYM][::-1].tolist(), oids[sent][::-1].tolist()))
    acked = ~sent
    oids, record, leaves = oids[acked], record[acked], leaves[acked]
    stamp, flags, shown = stamp[acked], flags[acked], shown[acked]
    anchor = np.full(len(oids), -1, np.int64)  # the flow's orders have none (-1)
    outside = [o for o in ledger.outside.open_orders(wanted) if o[4] == ACKED]  # after, in id order
    if outside:
        zero = np.zeros(len(outside), np.int64)
        oids = np.concatenate((oids, np.array([o[0] for o in outside], np.int64)))
        anchor = np.concatenate((anchor, np.array([o[1] for o in outside], np.int64)))
        record = np.concatenate((record, np.array([o[2] for o in outside], np.int64)))
        leaves = np.concatenate((leaves, np.array([o[3] for o in outside], np.int64)))
        stamp, flags, shown = (np.concatenate((a, zero.astype(a.dtype))) for a in (stamp, flags, shown))
    otype, sym = record[:, _OTYPE], record[:, _SYM]
    held = ((otype == _STOP) | (otype == _STOP_LIMIT)) & (flags & TRIGGERED == 0)
    held_rows = np.column_stack(
        (oids, record[:, [_ACCOUNT, _SIDE, _OTYPE, _TIF, _PRICE]], leaves, record[:, _TARGET])
    )
    held_at = np.flatnonzero(held)
    rest = np.flatnonzero(~held & (record[:, _SIDE] != 0))
    keys = _priority_keys(types, oids[rest], anchor[rest], stamp[rest])
    side, price = record[rest, _SIDE], record[rest, _PRICE]
    # by symbol, then bids before asks, bids by price falling and asks rising, then priority
    order = np.lexsort((*keys[::-1], np.where(side > 0, -price, price), side < 0, sym[rest]))
    rest = rest[order]
    rest_sym, held_sym = sym[rest], sym[held_at]
    r = record[rest]
    iceberg = r[:, _OTYPE] == _ICEBERG
    at_show = np.where(flags[rest] & SHOWN != 0, shown[rest], leaves[rest])
    display = r[:, _TARGET]
    visible = np.minimum(display, at_show) - (at_show - leaves[rest])  # TypeLedger.visible
    books = np.column_stack(
        (oids[rest], r[:, _ACCOUNT], r[:, _SIDE], r[:, _PRICE], leaves[rest])
        + (np.where(iceberg, display, 0), np.where(iceberg, visible, 0))
    ).astype(np.int64)
    held_rows = held_rows.astype(np.int64)
    states: dict[str, tuple] = {}
    for sym_id, symbol in wanted.items():
        lo, hi = np.searchsorted(rest_sym, [sym_id, sym_id + 1])
        book = books[lo:hi].tobytes()  # wire.RESTORE_WIDTH records
        stops = held_rows[held_at[held_sym == sym_id]].tobytes()  # wire.HELD_WIDTH records
        trade = ledger.last_trade_of(sym_id)
        max_oid = first_unanswered.get(sym_id, ledger.max_oid + 1) - 1
        last = trade[5] if trade else None
        states[symbol] = (book, trade[2] if trade else 0, last, max_oid, stops)
    if ledger.agents.count:  # each agent's position in each symbol: its inventory (agents.py)
        accounts = np.arange(ledger.agents.count, dtype=np.int64) + ledger.agents.first_account
        for symbol in states:
            held_now = ledger.positions_held.at(np.full(len(accounts), ids[symbol], np.int64), accounts)
            states[symbol] += (tuple(zip(accounts.tolist(), held_now.tolist())),)
    return states


def _priority_keys(types: TypeLedger, oids: np.ndarray, anchor: np.ndarray, stamp: np.ndarray) -> tuple:
    """``TypeLedger.priority`` of each order as four arrays (the tuple's places): the message
    that last put it at the back of its level (itself when ``stamp`` is 0) by arrival
    (``outside_ids.priority``: a flow id, or an outside one's anchor, 1, its id), then which of
    that message's stamps it was."""
    stamped = stamp != 0
    message = np.where(stamped, stamp >> STAMP_SHIFT, oids)
    behind = np.where(stamped, -1, anchor)  # an order's own anchor counts when not stamped
    for m in np.unique(message[stamped]).tolist():  # few: the messages that stamped orders
        a = types.anchors.get(m)
        if a is not None:
            behind[message == m] = a
    outside = behind >= 0
    first = np.where(outside, behind, message)
    return (
        first,
        outside.astype(np.int64),
        np.where(outside, message, 0),
        np.where(stamped, stamp & _STAMP_K, 0),
    )
