"""The bank's ledger: the state of every order it placed, positions and cash, and reconciliation.

Pure model: events in, counts out; the caller passes the clock reading. Orders and events are
wire records (see ``wire.py``): ``place`` takes an (n, 9) int64 array of orders and ``apply`` an
(n, 7) int64 array of one broker's events, or the readable tuples of ``orders.py`` (which are
turned into records first: tests and slow paths use them). Where an order lives until it is
final is ``order_window.py``; the fills digest and per-symbol figures ``symbol_stats.py``; closing
the books ``reconciliation.py``. An order for a symbol no book trades (``wire.UNKNOWN_SYM``) is
placed like any other: a broker answers it REJECT UNKNOWN_SYMBOL.

How a batch of events is booked. A broker answers each order in causal order (ACK before its
trades, trades before the CANCELLED of the rest), so a batch can be booked kind by kind with
whole-array operations. ``_apply_fast`` first checks that the batch is exactly what a broker
sends (``batch_check.py``: known kinds, ids in the window, each order answered once, trades
after acks, fills not beyond the leaves, match numbers rising) and books it only if every
check passes. Anything else (garbage, repeats) goes to ``ledger_slow.apply_slowly``, which books event by
event and counts what it cannot book in ``unknown_events``: the reference the fast path must
agree with (tests check that it does).

Cancel requests are not orders (as in FIX): counted apart (``rejects.py``), each answered once."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable

import numpy as np

from simulator import restart_state, wire
from simulator.agents import AgentParams
from simulator.batch_check import check_batch
from simulator.ledger_slow import apply_slowly
from simulator.ledger_types import TypeLedger
from simulator.order_window import ACKED, FREE, HELD, NO_DUE, OrderWindow
from simulator.orders import Event, OrderType
from simulator.outside_orders import OutsideOrders
from simulator.positions import Positions
from simulator.reconciliation import Reconciliation, Resting, close_books
from simulator.rejects import CANCEL_REASON, reasons_by_name
from simulator.rows import rows_at
from simulator.symbol_stats import TradedDigest

_ACK, _REJECT, _TRADE = int(Event.ACK), int(Event.REJECT), int(Event.TRADE)
_CANCELLED, _CANCEL_DONE = int(Event.CANCELLED), int(Event.CANCEL_DONE)
_CANCEL = int(OrderType.CANCEL)
_DUE_QUANTUM_NS = 100_000
# order record columns
_OID, _ACCOUNT, _SYM, _SIDE, _OTYPE, _TIF, _PRICE, _QTY, _TARGET = range(9)
_RECENT = 12
_FAST_MIN_EVENTS = 200  # below this a batch is booked event by event (see apply)
_FEW = 8  # at most this many orders are placed item by item (see _place_few)


class Ledger:
    """The bank's books over a run: counters, positions, cash, the fills digest and tape."""

    def __init__(self, symbols: Iterable[str], accounts: int, agents: AgentParams | None = None) -> None:
        self.agents = agents or AgentParams()  # the run's agents: their orders come from the brokers
        self.symbols = tuple(symbols)
        self.symbol_ids = {s: i for i, s in enumerate(self.symbols)}
        self.accounts = accounts
        self.placed = self.acked = self.filled = self.cancelled = self.rejected = 0
        self.cancels_sent = self.cancels_done = self.cancels_rejected = 0
        self.trades = self.volume = self.unknown_events = 0
        self.reject_reasons: dict[int, int] = {}
        self.max_oid = 0
        nsym = len(self.symbols)
        self.positions_held = self._positions = Positions(nsym, accounts)  # shares per (symbol, account)
        self.cash_array = self._cash = np.zeros(accounts, np.int64)  # in ticks x shares
        self.traded = self._digest = TradedDigest(self.symbols)  # the digest, and per-symbol figures
        # each symbol's latest trade: (seq, buy_oid, sell_oid, price, qty); seq 0 for none yet
        self._last_trade = np.zeros((nsym, 5), np.int64)
        self._last_seq = self._last_trade[:, 0]  # a view: match_seq of each symbol's latest trade
        self._recent: deque[tuple] = deque(maxlen=_RECENT)
        self.window = self._window = OrderWindow()  # read by risk_exposure too
        self.outside = OutsideOrders()  # orders from outside the flow ("you"): not in the window
        self.types = TypeLedger()  # amends, triggers, icebergs' slices, STP's cancels (ledger_types.py)
        self._batch_token = 0
        self.last_booked_ns = 0  # the clock reading of the latest apply() that booked an event

    # These derive exactly from the counters, which change together: an order is acked once and
    # leaves the acked state once (filled up, or CANCELLED, an IOC's rest too; a REJECT after
    # an ACK is an unknown event), and each order or cancel placed is answered once. So at any
    # moment placed = filled + cancelled + rejected + working + orders_in_flight.

    @property
    def working(self) -> int:
        """Orders acked and not final: resting on a book as far as the bank knows."""
        return self.acked - self.filled - self.cancelled

    @property
    def orders_in_flight(self) -> int:
        """Orders (not cancel requests) sent and not yet answered (acked or refused)."""
        return self.placed - self.acked - self.rejected

    @property
    def in_flight(self) -> int:
        """Orders and cancels sent and not yet answered (acked or refused)."""
        return self.orders_in_flight + self.cancels_sent - self.cancels_done - self.cancels_rejected

    # -- placing ------------------------------------------------------------------------

    def place(self, orders, t_ns: int, step_ns: int = 0) -> None:
        """Record orders as sent, any number (ids rising); the first was due at ``t_ns``, each next one
        ``step_ns`` later. An order for ``wire.UNKNOWN_SYM`` is placed like any other. Due
        times are kept to 0.1 ms, so orders due together share one time and the latency
        histograms are touched once per distinct time, not once per order."""
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
        is_cancel = rows[:, _OTYPE] == _CANCEL
        due: np.ndarray | int = t_ns
        if step_ns:
            due = t_ns + np.arange(n, dtype=np.int64) * step_ns // _DUE_QUANTUM_NS * _DUE_QUANTUM_NS
        self._window.put(rows, np.where(is_cancel, 0, rows[:, _QTY]), due)
        cancels = int(np.count_nonzero(is_cancel))
        self.cancels_sent += cancels
        self.placed += n - cancels
        self.max_oid = max(self.max_oid, int(oids[-1]))

    def _place_few(self, rows: list[list[int]], t_ns: int, step_ns: int) -> bool:
        """``place`` for a handful of orders with new, rising ids (a low rate places one or two
        a tick), without whole-array steps. False, with nothing done, for anything else."""
        n = len(rows)
        leaves = [0 if r[_OTYPE] == _CANCEL else r[_QTY] for r in rows]
        cancels = sum(r[_OTYPE] == _CANCEL for r in rows)
        if step_ns:
            due = [t_ns + (i * step_ns) // _DUE_QUANTUM_NS * _DUE_QUANTUM_NS for i in range(n)]
        else:
            due = [t_ns] * n
        if not self._window.put_few(rows, leaves, due):
            return False
        self.cancels_sent += cancels
        self.placed += n - cancels
        self.max_oid = max(self.max_oid, rows[-1][_OID])
        return True

    def place_outside(self, record, t_ns: int) -> None:
        """Record your order as sent (its id from ``outside.new_id``), behind every flow order so far."""
        self.outside.put(record, t_ns, anchor=self.max_oid)
        if int(record[_OTYPE]) == _CANCEL:
            self.cancels_sent += 1
        else:
            self.placed += 1

    @property
    def flow_placed(self) -> int:
        """Orders of the flow placed so far (``placed`` less yours and the agents')."""
        return self.placed - sum(c.placed for c in self.outside.counts.values()) - self.types.agents_placed

    # -- results ----------------------------------------------------------------------------

    def apply(self, events, now_ns: int, ack_latency, final_latency=None, held_latency=None) -> None:
        """Book a broker's events, in the order it sent them. Latencies (due -> now, in us) go
        to ``ack_latency.record(us, times)`` for acks and to ``final_latency`` for orders that
        reached their final state without resting (IOC, market, filled on arrival, rejected);
        the acks of orders a broker's restart held up (``hold``) go to ``held_latency`` too.
        An event that is malformed, unknown or seen before is counted in ``unknown_events``
        and changes nothing."""
        ev = self.types.take(self._as_events(events), self._window, self)
        if not len(ev):
            return
        self._batch_token += 1
        unknown = self.unknown_events
        # a whole-array step costs several microseconds here however short the array: small
        # batches (a low rate) are cheaper event by event
        lat = (ack_latency, final_latency, held_latency)
        if len(ev) < _FAST_MIN_EVENTS or not self._apply_fast(ev, now_ns, *lat):
            apply_slowly(self, ev.tolist(), now_ns, *lat)
        if self.unknown_events - unknown < len(ev):
            self.last_booked_ns = now_ns

    def _apply_fast(self, ev: np.ndarray, now_ns: int, ack_latency, final_latency, held_latency=None) -> bool:
        """Book a batch with whole-array operations if ``check_batch`` passes it; else False."""
        w = self._window
        token = self._batch_token
        b = check_batch(ev, w, token, len(self.symbols), self._last_seq)
        if b is None:
            return False
        state, record = w.state, w.record
        token_final: list[np.ndarray] = []  # final now: count due->final if acked now
        rejected_slots = b.ans_slots[:0]
        if len(b.ack_slots):
            state[b.ack_slots] = ACKED
            w.ack_token[b.ack_slots] = token
            self._record_latency(ack_latency, w.due[b.ack_slots], now_ns)
            self._record_held(held_latency, b.ack_slots, now_ns)
        filled = 0
        tr = b.trades
        if len(tr):
            sym, price, qty = tr[:, 1], tr[:, 5], tr[:, 6]
            accounts = record[:, _ACCOUNT]
            acct_b, acct_s = accounts[b.buy_slots], accounts[b.sell_slots]
            self._positions.move(sym, acct_b, acct_s, qty)
            notional = price * qty
            np.subtract.at(self._cash, acct_b, notional)
            np.add.at(self._cash, acct_s, notional)
            w.leaves[b.touched] = b.left
            done = b.touched[b.left <= 0]
            state[done] = FREE
            filled = len(done)
            token_final.append(done)
            self.trades += len(tr)
            self.volume += int(qty.sum())
            self._book_trades(rows_at(tr, b.by_sym), b.sym_starts)
            self._recent.extend((_TRADE, self.symbols[r[1]], *r[2:7]) for r in tr[-_RECENT:].tolist())
        if len(b.cx_slots):
            state[b.cx_slots] = FREE
            token_final.append(b.cx_slots)
        ans_kind, ans_cancel = b.ans_kind, b.ans_cancel
        rej = ans_kind == _REJECT
        if np.count_nonzero(rej):
            reasons = ev[:, 2][b.is_rej] + CANCEL_REASON * ans_cancel[rej]  # a cancel's reason apart
            for r, n in zip(*np.unique(reasons, return_counts=True)):
                self.reject_reasons[int(r)] = self.reject_reasons.get(int(r), 0) + int(n)
            self.rejected += int(np.count_nonzero(rej & ~ans_cancel))
            self.cancels_rejected += int(np.count_nonzero(rej & ans_cancel))
            rejected_slots = b.ans_slots[rej & ~ans_cancel]
        self.cancels_done += int(np.count_nonzero(ans_kind == _CANCEL_DONE))
        state[b.ans_slots[ans_kind != _ACK]] = FREE
        self.acked += len(b.ack_slots)
        self.filled += filled
        self.cancelled += len(b.cx_slots)
        if final_latency is not None:
            # due->final counts only orders that never rested: acked in this batch, or rejected
            finals = np.concatenate([rejected_slots] + [f[w.ack_token[f] == token] for f in token_final])
            self._record_latency(final_latency, w.due[finals], now_ns)
        return True

    @staticmethod
    def _record_latency(histogram, due: np.ndarray, now_ns: int) -> None:
        due = due[due != NO_DUE]  # agents' orders: born at their book, no latency to count
        if len(due) and due[0] == due.min() == due.max():  # all due together: the usual case
            histogram.record((now_ns - int(due[0])) // 1000, len(due))
        elif len(due):
            times, counts = np.unique(due, return_counts=True)
            for t, n in zip(times.tolist(), counts.tolist()):
                histogram.record((now_ns - t) // 1000, n)

    def _record_held(self, histogram, ack_slots: np.ndarray, now_ns: int) -> None:
        if histogram is not None and len(ack_slots):
            held = ack_slots[(self._window.flags[ack_slots] & HELD) != 0]
            if len(held):
                self._record_latency(histogram, self._window.due[held], now_ns)

    def hold(self, orders: np.ndarray) -> None:
        """Note these orders (records placed already) as held up by a broker's restart: sent
        again to the new broker, or queued while it came up. Their acks go to ``apply``'s
        ``held_latency`` too, so the wait a restart causes is told apart from the rest."""
        if len(orders):
            self._window.mark(np.ascontiguousarray(orders[:, _OID]), HELD)

    def _book_trades(self, by_symbol: np.ndarray, starts: np.ndarray) -> None:
        """The digest, last trade and tape of a fast-path batch's trades, already booked;
        ``by_symbol`` holds them grouped by symbol (match order within), groups at ``starts``."""
        self.traded.count_trades(by_symbol, starts)  # each symbol's figures, whole-array
        self._digest.update_many(by_symbol[:, 1], by_symbol[:, 2:7])
        last = rows_at(by_symbol, np.append(starts[1:], len(by_symbol)) - 1)
        self._last_trade[last[:, 1]] = last[:, 2:7]

    def recent_trades(self, n: int) -> list[tuple]:
        """The last ``n`` trades booked (at most 12), oldest first, for the live tape."""
        return list(self._recent)[-n:] if n > 0 else []

    # -- conversions ------------------------------------------------------------------------

    def _as_orders(self, orders) -> np.ndarray:
        if not isinstance(orders, np.ndarray):
            orders = np.array([wire.order_record(o, self.symbol_ids) for o in orders], np.int64)
        return orders.reshape(-1, wire.ORDER_WIDTH)

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
    def last_trade(self) -> dict[str, tuple]:
        """Each traded symbol's latest TRADE event, readable."""
        traded = np.flatnonzero(self._last_seq).tolist()
        return {self.symbols[s]: (_TRADE, self.symbols[s], *self._last_trade[s].tolist()) for s in traded}

    def last_trade_of(self, sym: int) -> tuple | None:
        row = self._last_trade[sym].tolist()
        return (_TRADE, self.symbols[sym], *row) if row[0] else None

    @property
    def positions(self) -> dict[str, list[int]]:
        """Each symbol's position per account (shares)."""
        return {s: self._positions.of_symbol(i) for i, s in enumerate(self.symbols)}

    @property
    def cash(self) -> list[int]:
        """Each account's cash, in ticks x shares."""
        return self._cash.tolist()

    def fills_digest(self) -> str:
        """The digest of every fill booked so far (see ``fills_digest.py``)."""
        return self._digest.hexdigest()

    def unanswered(self, sym_ids: Collection[int]) -> np.ndarray:
        """Every order of these wire symbols not answered yet, as records (``restart_state``)."""
        return restart_state.unanswered(self, sym_ids)

    def book_states(self, symbols) -> dict[str, tuple]:
        """What each book holds as far as the bank knows (``restart_state``)."""
        return restart_state.book_states(self, symbols)

    def reject_counts(self, cancels: bool | None = None) -> dict[str, int]:
        return reasons_by_name(self.reject_reasons, cancels)  # orders', cancels' (True) or both

    def order_status(self, oid: int) -> str:
        w = self._window
        slot = w.slot(oid)
        state = FREE if slot is None else int(w.state[slot])
        if state == FREE:
            return "final" if 0 < oid <= self.max_oid else "unknown"
        return "acked" if state == ACKED else "new"

    # -- the end ----------------------------------------------------------------------------

    def reconcile(self, resting: Resting) -> Reconciliation:
        """Close the books: ``resting`` maps every order the brokers report resting to its leaves
        (or is the arrays (ids, leaves) of them)."""
        w = self._window
        ids, slots = w.open_slots()
        out_ids, out_leaves, out_cancel = self.outside.open_arrays()  # ids above every flow id
        return close_books(
            np.concatenate((ids, out_ids)),
            np.concatenate((w.leaves[slots], out_leaves)),
            np.concatenate((w.record[slots, _OTYPE] == _CANCEL, out_cancel)),
            resting,
            placed=self.placed,
            filled=self.filled,
            cancelled=self.cancelled,
            rejected=self.rejected,
            positions_balanced=self._positions.balanced(),
            cash_balanced=int(self._cash.sum()) == 0,
        )
