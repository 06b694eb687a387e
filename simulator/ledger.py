"""The bank's ledger: the state of every order it placed, positions and cash, and reconciliation.

Pure model: events in, counts out; the caller passes the clock reading. Orders and events are
wire records (see ``wire.py``): ``place`` takes an (n, 9) int64 array of orders and ``apply`` an
(n, 7) int64 array of one broker's events, or the readable tuples of ``orders.py`` (which are
turned into records first: tests and slow paths use them).

Where an order lives. Order ids grow by one per message, so the orders of the last ``WINDOW``
ids sit in plain arrays at slot ``oid % WINDOW`` (the order record, its leaves, when it was due,
its state). An order still open when the window moves past its id (it rested long, or a broker
was down for a while) moves to a slot past the window, found through the dict ``_overflow``;
memory follows the orders in flight and resting, not the length of the run.

How a batch of events is booked. A broker answers each order in causal order (ACK before its
trades, trades before the CANCELLED of the rest), so a batch can be booked kind by kind with
whole-array operations. ``_apply_fast`` first checks that the batch is exactly what a broker
sends (known kinds, ids in the window, each order answered once, trades after acks, fills not
beyond the leaves, match numbers rising) and books it only if every check passes. Anything
else (garbage, repeats) goes to ``_apply_slowly``, which books event by event
and counts what it cannot book in ``unknown_events``: the reference the fast path must agree
with (tests check that it does).

Invariant checked by ``reconcile``:
    placed = filled + cancelled + rejected + resting + lost, with lost == 0,
    every symbol's positions sum to 0, and cash sums to 0.
Cancel requests are not orders (as in FIX): they are counted apart, each answered once.
"""
from __future__ import annotations

import hashlib
import struct
from collections import deque
from dataclasses import dataclass, field
from itertools import chain
from typing import Iterable, Mapping

import numpy as np

from simulator import wire
from simulator.orders import Event, OrderType, RejectReason

_ACK, _REJECT, _TRADE = int(Event.ACK), int(Event.REJECT), int(Event.TRADE)
_CANCELLED, _CANCEL_DONE = int(Event.CANCELLED), int(Event.CANCEL_DONE)
_CANCEL = int(OrderType.CANCEL)
_DUE_QUANTUM_NS = 100_000

WINDOW = 1 << 17  # order ids kept in arrays; older open orders move to the spill dict
_MASK = WINDOW - 1
_FREE, _SENT, _ACKED = 0, 1, 2  # an order's state in the window: final (or never), sent, acked
# order record columns
_OID, _ACCOUNT, _SYM, _SIDE, _OTYPE, _TIF, _PRICE, _QTY, _TARGET = range(9)
_RECENT = 12
_FAST_MIN_EVENTS = 200  # below this a batch is booked event by event (see apply)
_FEW = 8  # at most this many orders are placed item by item (see _place_few)
_OVERFLOW = 1 << 12  # first slots for old open orders; grows when full


@dataclass
class Reconciliation:
    placed: int
    filled: int
    cancelled: int
    rejected: int
    resting: int
    lost: int
    lost_ids: list[int]
    cancels_lost: int
    positions_balanced: bool
    cash_balanced: bool
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.cancels_lost == 0
            and self.positions_balanced
            and self.cash_balanced
            and not self.mismatches
            and self.placed == self.filled + self.cancelled + self.rejected + self.resting
        )


class _Entry:
    """One open order as the slow path handles it, loaded from its slot and stored back."""

    __slots__ = ("slot", "record", "leaves", "due", "state", "token")

    def __init__(self, slot: int, record: tuple, leaves: int, due: int, state: int, token: int):
        self.slot = slot
        self.record = record
        self.leaves = leaves
        self.due = due
        self.state = state
        self.token = token  # the apply() call that acked it, for due->final latency


