"""The bank's ledger: the state of every order it placed, positions and cash, and reconciliation.

Pure model: events in, counts out; the caller passes the clock reading. An order lives in
``open`` from ``place`` until its final event (FILLED, CANCELLED, REJECTED), so memory follows
the orders in flight and resting, not the length of the run. At the end the brokers' final
reports say which orders rest on their books; whatever else is still open was lost.

Invariant checked by ``reconcile``:
    placed = filled + cancelled + rejected + resting + lost, with lost == 0,
    every symbol's positions sum to 0, and cash sums to 0.
Cancel requests are not orders (as in FIX): they are counted apart, each answered once.
"""
from __future__ import annotations

import hashlib
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from simulator.orders import Event, OrderType, RejectReason

_ACK, _REJECT, _TRADE = int(Event.ACK), int(Event.REJECT), int(Event.TRADE)
_CANCELLED, _CANCEL_DONE = int(Event.CANCELLED), int(Event.CANCEL_DONE)
_CANCEL = int(OrderType.CANCEL)

# open entry fields
_SYM, _ACCOUNT, _LEAVES, _T, _ACKED, _KIND, _ORDER = range(7)
_DUE_QUANTUM_NS = 100_000


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


class Ledger:
    def __init__(self, symbols: Iterable[str], accounts: int) -> None:
        self.symbols = tuple(symbols)
        self.accounts = accounts
        self.open: dict[int, list] = {}
        self.placed = self.acked = self.filled = self.cancelled = self.rejected = 0
        self.cancels_sent = self.cancels_done = self.cancels_rejected = 0
        self.trades = self.volume = 0
        self.working = 0  # acked, not final: resting on a book as far as the bank knows
        self._batch_token = 1  # entry[_ACKED]: False, or the token of the batch that acked it
        self.reject_reasons: dict[int, int] = {}
        self.positions = {s: [0] * accounts for s in self.symbols}
        self.cash = [0] * accounts  # in ticks x shares
        self._digests = {s: hashlib.sha256() for s in self.symbols}
        self.unknown_events = 0
        # a symbol's trades as int64 quintuples, hashed once per apply (see fills_digest)
        self._digest_buffers = {s: array("q") for s in self.symbols}
        self._recent: deque[tuple] = deque(maxlen=12)
        self.last_trade: dict[str, tuple] = {}  # symbol -> its latest TRADE event
        self.max_oid = 0

    # -- placing ------------------------------------------------------------------------

    def place(self, orders: list[tuple], t_ns: int, step_ns: int = 0) -> None:
        """Record orders as sent; the first was due at ``t_ns``, each next one ``step_ns`` later.

        Due times are kept to 0.1 ms, so orders due together share one time and the latency
        histograms are touched once per distinct time, not once per order.
        """
        opened = self.open
        cancels = 0
        t = t_ns
        for i, order in enumerate(orders):
            oid, account, symbol, _side, otype, _tif, _price, qty, _target = order
            if step_ns:
                t = t_ns + (i * step_ns) // _DUE_QUANTUM_NS * _DUE_QUANTUM_NS
            if otype == _CANCEL:
                cancels += 1
                opened[oid] = [symbol, account, 0, t, False, _CANCEL, order]
            else:
                opened[oid] = [symbol, account, qty, t, False, otype, order]
        self.cancels_sent += cancels
        self.placed += len(orders) - cancels
        if orders:
            self.max_oid = orders[-1][0]

    def place_local_reject(self, order: tuple, reason: RejectReason) -> None:
        """An order the bank refuses itself, without sending it: it is placed and rejected."""
        oid, _acct, _sym, _side, otype = order[:5]
        self.max_oid = max(self.max_oid, oid)
        if otype == _CANCEL:
            self.cancels_sent += 1
            self.cancels_rejected += 1
        else:
            self.placed += 1
            self.rejected += 1
        self.reject_reasons[int(reason)] = self.reject_reasons.get(int(reason), 0) + 1

    # -- results ----------------------------------------------------------------------------

    def apply(self, events: list[tuple], now_ns: int, ack_latency, final_latency=None) -> None:
        """Book a broker's events, in the order it sent them. Latencies (due -> now, in us) go
        to ``ack_latency.record(us, times)`` for acks and to ``final_latency`` for orders that
        reached their final state without resting (IOC, market, filled on arrival, rejected).

        The hot loop of the bank: counters live in locals, a trade is booked inline, and
        latencies are counted per placement time (orders placed together share one), so the
        histogram is touched once per distinct time rather than once per ack. An event that is
        malformed, unknown or seen before is counted in ``unknown_events`` and changes nothing:
        every check comes before the first change.
        """
        opened = self.open
        get = opened.get
        positions, cash, digests = self.positions, self.cash, self._digest_buffers
        last_trade = self.last_trade
        ack_times: dict[int, int] = {}
        final_times: dict[int, int] = {}
        # orders acked in this batch are marked with a token of their own: an order whose final
        # state comes with its ack never rested, and its due->final time is pipeline latency
        self._batch_token += 1
        token = self._batch_token
        acked = working = trades = volume = filled = cancelled = unknown = 0
        for ev in events:
            try:
                kind = ev[0]
                if kind == _ACK:
                    entry = get(ev[1])
                    if entry is None or entry[_ACKED] or entry[_KIND] == _CANCEL:
                        unknown += 1
                        continue
                    entry[_ACKED] = token
                    acked += 1
                    t = entry[_T]
                    ack_times[t] = ack_times.get(t, 0) + 1
                elif kind == _TRADE:
                    _k, symbol, seq, buy_oid, sell_oid, price, qty = ev
                    buy = get(buy_oid)
                    sell = get(sell_oid)
                    previous = last_trade.get(symbol)
                    if (
                        buy is None
                        or sell is None
                        or not buy[_ACKED]
                        or not sell[_ACKED]
                        or symbol not in positions
                        or qty.__class__ is not int
                        or price.__class__ is not int
                        or seq.__class__ is not int
                        or (previous is not None and seq <= previous[2])  # seen already
                    ):
                        unknown += 1
                        continue
                    trades += 1
                    volume += qty
                    pos = positions[symbol]
                    notional = price * qty
                    b_acct, s_acct = buy[_ACCOUNT], sell[_ACCOUNT]
                    pos[b_acct] += qty
                    pos[s_acct] -= qty
                    cash[b_acct] -= notional
                    cash[s_acct] += notional
                    digests[symbol].extend((seq, buy_oid, sell_oid, price, qty))
                    last_trade[symbol] = ev
                    buy[_LEAVES] -= qty
                    if buy[_LEAVES] <= 0:
                        del opened[buy_oid]
                        filled += 1
                        if buy[_ACKED] == token:
                            t = buy[_T]
                            final_times[t] = final_times.get(t, 0) + 1
                    sell[_LEAVES] -= qty
                    if sell[_LEAVES] <= 0:
                        del opened[sell_oid]
                        filled += 1
                        if sell[_ACKED] == token:
                            t = sell[_T]
                            final_times[t] = final_times.get(t, 0) + 1
                elif kind == _CANCELLED:
                    entry = get(ev[1])
                    if entry is None or entry[_KIND] == _CANCEL or not entry[_ACKED]:
                        unknown += 1
                        continue
                    del opened[ev[1]]
                    cancelled += 1
                    working -= 1
                    if entry[_ACKED] == token:
                        t = entry[_T]
                        final_times[t] = final_times.get(t, 0) + 1
                elif kind == _CANCEL_DONE:
                    entry = get(ev[1])
                    if entry is None or entry[_KIND] != _CANCEL:
                        unknown += 1
                        continue
                    del opened[ev[1]]
                    self.cancels_done += 1
                elif kind == _REJECT:
                    reason = ev[2]
                    entry = get(ev[1])
                    if entry is None or entry[_ACKED] or reason.__class__ is not int:
                        unknown += 1
                        continue
                    del opened[ev[1]]
                    self.reject_reasons[reason] = self.reject_reasons.get(reason, 0) + 1
                    if entry[_KIND] == _CANCEL:
                        self.cancels_rejected += 1
                    else:
                        self.rejected += 1
                        t = entry[_T]
                        final_times[t] = final_times.get(t, 0) + 1
                else:
                    unknown += 1
            except (TypeError, ValueError, IndexError, KeyError):
                unknown += 1  # not an event of ours: nothing was booked from it
        self.acked += acked
        self.working += acked + working - filled
        self.trades += trades
        self.volume += volume
        self.filled += filled
        self.cancelled += cancelled
        self.unknown_events += unknown
        for t, n in ack_times.items():
            ack_latency.record((now_ns - t) // 1000, n)
        if final_latency is not None:
            for t, n in final_times.items():
                final_latency.record((now_ns - t) // 1000, n)
        if trades:
            recent = []
            for ev in reversed(events):
                if ev.__class__ is tuple and ev and ev[0] == _TRADE:
                    recent.append(ev)
                    if len(recent) == self._recent.maxlen:
                        break
            self._recent.extend(reversed(recent))
            for symbol, buf in digests.items():
                if buf:
                    self._digests[symbol].update(buf.tobytes())
                    del buf[:]

    def recent_trades(self, n: int) -> list[tuple]:
        """The last ``n`` trades booked (at most 12), oldest first, for the live tape."""
        return list(self._recent)[-n:]

    # -- views ------------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Orders and cancels sent and not yet answered."""
        return len(self.open) - self.working

    def fills_digest(self) -> str:
        """sha256 over 'SYMBOL:<sha256 of that symbol's fills>\\n' for every symbol, sorted.

        A symbol's fills are hashed in match order, each as five native 64-bit integers
        (seq, buy_oid, sell_oid, price, qty), so the digest depends only on what traded, never
        on which broker or batch carried it.
        """
        outer = hashlib.sha256()
        for symbol in sorted(self.symbols):
            outer.update(f"{symbol}:{self._digests[symbol].hexdigest()}\n".encode())
        return outer.hexdigest()

    def unanswered(self, symbols) -> list[tuple]:
        """Orders and cancels of these symbols sent and not answered yet, in placement order."""
        wanted = set(symbols)
        return [e[_ORDER] for e in self.open.values() if not e[_ACKED] and e[_SYM] in wanted]

    def book_states(self, symbols) -> dict[str, tuple[list[tuple], int, int | None, int]]:
        """What each book holds as far as the bank knows: {symbol: (resting, match_seq,
        last_price, max_oid)}, resting as (oid, account, side, price, leaves) in priority order
        (bids best first, then asks best first, oldest first within a price: ids are time)."""
        wanted = set(symbols)
        resting: dict[str, list[tuple]] = {s: [] for s in wanted}
        first_unanswered: dict[str, int] = {}
        for oid, e in self.open.items():
            symbol = e[_SYM]
            if symbol not in wanted:
                continue
            if e[_ACKED]:
                order = e[_ORDER]
                resting[symbol].append((oid, e[_ACCOUNT], order[3], order[6], e[_LEAVES]))
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
        entry = self.open.get(oid)
        if entry is None:
            return "final" if 0 < oid <= self.max_oid else "unknown"
        return "acked" if entry[_ACKED] else "new"

    # -- the end ----------------------------------------------------------------------------

    def reconcile(self, resting: Mapping[int, int]) -> Reconciliation:
        """Close the books: ``resting`` maps every order the brokers report resting to its leaves."""
        mismatches = []
        resting_count = lost = cancels_lost = 0
        lost_ids = []
        for oid, entry in self.open.items():
            if entry[_KIND] == _CANCEL:
                cancels_lost += 1
                lost_ids.append(oid)
            elif oid in resting:
                resting_count += 1
                if resting[oid] != entry[_LEAVES]:
                    mismatches.append(
                        f"order {oid}: broker says {resting[oid]} resting, ledger {entry[_LEAVES]}"
                    )
            else:
                lost += 1
                lost_ids.append(oid)
        for oid in resting:
            if oid not in self.open:
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
            positions_balanced=all(sum(p) == 0 for p in self.positions.values()),
            cash_balanced=sum(self.cash) == 0,
            mismatches=mismatches[:20],
        )
