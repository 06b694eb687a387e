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

if TYPE_CHECKING:
    from simulator.ledger import Ledger

_ACCOUNT, _SYM, _SIDE, _OTYPE, _TIF, _PRICE, _TARGET = 1, 2, 3, 4, 5, 6, 8
_STOP, _STOP_LIMIT, _ICEBERG = 3, 4, 5  # orders.OrderType


def unanswered(ledger: Ledger, sym_ids: Collection[int]) -> np.ndarray:
    """Orders and cancels of these wire symbol ids (``wire.UNKNOWN_SYM`` too) sent and not
    answered yet, in placement order: an (n, 9) array of records ready to send again."""
    window = ledger._window
    _ids, at = window.open_of(sym_ids)  # whole-array: no tuple per order to free
    flow = window.record[at[window.state[at] == SENT]].reshape(-1, wire.ORDER_WIDTH)
    return ledger.outside.merge_unanswered(flow, sym_ids)


def book_states(ledger: Ledger, symbols: Iterable[str]) -> dict[str, tuple]:
    """What each book holds as far as the bank knows: {symbol: (resting, match_seq,
    last_price, max_oid, held)}, resting as (oid, account, side, price, leaves) in priority order
    (bids best first, then asks best first; within a price by ``TypeLedger.priority``: arrival,
    or the event that last put the order at the back of its level), an iceberg's with
    (display, visible) after; held: the stops not triggered, by id, as ``msg.BookState`` takes
    them; max_oid: the highest flow id the book has answered."""
    ids, types = ledger.symbol_ids, ledger.types
    wanted = {ids[s]: s for s in symbols if s in ids}
    resting: dict[str, list[tuple]] = {s: [] for s in wanted.values()}
    held: dict[str, list[tuple]] = {s: [] for s in wanted.values()}
    first_unanswered: dict[str, int] = {}

    def place(
        oid: int, anchor: int | None, r: tuple, leaves: int, stamp: int, flags: int, shown: int
    ) -> None:
        symbol = wanted[r[_SYM]]
        if r[_OTYPE] in (_STOP, _STOP_LIMIT) and not flags & TRIGGERED:
            held[symbol].append(
                (oid, r[_ACCOUNT], r[_SIDE], r[_OTYPE], r[_TIF], r[_PRICE], leaves, r[_TARGET])
            )
            return
        order: tuple = (oid, r[_ACCOUNT], r[_SIDE], r[_PRICE], leaves)
        if r[_OTYPE] == _ICEBERG:
            order += (r[_TARGET], types.visible(r[_TARGET], leaves, shown if flags & SHOWN else leaves))
        resting[symbol].append((types.priority(oid, anchor, stamp), order))

    window = ledger._window
    oids, at = window.open_of(wanted)
    for oid, r, leaves, state, stamp, flags, shown in zip(
        oids.tolist(),
        window.record[at].tolist(),
        window.leaves[at].tolist(),
        window.state[at].tolist(),
        window.stamp[at].tolist(),
        window.flags[at].tolist(),
        window.shown[at].tolist(),
    ):
        if r[_SYM] not in wanted:
            continue
        if state == ACKED:
            place(oid, None, r, leaves, stamp, flags, shown)
        else:
            first_unanswered.setdefault(wanted[r[_SYM]], oid)
    for oid, anchor, r, leaves, state in ledger.outside.open_orders(wanted):
        if state == ACKED:
            place(oid, anchor, r, leaves, 0, 0, 0)
    states: dict[str, tuple] = {}
    for symbol, orders in resting.items():
        # (time key, order): bids by price falling, asks by price rising, then by arrival
        bids = sorted((o for o in orders if o[1][2] > 0), key=lambda o: (-o[1][3], o[0]))
        asks = sorted((o for o in orders if o[1][2] < 0), key=lambda o: (o[1][3], o[0]))
        trade = ledger.last_trade_of(ids[symbol])
        # every order before the first unanswered one was answered (a broker answers in order)
        max_oid = first_unanswered.get(symbol, ledger.max_oid + 1) - 1
        book = tuple(o for _key, o in bids + asks)
        last = trade[5] if trade else None
        states[symbol] = (book, trade[2] if trade else 0, last, max_oid, tuple(held[symbol]))
    if ledger.agents.count:  # each agent's position in each symbol: its inventory (agents.py)
        accounts = np.arange(ledger.agents.count, dtype=np.int64) + ledger.agents.first_account
        for symbol in states:
            held_now = ledger.positions_held.at(np.full(len(accounts), ids[symbol], np.int64), accounts)
            states[symbol] += (tuple(zip(accounts.tolist(), held_now.tolist())),)
    return states
