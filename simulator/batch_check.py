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
from simulator.rows import rows_at

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
    # the orders the events name, found in one look-up: each non-trade event's, then each
    # trade's buy side, then its sell side
    own = ~is_trade
    trade_pos = np.flatnonzero(is_trade)
    tr = rows_at(ev, trade_pos)
    n_tr = len(tr)
    ids = a[own]
    if n_tr:
        sym, seq, qty = tr[:, 1], tr[:, 2], tr[:, 6]
        if sym.min() < 0 or sym.max() >= nsym or qty.min() <= 0:
            return None
        ids = np.concatenate((ids, tr[:, 3], tr[:, 4]))
    found = window.slots(ids)
    if found is None:
        return None
    n_own = len(ids) - 2 * n_tr
    slot = np.zeros(len(ev), np.int64)  # of the order each non-trade event names
    slot[own] = found[:n_own]
    sides = found[n_own:]  # each trade's buy order's slot, then each one's sell order's
    state, record, leaves = window.state, window.record, window.leaves
    # every answer is the first for a SENT order (a cancel for CANCEL_DONE, an order for
    # ACK), once; REJECT may answer either
    ans_slots = slot[answered]
    if np.count_nonzero(state[ans_slots] != SENT) or window.repeats(ans_slots):
        return None
    otype = record[:, _OTYPE]
    ans_cancel = otype[ans_slots] == _CANCEL
    ans_kind = kind[answered]
    if np.count_nonzero(np.where(ans_cancel, ans_kind == _ACK, ans_kind == _CANCEL_DONE)):
        return None  # an order's CANCEL_DONE, a cancel's ACK
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
    bslot = sslot = by_sym = sym_starts = touched = left = last_trade_at = _EMPTY
    if n_tr:
        bslot, sslot = sides[:n_tr], sides[n_tr:]
        both_pos = np.concatenate((trade_pos, trade_pos))  # of each side
        if np.count_nonzero(acked_at(sides) >= both_pos):
            return None
        if np.count_nonzero(otype[sides] == _CANCEL):
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
        if np.count_nonzero(seq_sorted <= previous):
            return None
        sym_starts = np.flatnonzero(first)
        # no fill beyond an order's leaves: per order, what this batch filled before each
        # trade must leave something to fill
        order = np.argsort(sides, kind="stable")
        by_order, fills = sides[order], np.concatenate((qty, qty))[order]
        new_order = np.empty(len(by_order), bool)
        new_order[0] = True
        np.not_equal(by_order[1:], by_order[:-1], out=new_order[1:])
        starts = np.flatnonzero(new_order)
        sizes = np.diff(starts, append=len(by_order))
        cum = np.cumsum(fills)
        base = np.repeat(cum[starts] - fills[starts], sizes)
        if np.count_nonzero(cum - fills - base >= leaves[by_order]):
            return None
        touched = by_order[starts]
        left = leaves[touched] - (cum[starts + sizes - 1] - cum[starts] + fills[starts])
        last_trade_at = np.maximum.reduceat(both_pos[order], starts)
    # CANCELLED: of an order acked before it, once, not filled up here, no trade after it
    cx_slots = slot[is_cxl]
    if len(cx_slots):
        cx_pos = np.flatnonzero(is_cxl)
        if window.repeats(cx_slots):
            return None
        if np.count_nonzero(otype[cx_slots] == _CANCEL) or np.count_nonzero(acked_at(cx_slots) >= cx_pos):
            return None
        if len(touched):
            k = np.minimum(np.searchsorted(touched, cx_slots), len(touched) - 1)
            hit = touched[k] == cx_slots
            if np.count_nonzero(hit & ((left[k] <= 0) | (last_trade_at[k] > cx_pos))):
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
