"""The ledger's booking of events one by one: the reference its whole-array path must agree
with, and the way for what that path refuses (garbage, repeats, orders in the overflow, a low
rate's small batches). It books into the ledger's own state, as ``Ledger.apply`` would.

Pure model: numpy only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simulator.order_window import ACKED, FREE, NO_DUE, SENT
from simulator.orders import Event, OrderType
from simulator.rejects import CANCEL_REASON

if TYPE_CHECKING:
    from simulator.ledger import Ledger

_ACK, _REJECT, _TRADE = int(Event.ACK), int(Event.REJECT), int(Event.TRADE)
_CANCELLED, _CANCEL_DONE = int(Event.CANCELLED), int(Event.CANCEL_DONE)
_CANCEL = int(OrderType.CANCEL)
_ACCOUNT, _OTYPE = 1, 4  # order record columns


def apply_slowly(
    ledger: Ledger, events: list, now_ns: int, ack_latency, final_latency, held_latency=None
) -> None:
    """``Ledger.apply`` event by event: the reference for its whole-array path, and the path
    for what that refuses (garbage, repeats, orders in the overflow)."""
    named = set()
    for ev in events:
        if ev[0] == _TRADE:
            named.add(ev[3])
            named.add(ev[4])
        else:
            named.add(ev[1])
    entries = ledger._window.load(named)
    outside = ledger.outside.load(named) if len(ledger.outside) else {}
    token = ledger._batch_token
    symbols, nsym = ledger.symbols, len(ledger.symbols)
    moves: list[tuple[int, int, int, int, int]] = []  # (sym, buyer, seller, price, qty)
    ack_times: dict[int, int] = {}
    acked: list[int] = []  # the slots of the window's orders acked, when held ones count apart
    final_times: dict[int, int] = {}
    trade_rows: dict[int, list] = {}
    get = {**entries, **outside}.get if outside else entries.get
    unknown = filled = 0
    for ev in events:
        kind, x = ev[0], ev[1]
        if kind == _ACK:
            e = get(x)
            if e is None or e.state != SENT or e.record[_OTYPE] == _CANCEL:
                unknown += 1
                continue
            e.state, e.token = ACKED, token
            ledger.acked += 1
            ack_times[e.due] = ack_times.get(e.due, 0) + 1
            if held_latency is not None and x in entries:
                acked.append(e.slot)
        elif kind == _TRADE:
            _k, sym, seq, buy_oid, sell_oid, price, qty = ev
            buy, sell = get(buy_oid), get(sell_oid)
            if (
                buy is None
                or sell is None
                or buy.state != ACKED
                or sell.state != ACKED
                or not 0 <= sym < nsym
                or qty <= 0
                or seq <= (trade_rows[sym][-1][0] if sym in trade_rows else ledger._last_seq[sym])
            ):
                unknown += 1
                continue
            ledger.trades += 1
            ledger.volume += qty
            moves.append((sym, buy.record[_ACCOUNT], sell.record[_ACCOUNT], price, qty))
            trade_rows.setdefault(sym, []).append((seq, buy_oid, sell_oid, price, qty))
            ledger._recent.append((_TRADE, symbols[sym], seq, buy_oid, sell_oid, price, qty))
            for e in (buy, sell):
                e.leaves -= qty
                if e.leaves <= 0:
                    e.state = FREE
                    filled += 1
                    if e.token == token:
                        final_times[e.due] = final_times.get(e.due, 0) + 1
        elif kind == _CANCELLED:
            e = get(x)
            if e is None or e.state != ACKED or e.record[_OTYPE] == _CANCEL:
                unknown += 1
                continue
            e.state = FREE
            ledger.cancelled += 1
            if e.token == token:
                final_times[e.due] = final_times.get(e.due, 0) + 1
        elif kind == _CANCEL_DONE:
            e = get(x)
            if e is None or e.state != SENT or e.record[_OTYPE] != _CANCEL:
                unknown += 1
                continue
            e.state = FREE
            ledger.cancels_done += 1
        elif kind == _REJECT:
            e = get(x)
            if e is None or e.state != SENT:
                unknown += 1
                continue
            e.state = FREE
            ledger.outside.note_reject(x, ev[2])  # an order of yours keeps it, for views
            reason = ev[2] + CANCEL_REASON * (e.record[_OTYPE] == _CANCEL)
            ledger.reject_reasons[reason] = ledger.reject_reasons.get(reason, 0) + 1
            if reason > CANCEL_REASON:
                ledger.cancels_rejected += 1
            else:
                ledger.rejected += 1
                final_times[e.due] = final_times.get(e.due, 0) + 1
        else:
            unknown += 1
    ledger.filled += filled
    ledger.unknown_events += unknown
    if moves:
        sym, buyer, seller, price, qty = np.array(moves, np.int64).T
        ledger._positions.move(sym, buyer, seller, qty)
        np.subtract.at(ledger._cash, buyer, price * qty)
        np.add.at(ledger._cash, seller, price * qty)
    for sym, rows in trade_rows.items():
        ledger._digest.update_rows(sym, rows)
        ledger._last_trade[sym] = rows[-1]
    for times in (ack_times, final_times):  # agents' orders: born at their book, no latency
        times.pop(NO_DUE, None)
    for t, n in ack_times.items():
        ack_latency.record((now_ns - t) // 1000, n)
    ledger._record_held(held_latency, np.array(acked, np.int64), now_ns)
    if final_latency is not None:
        for t, n in final_times.items():
            final_latency.record((now_ns - t) // 1000, n)
    ledger._window.store(entries)
    ledger.outside.settle(outside)
