"""Whether a batch of events is exactly what a broker sends, checked with whole-array operations.

The ledger books a batch kind by kind with whole arrays only if it is well formed (see
``ledger.py``): known kinds, ids in the order window, each order answered once, trades after
the acks of both sides, fills not beyond the leaves, match numbers rising per symbol, and a
CANCELLED only of an order acked before it and not filled up. ``check_batch`` makes every one
of those checks, changing nothing but the window's scratch, and hands back what booking needs
(slots, groupings, leaves after the fills) as a ``CheckedBatch``; or None, and the ledger books
the batch event by event instead. Pure model: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.order_window import ACKED, SENT, OrderWindow
from simulator.orders import Event, OrderType

_ACK, _REJECT, _TRADE = int(Event.ACK), int(Event.REJECT), int(Event.TRADE)
_CANCELLED, _CANCEL_DONE = int(Event.CANCELLED), int(Event.CANCEL_DONE)
_CANCEL = int(OrderType.CANCEL)
_OTYPE = 4  # order record column
_EMPTY = np.zeros(0, np.int64)


@dataclass(frozen=True, slots=True)
class CheckedBatch:
    """A batch that passed every check, with what booking it needs; slots are the window's."""

    ans_slots: np.ndarray  # orders and cancels answered (ACK, CANCEL_DONE, REJECT), in order
    ans_kind: np.ndarray  # the kind of each of those answers
    ans_cancel: np.ndarray  # whether each answered slot holds a cancel request
    is_rej: np.ndarray  # per event: a REJECT
    ack_slots: np.ndarray  # orders acked, in order
    trades: np.ndarray  # the TRADE events, in order
    buy_slots: np.ndarray  # per trade: the buy order's slot
    sell_slots: np.ndarray  # per trade: the sell order's slot
    by_sym: np.ndarray  # trade positions grouped by symbol (match order within)
    sym_starts: np.ndarray  # where each symbol's group starts in ``by_sym``
    touched: np.ndarray  # slots of orders traded, sorted
    left: np.ndarray  # leaves of each ``touched`` order after this batch
    cx_slots: np.ndarray  # orders CANCELLED, in order