class Ledger:
    def __init__(self, symbols: Iterable[str], accounts: int) -> None:
        self.symbols = tuple(symbols)
        self.symbol_ids = {s: i for i, s in enumerate(self.symbols)}
        self.accounts = accounts
        self.placed = self.acked = self.filled = self.cancelled = self.rejected = 0
        self.cancels_sent = self.cancels_done = self.cancels_rejected = 0
        self.trades = self.volume = 0
        self.working = 0  # acked, not final: resting on a book as far as the bank knows
        self.unanswered_count = 0  # orders and cancels sent, neither acked nor refused yet
        self.unknown_events = 0
        self.reject_reasons: dict[int, int] = {}
        self.max_oid = 0
        nsym = len(self.symbols)
        self._positions = np.zeros((nsym, accounts), np.int64)
        self._cash = np.zeros(accounts, np.int64)  # in ticks x shares
        self._digests = [hashlib.sha256() for _ in self.symbols]
        self._last_seq = [0] * nsym  # match_seq of each symbol's latest trade
        self.last_trade: dict[str, tuple] = {}  # symbol -> its latest TRADE event, readable
        self._recent: deque[tuple] = deque(maxlen=_RECENT)
        # the window: ids lo <= oid < hi live at oid & _MASK
        self._lo = self._hi = 0
        self._allocate(WINDOW + _OVERFLOW)
        self._overflow: dict[int, int] = {}  # oid -> slot past the window, for old open orders
        self._free_overflow = list(range(WINDOW + _OVERFLOW - 1, WINDOW - 1, -1))
        self._batch_token = 0

    # -- placing ------------------------------------------------------------------------

    def place(self, orders, t_ns: int, step_ns: int = 0) -> None:
        """Record orders as sent (ids rising); the first was due at ``t_ns``, each next one
        ``step_ns`` later.

        Due times are kept to 0.1 ms, so orders due together share one time and the latency
        histograms are touched once per distinct time, not once per order.
        """
        rows = self._as_orders(orders)
        n = len(rows)
        if not n:
            return
        if n <= _FEW and self._place_few(rows.tolist(), t_ns, step_ns):
            return
        oids = rows[:, _OID]
        if n > 1 and not (oids[1:] > oids[:-1]).all():
            rows = rows[np.argsort(oids, kind="stable")]
            oids = rows[:, _OID]
            if not (oids[1:] > oids[:-1]).all():
                raise ValueError("an order id placed twice")
        first, last = int(oids[0]), int(oids[-1])
        if self._hi == 0:
            self._lo = first
        if first < self._lo or last - first >= WINDOW // 2:
            raise ValueError(f"order ids {first}..{last} are not new (ids so far {self._hi - 1})")
        slots = oids & _MASK
        if first < self._hi and (self._state[slots] != _FREE).any():
            raise ValueError("an order id placed twice")
        self._make_room(max(self._hi, last + 1))
        is_cancel = rows[:, _OTYPE] == _CANCEL
        self._record[slots] = rows
        self._leaves[slots] = np.where(is_cancel, 0, rows[:, _QTY])
        if step_ns:
            steps = np.arange(n, dtype=np.int64) * step_ns
            self._due[slots] = t_ns + steps // _DUE_QUANTUM_NS * _DUE_QUANTUM_NS
        else:
            self._due[slots] = t_ns
        self._state[slots] = _SENT
        cancels = int(np.count_nonzero(is_cancel))
        self.cancels_sent += cancels
        self.placed += n - cancels
        self.unanswered_count += n
        self.max_oid = max(self.max_oid, last)

    def _place_few(self, rows: list[list[int]], t_ns: int, step_ns: int) -> bool:
        """``place`` for a handful of orders with new, rising ids (a low rate places one or two
        a tick): item by item, since a whole-array step costs more than the few items here.
        False, with nothing done, for anything else."""
        first, last = rows[0][_OID], rows[-1][_OID]
        if first < self._hi or last - first >= WINDOW // 2:
            return False
        for a, b in zip(rows, rows[1:]):
            if b[_OID] <= a[_OID]:
                return False
        if self._hi == 0:
            self._lo = first
        self._make_room(last + 1)
        record, leaves, due, state = self._record, self._leaves, self._due, self._state
        cancels = 0
        for i, row in enumerate(rows):
            slot = row[_OID] & _MASK
            record[slot] = row
            if row[_OTYPE] == _CANCEL:
                cancels += 1
                leaves[slot] = 0
            else:
                leaves[slot] = row[_QTY]
            due[slot] = t_ns + (i * step_ns) // _DUE_QUANTUM_NS * _DUE_QUANTUM_NS if step_ns else t_ns
            state[slot] = _SENT
        self.cancels_sent += cancels
        self.placed += len(rows) - cancels
        self.unanswered_count += len(rows)
        self.max_oid = max(self.max_oid, last)
        return True

    def place_local_reject(self, order, reason: RejectReason) -> None:
        """An order the bank refuses itself, without sending it: it is placed and rejected."""
        oid, otype = int(order[_OID]), int(order[_OTYPE])
        self.max_oid = max(self.max_oid, oid)
        if otype == _CANCEL:
            self.cancels_sent += 1
            self.cancels_rejected += 1
        else:
            self.placed += 1
            self.rejected += 1
        self.reject_reasons[int(reason)] = self.reject_reasons.get(int(reason), 0) + 1

    def _allocate(self, size: int) -> None:
        """(Re)size the slot arrays, keeping what they hold."""
        old = getattr(self, "_state", None)
        grown = []
        for name, shape, dtype in (
            ("_record", (size, wire.ORDER_WIDTH), np.int64),
            ("_leaves", (size,), np.int64),
            ("_due", (size,), np.int64),
            ("_state", (size,), np.int8),
            ("_ack_token", (size,), np.int64),  # the apply() call that acked the order
            ("_stamp", (size,), np.int64),  # scratch for finding repeats (see _repeats)
            ("_scratch_token", (size,), np.int64),  # scratch: acked by this call (_apply_fast)
            ("_scratch_pos", (size,), np.int64),  # scratch: where in the batch it was acked
        ):
            a = np.zeros(shape, dtype)
            if old is not None:
                a[: len(old)] = getattr(self, name)
            grown.append((name, a))
        for name, a in grown:
            setattr(self, name, a)

    def _make_room(self, new_hi: int) -> None:
        """Move the window so that ids up to ``new_hi`` - 1 fit; what is still open in the part
        it leaves moves to overflow slots, and overflow slots of final orders are freed."""
        if new_hi - self._lo > WINDOW:
            new_lo = new_hi - WINDOW + WINDOW // 4  # move by a quarter at least: amortised
            if self._overflow:
                oids = np.fromiter(self._overflow, np.int64, len(self._overflow))
                slots = np.fromiter(self._overflow.values(), np.int64, len(self._overflow))
                final = self._state[slots] == _FREE
                for oid in oids[final].tolist():
                    del self._overflow[oid]
                self._free_overflow.extend(slots[final].tolist())
            gone = np.arange(self._lo, min(new_lo, self._hi), dtype=np.int64)
            slots = gone & _MASK
            still_open = np.flatnonzero(self._state[slots])
            if len(still_open) > len(self._free_overflow):
                size = len(self._state)
                self._allocate(size + max(size - WINDOW, len(still_open)))
                self._free_overflow.extend(range(len(self._state) - 1, size - 1, -1))
            for i in still_open.tolist():
                src, dst = int(slots[i]), self._free_overflow.pop()
                for a in (self._record, self._leaves, self._due, self._state, self._ack_token):
                    a[dst] = a[src]
                self._overflow[int(gone[i])] = dst
            self._state[slots] = _FREE
            self._lo = new_lo
        self._hi = new_hi

    def _slots(self, oids: np.ndarray) -> np.ndarray | None:
        """The slot of each order id, or None if one names no order the ledger holds."""
        slots = oids & _MASK
        outside = (oids < self._lo) | (oids >= self._hi)
        if not outside.any():
            return slots
        get = self._overflow.get
        for i in np.flatnonzero(outside).tolist():
            slot = get(int(oids[i]))
            if slot is None:
                return None
            slots[i] = slot
        return slots

    # -- results ----------------------------------------------------------------------------

    def apply(self, events, now_ns: int, ack_latency, final_latency=None) -> None:
        """Book a broker's events, in the order it sent them. Latencies (due -> now, in us) go
        to ``ack_latency.record(us, times)`` for acks and to ``final_latency`` for orders that
        reached their final state without resting (IOC, market, filled on arrival, rejected).
        An event that is malformed, unknown or seen before is counted in ``unknown_events``
        and changes nothing."""
        ev = self._as_events(events)
        if not len(ev):
            return
        self._batch_token += 1
        # a whole-array step costs several microseconds here however short the array: small
        # batches (a low rate) are cheaper event by event
        if len(ev) < _FAST_MIN_EVENTS or not self._apply_fast(ev, now_ns, ack_latency, final_latency):
            self._apply_slowly(ev.tolist(), now_ns, ack_latency, final_latency)

    def _apply_fast(self, ev: np.ndarray, now_ns: int, ack_latency, final_latency) -> bool:
        """Book a well-formed batch with whole-array operations; False (nothing changed) if
        any check fails. Every check comes before the first change."""
        kind, a = ev[:, 0], ev[:, 1]
        is_ack, is_trade = kind == _ACK, kind == _TRADE
        is_cxl, is_done, is_rej = kind == _CANCELLED, kind == _CANCEL_DONE, kind == _REJECT
        answered = is_ack | is_done | is_rej  # each ends an order's or a cancel's SENT state
        if int(np.count_nonzero(answered | is_trade | is_cxl)) != len(ev):
            return False  # an unknown kind
        slot = np.zeros(len(ev), np.int64)  # of the order each non-trade event names
        own = ~is_trade
        if own.any():
            own_slots = self._slots(a[own])
            if own_slots is None:
                return False
            slot[own] = own_slots
        state, record = self._state, self._record
        # every answer is the first for a SENT order (a cancel for CANCEL_DONE, an order for
        # ACK), once; REJECT may answer either
        ans_slots = slot[answered]
        if np.any(state[ans_slots] != _SENT) or self._repeats(ans_slots):
            return False
        ans_cancel = record[ans_slots, _OTYPE] == _CANCEL
        ans_kind = kind[answered]
        if np.any(ans_cancel & (ans_kind == _ACK)) or np.any(~ans_cancel & (ans_kind == _CANCEL_DONE)):
            return False
        ack_pos = np.flatnonzero(is_ack)
        ack_slots = slot[is_ack]
        # scratch, not state: which slots this call acks, and where (read back by acked_at)
        token = self._batch_token
        self._scratch_token[ack_slots] = token
        self._scratch_pos[ack_slots] = ack_pos

        def acked_at(slots: np.ndarray) -> np.ndarray:
            """Where in this batch each order was acked: -1 before it, len(ev) not at all."""
            now = np.where(self._scratch_token[slots] == token, self._scratch_pos[slots], len(ev))
            return np.where(state[slots] == _ACKED, -1, now)

        # trades: both sides orders acked before the trade, symbol known, match numbers rising
        trade_pos = np.flatnonzero(is_trade)
        tr = ev[is_trade]
        touched = left = last_trade_at = np.zeros(0, np.int64)
        if len(tr):
            sym, seq, buy, sell, price, qty = (tr[:, i] for i in range(1, 7))
            if sym.min() < 0 or sym.max() >= len(self.symbols) or qty.min() <= 0:
                return False
            bslot, sslot = self._slots(buy), self._slots(sell)
            if bslot is None or sslot is None:
                return False
            if (acked_at(bslot) >= trade_pos).any() or (acked_at(sslot) >= trade_pos).any():
                return False
            if (record[bslot, _OTYPE] == _CANCEL).any() or (record[sslot, _OTYPE] == _CANCEL).any():
                return False
            # match numbers rise within each symbol, past the last one booked
            by_sym = np.argsort(sym, kind="stable")
            sym_sorted, seq_sorted = sym[by_sym], seq[by_sym]
            first = np.empty(len(sym_sorted), bool)
            first[0] = True
            np.not_equal(sym_sorted[1:], sym_sorted[:-1], out=first[1:])
            previous = np.empty_like(seq_sorted)
            previous[1:] = seq_sorted[:-1]
            previous[first] = np.array(self._last_seq, np.int64)[sym_sorted[first]]
            if (seq_sorted <= previous).any():
                return False
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
            if np.any(cum - fills - base >= self._leaves[by_order]):
                return False
            touched = by_order[starts]
            left = self._leaves[touched] - (cum[starts + sizes - 1] - cum[starts] + fills[starts])
            last_trade_at = np.maximum.reduceat(np.concatenate((trade_pos, trade_pos))[order], starts)
        # CANCELLED: of an order acked before it, once, not filled up here, no trade after it
        cx_slots = slot[is_cxl]
        if len(cx_slots):
            cx_pos = np.flatnonzero(is_cxl)
            if self._repeats(cx_slots):
                return False
            if np.any(record[cx_slots, _OTYPE] == _CANCEL) or np.any(acked_at(cx_slots) >= cx_pos):
                return False
            if len(touched):
                k = np.minimum(np.searchsorted(touched, cx_slots), len(touched) - 1)
                hit = touched[k] == cx_slots
                if np.any(hit & ((left[k] <= 0) | (last_trade_at[k] > cx_pos))):
                    return False
        # -- every check passed: book it ------------------------------------------------------
        token_final: list[np.ndarray] = []  # final now: count due->final if acked now
        rejected_slots = ans_slots[:0]
        if len(ack_slots):
            state[ack_slots] = _ACKED
            self._ack_token[ack_slots] = token
            self._record_latency(ack_latency, self._due[ack_slots], now_ns)
        filled = 0
        if len(tr):
            acct_b, acct_s = record[bslot, _ACCOUNT], record[sslot, _ACCOUNT]
            pos = self._positions
            np.add.at(pos, (sym, acct_b), qty)
            np.subtract.at(pos, (sym, acct_s), qty)
            notional = price * qty
            np.subtract.at(self._cash, acct_b, notional)
            np.add.at(self._cash, acct_s, notional)
            self._leaves[touched] = left
            done = touched[left <= 0]
            state[done] = _FREE
            filled = len(done)
            token_final.append(done)
            self.trades += len(tr)
            self.volume += int(qty.sum())
            self._book_trades(tr[by_sym], np.flatnonzero(first))
            self._recent.extend((_TRADE, self.symbols[r[1]], *r[2:7]) for r in tr[-_RECENT:].tolist())
        if len(cx_slots):
            state[cx_slots] = _FREE
            token_final.append(cx_slots)
        rej = ans_kind == _REJECT
        if np.any(rej):
            reasons = ev[is_rej, 2]
            for r, n in zip(*np.unique(reasons, return_counts=True)):
                self.reject_reasons[int(r)] = self.reject_reasons.get(int(r), 0) + int(n)
            rejected_orders = int(np.count_nonzero(rej & ~ans_cancel))
            self.rejected += rejected_orders
            self.cancels_rejected += int(np.count_nonzero(rej & ans_cancel))
            rejected_slots = ans_slots[rej & ~ans_cancel]
        self.cancels_done += int(np.count_nonzero(ans_kind == _CANCEL_DONE))
        state[ans_slots[ans_kind != _ACK]] = _FREE
        acked = len(ack_slots)
        self.acked += acked
        self.filled += filled
        self.cancelled += len(cx_slots)
        self.working += acked - filled - len(cx_slots)
        self.unanswered_count -= len(ans_slots)
        if final_latency is not None:
            # due->final counts only orders that never rested: acked in this batch, or rejected
            finals = np.concatenate([rejected_slots] + [
                f[self._ack_token[f] == token] for f in token_final
            ])
            self._record_latency(final_latency, self._due[finals], now_ns)
        return True

    def _repeats(self, slots: np.ndarray) -> bool:
        """Whether a slot comes twice: stamp each slot with its position, read the stamps back."""
        at = np.arange(len(slots))
        self._stamp[slots] = at
        return bool((self._stamp[slots] != at).any())

    @staticmethod
    def _record_latency(histogram, due: np.ndarray, now_ns: int) -> None:
        if len(due) and due[0] == due.min() == due.max():  # all due together: the usual case
            histogram.record((now_ns - int(due[0])) // 1000, len(due))
        elif len(due):
            times, counts = np.unique(due, return_counts=True)
            for t, n in zip(times.tolist(), counts.tolist()):
                histogram.record((now_ns - t) // 1000, n)

    def _book_trades(self, by_symbol: np.ndarray, starts: np.ndarray) -> None:
        """The digest, last trade and tape of a fast-path batch's trades, already booked;
        ``by_symbol`` holds them grouped by symbol (match order within), groups at ``starts``."""
        symbols = self.symbols
        bounds = starts.tolist() + [len(by_symbol)]
        for start, end in zip(bounds, bounds[1:]):
            rows = by_symbol[start:end]
            last = rows[-1].tolist()
            s = last[1]
            self._digests[s].update(np.ascontiguousarray(rows[:, 2:7]).tobytes())
            self._last_seq[s] = last[2]
            self.last_trade[symbols[s]] = (_TRADE, symbols[s], *last[2:7])

    def _apply_slowly(self, events: list, now_ns: int, ack_latency, final_latency) -> None:
        """Book events one by one: the reference for ``_apply_fast``, and the path for what
        it refuses (garbage, repeats, orders in the spill)."""
        entries = self._load(events)
        token = self._batch_token
        digests, last_seq = self._digests, self._last_seq
        symbols, nsym = self.symbols, len(self.symbols)
        moves: list[tuple[int, int, int, int, int]] = []  # (sym, buyer, seller, price, qty)
        ack_times: dict[int, int] = {}
        final_times: dict[int, int] = {}
        trade_rows: dict[int, list] = {}
        get = entries.get
        unknown = filled = 0
        for ev in events:
            kind, x = ev[0], ev[1]
            if kind == _ACK:
                e = get(x)
                if e is None or e.state != _SENT or e.record[_OTYPE] == _CANCEL:
                    unknown += 1
                    continue
                e.state, e.token = _ACKED, token
                self.acked += 1
                self.working += 1
                self.unanswered_count -= 1
                ack_times[e.due] = ack_times.get(e.due, 0) + 1
            elif kind == _TRADE:
                _k, sym, seq, buy_oid, sell_oid, price, qty = ev
                buy, sell = get(buy_oid), get(sell_oid)
                if (
                    buy is None
                    or sell is None
                    or buy.state != _ACKED
                    or sell.state != _ACKED
                    or not 0 <= sym < nsym
                    or qty <= 0
                    or seq <= last_seq[sym]
                ):
                    unknown += 1
                    continue
                last_seq[sym] = seq
                self.trades += 1
                self.volume += qty
                moves.append((sym, buy.record[_ACCOUNT], sell.record[_ACCOUNT], price, qty))
                trade_rows.setdefault(sym, []).append((seq, buy_oid, sell_oid, price, qty))
                readable = (_TRADE, symbols[sym], seq, buy_oid, sell_oid, price, qty)
                self.last_trade[symbols[sym]] = readable
                self._recent.append(readable)
                for e in (buy, sell):
                    e.leaves -= qty
                    if e.leaves <= 0:
                        e.state = _FREE
                        filled += 1
                        if e.token == token:
                            final_times[e.due] = final_times.get(e.due, 0) + 1
            elif kind == _CANCELLED:
                e = get(x)
                if e is None or e.state != _ACKED or e.record[_OTYPE] == _CANCEL:
                    unknown += 1
                    continue
                e.state = _FREE
                self.cancelled += 1
                self.working -= 1
                if e.token == token:
                    final_times[e.due] = final_times.get(e.due, 0) + 1
            elif kind == _CANCEL_DONE:
                e = get(x)
                if e is None or e.state != _SENT or e.record[_OTYPE] != _CANCEL:
                    unknown += 1
                    continue
                e.state = _FREE
                self.cancels_done += 1
                self.unanswered_count -= 1
            elif kind == _REJECT:
                e = get(x)
                if e is None or e.state != _SENT:
                    unknown += 1
                    continue
                e.state = _FREE
                reason = ev[2]
                self.reject_reasons[reason] = self.reject_reasons.get(reason, 0) + 1
                self.unanswered_count -= 1
                if e.record[_OTYPE] == _CANCEL:
                    self.cancels_rejected += 1
                else:
                    self.rejected += 1
                    final_times[e.due] = final_times.get(e.due, 0) + 1
            else:
                unknown += 1
        self.filled += filled
        self.working -= filled
        self.unknown_events += unknown
        if moves:
            # summed per account in Python first: a few array calls, however many trades
            shares: dict[tuple[int, int], int] = {}
            money: dict[int, int] = {}
            for sym, buyer, seller, price, qty in moves:
                shares[sym, buyer] = shares.get((sym, buyer), 0) + qty
                shares[sym, seller] = shares.get((sym, seller), 0) - qty
                money[buyer] = money.get(buyer, 0) - price * qty
                money[seller] = money.get(seller, 0) + price * qty
            accounts = self.accounts
            np.add.at(self._positions.reshape(-1), [s * accounts + a for s, a in shares], list(shares.values()))
            np.add.at(self._cash, list(money), list(money.values()))
        for sym, rows in trade_rows.items():
            digests[sym].update(struct.pack("%dq" % (5 * len(rows)), *chain.from_iterable(rows)))
        for t, n in ack_times.items():
            ack_latency.record((now_ns - t) // 1000, n)
        if final_latency is not None:
            for t, n in final_times.items():
                final_latency.record((now_ns - t) // 1000, n)
        self._store(entries)

    def _load(self, events: list) -> dict[int, _Entry]:
        """The open orders these events name, as entries, loaded from their slots in bulk."""
        named = set()
        for ev in events:
            if ev[0] == _TRADE:
                named.add(ev[3])
                named.add(ev[4])
            else:
                named.add(ev[1])
        oids, slots = [], []
        lo, hi, overflow = self._lo, self._hi, self._overflow
        for oid in named:
            slot = (oid & _MASK) if lo <= oid < hi else overflow.get(oid)
            if slot is not None:
                oids.append(oid)
                slots.append(slot)
        at = np.array(slots, np.int64)
        states = self._state[at].tolist()
        return {
            oid: _Entry(slot, tuple(record), leaves, due, state, token)
            for oid, slot, record, leaves, due, state, token in zip(
                oids, slots, self._record[at].tolist(), self._leaves[at].tolist(),
                self._due[at].tolist(), states, self._ack_token[at].tolist(),
            )
            if state != _FREE
        }

    def _store(self, entries: dict[int, _Entry]) -> None:
        """Write what the slow path changed back to the slots."""
        if entries:
            at = np.array([e.slot for e in entries.values()], np.int64)
            self._state[at] = [e.state for e in entries.values()]
            self._leaves[at] = [e.leaves for e in entries.values()]
            self._ack_token[at] = [e.token for e in entries.values()]

    def recent_trades(self, n: int) -> list[tuple]:
        """The last ``n`` trades booked (at most 12), oldest first, for the live tape."""
        return list(self._recent)[-n:] if n > 0 else []

    # -- conversions ------------------------------------------------------------------------

    def _as_orders(self, orders) -> np.ndarray:
        if isinstance(orders, np.ndarray):
            return orders.reshape(-1, wire.ORDER_WIDTH)
        ids = self.symbol_ids
        return np.array(
            [wire.order_record(o, ids) for o in orders], np.int64
        ).reshape(-1, wire.ORDER_WIDTH)

    def _as_events(self, events) -> np.ndarray:
        """Events as an (n, 7) int64 array; readable tuples that are no events are counted in
        ``unknown_events`` and dropped."""
        if isinstance(events, np.ndarray):
            return events.reshape(-1, wire.EVENT_WIDTH)
        if isinstance(events, (memoryview, bytes, bytearray)):
            return np.frombuffer(events, np.int64).reshape(-1, wire.EVENT_WIDTH)
        ids = self.symbol_ids
        rows = []
        for ev in events:
            try:
                rows.append(wire.event_record(ev, ids))
            except (TypeError, ValueError, IndexError, OverflowError):
                self.unknown_events += 1
        return np.array(rows, np.int64).reshape(-1, wire.EVENT_WIDTH)

    # -- views ------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Orders and cancels sent and not yet answered."""
        return self.unanswered_count

    @property
    def positions(self) -> dict[str, list[int]]:
        """Each symbol's position per account (shares)."""
        return {s: self._positions[i].tolist() for i, s in enumerate(self.symbols)}

    @property
    def cash(self) -> list[int]:
        """Each account's cash, in ticks x shares."""
        return self._cash.tolist()

    def fills_digest(self) -> str:
        """sha256 over 'SYMBOL:<sha256 of that symbol's fills>\\n' for every symbol, sorted.

        A symbol's fills are hashed in match order, each as five native 64-bit integers
        (seq, buy_oid, sell_oid, price, qty), so the digest depends only on what traded, never
        on which broker or batch carried it.
        """
        outer = hashlib.sha256()
        for i in sorted(range(len(self.symbols)), key=lambda i: self.symbols[i]):
            outer.update(f"{self.symbols[i]}:{self._digests[i].hexdigest()}\n".encode())
        return outer.hexdigest()

    def _open(self) -> list[tuple[int, tuple, int, int]]:
        """Every open order and cancel as (oid, record, leaves, state), in id order."""
        ids = [oid for oid, slot in sorted(self._overflow.items()) if self._state[slot] != _FREE]
        slots = [self._overflow[oid] for oid in ids]
        window = np.arange(self._lo, self._hi, dtype=np.int64)
        live = np.flatnonzero(self._state[window & _MASK])
        at = np.concatenate((np.array(slots, np.int64), window[live] & _MASK))
        ids += window[live].tolist()
        return [
            (oid, tuple(record), leaves, state)
            for oid, record, leaves, state in zip(
                ids, self._record[at].tolist(), self._leaves[at].tolist(), self._state[at].tolist()
            )
        ]

    def unanswered(self, symbols) -> np.ndarray:
        """Orders and cancels of these symbols sent and not answered yet, in placement order,
        as an (n, 9) array of records ready to send again."""
        wanted = {self.symbol_ids[s] for s in symbols if s in self.symbol_ids}
        rows = [r for _oid, r, _lv, st in self._open() if st == _SENT and r[_SYM] in wanted]
        return np.array(rows, np.int64).reshape(-1, wire.ORDER_WIDTH)

    def book_states(self, symbols) -> dict[str, tuple[list[tuple], int, int | None, int]]:
        """What each book holds as far as the bank knows: {symbol: (resting, match_seq,
        last_price, max_oid)}, resting as (oid, account, side, price, leaves) in priority order
        (bids best first, then asks best first, oldest first within a price: ids are time)."""
        wanted = {self.symbol_ids[s]: s for s in symbols if s in self.symbol_ids}
        resting: dict[str, list[tuple]] = {s: [] for s in wanted.values()}
        first_unanswered: dict[str, int] = {}
        for oid, r, leaves, state in self._open():
            symbol = wanted.get(r[_SYM])
            if symbol is None:
                continue
            if state == _ACKED:
                resting[symbol].append((oid, r[_ACCOUNT], r[_SIDE], r[_PRICE], leaves))
            else:
                first_unanswered.setdefault(symbol, oid)
        states = {}
        for symbol, orders in resting.items():
            bids = sorted((o for o in orders if o[2] > 0), key=lambda o: (-o[3], o[0]))
            asks = sorted((o for o in orders if o[2] < 0), key=lambda o: (o[3], o[0]))
            trade = self.last_trade.get(symbol)
            # every order before the first unanswered one was answered (a broker answers in order)
            max_oid = first_unanswered.get(symbol, self.max_oid + 1) - 1
            states[symbol] = (bids + asks, trade[2] if trade else 0, trade[5] if trade else None, max_oid)
        return states

    def reject_counts(self) -> dict[str, int]:
        return {RejectReason(r).name: n for r, n in sorted(self.reject_reasons.items())}

    def order_status(self, oid: int) -> str:
        slots = self._slots(np.array([oid], np.int64))
        state = _FREE if slots is None else int(self._state[slots[0]])
        if state == _FREE:
            return "final" if 0 < oid <= self.max_oid else "unknown"
        return "acked" if state == _ACKED else "new"

    # -- the end ----------------------------------------------------------------------------

    def reconcile(self, resting: Mapping[int, int]) -> Reconciliation:
        """Close the books: ``resting`` maps every order the brokers report resting to its leaves."""
        mismatches = []
        resting_count = lost = cancels_lost = 0
        lost_ids = []
        open_ids = set()
        for oid, record, leaves, _state in self._open():
            open_ids.add(oid)
            if record[_OTYPE] == _CANCEL:
                cancels_lost += 1
                lost_ids.append(oid)
            elif oid in resting:
                resting_count += 1
                if resting[oid] != leaves:
                    mismatches.append(f"order {oid}: broker says {resting[oid]} resting, ledger {leaves}")
            else:
                lost += 1
                lost_ids.append(oid)
        for oid in resting:
            if oid not in open_ids:
                mismatches.append(f"order {oid} resting on a book but final in the ledger")
        return Reconciliation(
            placed=self.placed,
            filled=self.filled,
            cancelled=self.cancelled,
            rejected=self.rejected,
            resting=resting_count,
            lost=lost,
            lost_ids=sorted(lost_ids),
            cancels_lost=cancels_lost,
            positions_balanced=bool(np.all(self._positions.sum(axis=1) == 0)),
            cash_balanced=int(self._cash.sum()) == 0,
            mismatches=mismatches[:20],
        )