def check_batch(
    ev: np.ndarray, window: OrderWindow, token: int, nsym: int, last_seq: np.ndarray
) -> CheckedBatch | None:
    """Check an (n, 7) batch against the window; None if any check fails. ``token`` marks
    the apply() call (for the window's scratch), ``last_seq`` each symbol's last match number."""
    kind, a = ev[:, 0], ev[:, 1]
    is_ack, is_trade = kind == _ACK, kind == _TRADE
    is_cxl, is_done, is_rej = kind == _CANCELLED, kind == _CANCEL_DONE, kind == _REJECT
    answered = is_ack | is_done | is_rej  # each ends an order's or a cancel's SENT state
    if int(np.count_nonzero(answered | is_trade | is_cxl)) != len(ev):
        return None  # an unknown kind
    slot = np.zeros(len(ev), np.int64)  # of the order each non-trade event names
    own = ~is_trade
    if own.any():
        own_slots = window.slots(a[own])
        if own_slots is None:
            return None
        slot[own] = own_slots
    state, record, leaves = window.state, window.record, window.leaves
    # every answer is the first for a SENT order (a cancel for CANCEL_DONE, an order for
    # ACK), once; REJECT may answer either
    ans_slots = slot[answered]
    if np.any(state[ans_slots] != SENT) or window.repeats(ans_slots):
        return None
    ans_cancel = record[ans_slots, _OTYPE] == _CANCEL
    ans_kind = kind[answered]
    if np.any(ans_cancel & (ans_kind == _ACK)) or np.any(~ans_cancel & (ans_kind == _CANCEL_DONE)):
        return None
    ack_pos = np.flatnonzero(is_ack)
    ack_slots = slot[is_ack]
    # scratch, not state: which slots this call acks, and where (read back by acked_at)
    window.scratch_token[ack_slots] = token
    window.scratch_pos[ack_slots] = ack_pos

    def acked_at(slots: np.ndarray) -> np.ndarray:
        """Where in this batch each order was acked: -1 before it, len(ev) not at all."""
        now = np.where(window.scratch_token[slots] == token, window.scratch_pos[slots], len(ev))
        return np.where(state[slots] == ACKED, -1, now)

    # trades: both sides orders acked before the trade, symbol known, match numbers rising
    trade_pos = np.flatnonzero(is_trade)
    tr = ev[is_trade]
    bslot = sslot = by_sym = sym_starts = touched = left = last_trade_at = _EMPTY
    if len(tr):
        sym, seq, buy, sell, qty = tr[:, 1], tr[:, 2], tr[:, 3], tr[:, 4], tr[:, 6]
        if sym.min() < 0 or sym.max() >= nsym or qty.min() <= 0:
            return None
        buy_slots, sell_slots = window.slots(buy), window.slots(sell)
        if buy_slots is None or sell_slots is None:
            return None
        bslot, sslot = buy_slots, sell_slots
        if (acked_at(bslot) >= trade_pos).any() or (acked_at(sslot) >= trade_pos).any():
            return None
        if (record[bslot, _OTYPE] == _CANCEL).any() or (record[sslot, _OTYPE] == _CANCEL).any():
            return None
        # match numbers rise within each symbol, past the last one booked
        by_sym = np.argsort(sym, kind="stable")
        sym_sorted, seq_sorted = sym[by_sym], seq[by_sym]
        first = np.empty(len(sym_sorted), bool)
        first[0] = True
        np.not_equal(sym_sorted[1:], sym_sorted[:-1], out=first[1:])
        previous = np.empty_like(seq_sorted)
        previous[1:] = seq_sorted[:-1]
        previous[first] = np.asarray(last_seq)[sym_sorted[first]]  # never a copy of every symbol's
        if (seq_sorted <= previous).any():
            return None
        sym_starts = np.flatnonzero(first)
        # no fill beyond an order's leaves: per order, what this batch filled before each
        # trade must leave something to fill
        sides = np.concatenate((bslot, sslot))
        order = np.argsort(sides, kind="stable")
        by_order, fills = sides[order], np.concatenate((qty, qty))[order]
        new_order = np.empty(len(by_order), bool)
        new_order[0] = True
        np.not_equal(by_order[1:], by_order[:-1], out=new_order[1:])
        starts = np.flatnonzero(new_order)
        sizes = np.diff(starts, append=len(by_order))
        cum = np.cumsum(fills)
        base = np.repeat(cum[starts] - fills[starts], sizes)
        if np.any(cum - fills - base >= leaves[by_order]):
            return None
        touched = by_order[starts]
        left = leaves[touched] - (cum[starts + sizes - 1] - cum[starts] + fills[starts])
        last_trade_at = np.maximum.reduceat(np.concatenate((trade_pos, trade_pos))[order], starts)
    # CANCELLED: of an order acked before it, once, not filled up here, no trade after it
    cx_slots = slot[is_cxl]
    if len(cx_slots):
        cx_pos = np.flatnonzero(is_cxl)
        if window.repeats(cx_slots):
            return None
        if np.any(record[cx_slots, _OTYPE] == _CANCEL) or np.any(acked_at(cx_slots) >= cx_pos):
            return None
        if len(touched):
            k = np.minimum(np.searchsorted(touched, cx_slots), len(touched) - 1)
            hit = touched[k] == cx_slots
            if np.any(hit & ((left[k] <= 0) | (last_trade_at[k] > cx_pos))):
                return None
    return CheckedBatch(
        ans_slots=ans_slots,
        ans_kind=ans_kind,
        ans_cancel=ans_cancel,
        is_rej=is_rej,
        ack_slots=ack_slots,
        trades=tr,
        buy_slots=bslot,
        sell_slots=sslot,
        by_sym=by_sym,
        sym_starts=sym_starts,
        touched=touched,
        left=left,
        cx_slots=cx_slots,
    )
