"""Orders from outside the flow: placed by a person ("you", from the dashboard or over HTTP)
or, later, by an agent, never by the seeded flow. The ledger books them as it books any order;
this module keeps where they live and what became of them.

Ids. The flow's ids count from 1 without a gap, and the ledger's order window indexes them
by ``oid % WINDOW`` (``order_window.py``). An order from outside takes an id of its source's
range instead (``SOURCES``: you 2**40 + n, agents 2**42 + n, n = 1, 2, ...), far above any
flow id, so it can never collide with one, and lives here, in a small table (a dict: they are
few). A batch of events naming one of these ids fails the fast path's window check and is
booked event by event, where ``load`` hands the ledger these entries next to the window's.

Time. A book keeps arrival order, and so must a restart that rebuilds it and the orders sent
again after one: an order from outside is placed behind the flow's orders placed before it
and before those placed after it. Its *anchor* says where: the highest flow id placed when it
was. ``priority`` sorts flow orders and outside ones together by that.

Counts. Each source's orders are also counted apart (``OutsideCounts``): placed, filled,
cancelled, rejected, the shares filled, and the last few orders with their state (a reject's
reason; what became of a cancel you asked for one: sent, done, or refused and why), so the
report and the dashboard can tell them from the flow's. The ledger's own counters include them
(placed = filled + cancelled + rejected + resting + lost holds over all orders).

Pure model: no clock, no process; the caller passes times in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from simulator.order_window import ACKED, FREE, SENT, Entry
from simulator.outside_ids import SOURCES, YOU, priority, source_of

RECENT_KEPT = 20  # each source's latest orders kept with their state, for views
_CANCEL = 2  # orders.OrderType.CANCEL (the pure model's table; orders.py is its name)
_OID, _ACCOUNT, _SYM, _SIDE, _OTYPE, _TIF, _PRICE, _QTY, _TARGET = range(9)


@dataclass(frozen=True, slots=True)
class OutsideOrder:
    """One outside order as views show it: its record's fields and where it stands."""

    oid: int
    sym: int  # the wire symbol (the index in the run's symbols)
    side: int
    otype: int
    tif: int
    price: int
    qty: int
    leaves: int
    state: str  # sent, resting, filled, cancelled, rejected
    reason: int = 0  # rejected: the order's RejectReason; else a refused cancel's (``cancel``)
    cancel: str = ""  # a cancel asked for it: sent, done, refused ("": none)


@dataclass
class OutsideCounts:
    """What one source's orders did so far; ``recent``: its latest orders, oldest first."""

    placed: int = 0
    filled: int = 0
    cancelled: int = 0
    rejected: int = 0
    cancels_sent: int = 0
    filled_qty: int = 0
    recent: dict[int, OutsideOrder] = field(default_factory=dict)  # by id, oldest first


class OutsideOrders:
    """The open orders from outside the flow, and every source's counts."""

    def __init__(self) -> None:
        self._open: dict[int, Entry] = {}  # oid -> the live entry the ledger books
        self._anchor: dict[int, int] = {}  # oid -> the flow id it was placed behind
        self._filled: dict[int, int] = {}  # oid -> shares filled so far (booked by ``settle``)
        self._rejected: dict[int, int] = {}  # oid -> the reason of its REJECT, until settled
        self._cancels: dict[int, tuple[str, int]] = {}  # target -> (its cancel's state, reason)
        self.cancel_ids: set[int] = set()  # the ids given to cancels (a person's: few)
        self._next = dict.fromkeys(SOURCES, 0)
        self.counts = {name: OutsideCounts() for name in SOURCES}

    def new_id(self, source: str) -> int:
        """The next id of ``source``'s range (KeyError for a source not in ``SOURCES``)."""
        self._next[source] += 1
        return SOURCES[source] + self._next[source]

    def last_id(self, source: str) -> int:
        """The id given last to ``source`` (its range's base before the first)."""
        return SOURCES[source] + self._next[source]

    def __len__(self) -> int:
        return len(self._open)

    # -- placing and booking ------------------------------------------------------------------

    def put(self, record: Iterable[int], due_ns: int, anchor: int) -> None:
        """An order (a wire record, its id from ``new_id``) sent behind flow id ``anchor``.
        ValueError for an id that is no outside id or one placed before."""
        row = tuple(int(x) for x in record)
        oid, source = row[_OID], source_of(row[_OID])
        if source is None or oid in self._anchor or oid - SOURCES[source] > self._next[source]:
            raise ValueError(f"order id {oid} is not a new outside order's id")
        cancel = row[_OTYPE] == _CANCEL
        self._open[oid] = Entry(-1, row, 0 if cancel else row[_QTY], due_ns, SENT, 0)
        self._anchor[oid] = anchor
        self._filled[oid] = 0
        counts = self.counts[source]
        if cancel:
            counts.cancels_sent += 1
            self.cancel_ids.add(oid)
            self._mark_cancel(counts, row[_TARGET], "sent", 0)
        else:
            counts.placed += 1
            self._note(counts, oid)

    def load(self, oids: Iterable[int]) -> dict[int, Entry]:
        """The open outside orders among ``oids``: the live entries, booked in place."""
        found = {}
        for oid in oids:
            e = self._open.get(oid)
            if e is not None:
                found[oid] = e
        return found

    def settle(self, entries: dict[int, Entry]) -> None:
        """After the ledger booked ``entries`` (from ``load``): count what they did, and let
        those now final go."""
        for oid, e in entries.items():
            counts = self.counts[source_of(oid) or YOU]
            if e.record[_OTYPE] == _CANCEL:
                if e.state == FREE:
                    reason = self._rejected.get(oid, 0)
                    self._mark_cancel(counts, e.record[_TARGET], "refused" if reason else "done", reason)
                    self._drop(oid)
                continue
            filled = e.record[_QTY] - e.leaves
            counts.filled_qty += filled - self._filled[oid]
            self._filled[oid] = filled
            if e.state == FREE:
                if e.token == 0:  # never acked: the broker refused it
                    counts.rejected += 1
                elif e.leaves <= 0:
                    counts.filled += 1
                else:
                    counts.cancelled += 1
            self._note(counts, oid)
            if e.state == FREE:
                self._drop(oid)

    def note_reject(self, oid: int, reason: int) -> None:
        """The ledger booked a REJECT of ``oid`` (before ``settle``): its reason, if it is an
        open outside order's (a flow order's is not kept)."""
        if oid in self._open:
            self._rejected[oid] = reason

    def _drop(self, oid: int) -> None:
        del self._open[oid], self._anchor[oid], self._filled[oid]
        self._rejected.pop(oid, None)

    def _note(self, counts: OutsideCounts, oid: int) -> None:
        """Keep the order's latest state among the source's recent ones (its place stays)."""
        counts.recent[oid] = self.view(oid)
        if len(counts.recent) > RECENT_KEPT:
            gone = next(iter(counts.recent))
            del counts.recent[gone]
            if gone not in self._open:
                self._cancels.pop(gone, None)

    def _mark_cancel(self, counts: OutsideCounts, target: int, state: str, reason: int) -> None:
        """What became of the cancel asked for ``target``, on it (open, or among the recent)."""
        self._cancels[target] = (state, reason)
        if target in self._open:
            self._note(counts, target)
        elif target in counts.recent:
            counts.recent[target] = replace(counts.recent[target], cancel=state, reason=reason)
        else:
            self._cancels.pop(target, None)

    def known(self, oid: int) -> OutsideOrder | None:
        """Outside order ``oid`` as views last saw it: open, or among the recent; else None."""
        if oid in self._open:
            return self.view(oid)
        source = source_of(oid)
        return self.counts[source].recent.get(oid) if source is not None else None

    def anchor(self, oid: int) -> int | None:
        """The flow id an open outside order was placed behind (None once it is final)."""
        return self._anchor.get(oid)

    def view(self, oid: int) -> OutsideOrder:
        e = self._open[oid]
        r = e.record
        if e.state == SENT:
            state = "sent"
        elif e.state == ACKED:
            state = "resting"
        elif e.token == 0:
            state = "rejected"
        else:
            state = "filled" if e.leaves <= 0 else "cancelled"
        cancel, reason = self._cancels.get(oid, ("", 0))
        if state == "rejected":
            reason = self._rejected.get(oid, 0)
        return OutsideOrder(
            oid, r[_SYM], r[_SIDE], r[_OTYPE], r[_TIF], r[_PRICE], r[_QTY], e.leaves, state, reason, cancel
        )

    # -- what the ledger's scans need -----------------------------------------------------------

    def open_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every open outside order and cancel, ids rising: (ids, leaves, is a cancel)."""
        ids = sorted(self._open)
        entries = [self._open[oid] for oid in ids]
        return (
            np.array(ids, np.int64),
            np.array([e.leaves for e in entries], np.int64),
            np.array([e.record[_OTYPE] == _CANCEL for e in entries], bool),
        )

    def open_orders(self, sym_ids: Iterable[int] | None = None) -> list[tuple[int, int, tuple, int, int]]:
        """Open outside orders and cancels (of ``sym_ids`` when given) as (oid, anchor, record,
        leaves, state), in id order."""
        wanted = None if sym_ids is None else set(sym_ids)
        return [
            (oid, self._anchor[oid], e.record, e.leaves, e.state)
            for oid, e in sorted(self._open.items())
            if wanted is None or e.record[_SYM] in wanted
        ]

    def of_account(self, account: int) -> list[tuple[int, tuple, int, int]]:
        """The account's open outside orders (cancels left out): (oid, record, leaves, state)."""
        return [
            (oid, e.record, e.leaves, e.state)
            for oid, e in sorted(self._open.items())
            if e.record[_ACCOUNT] == account and e.record[_OTYPE] != _CANCEL
        ]

    def merge_unanswered(self, flow_rows: np.ndarray, sym_ids: Iterable[int]) -> np.ndarray:
        """``flow_rows`` (the flow's unanswered records of ``sym_ids``, in id order) with the
        outside orders of those symbols not answered yet, each behind the flow order it was
        placed behind: every unanswered record in the order it was placed."""
        mine = [
            (anchor, oid, record) for oid, anchor, record, _lv, st in self.open_orders(sym_ids) if st == SENT
        ]
        if not mine:
            return flow_rows
        rows = [(priority(int(r[0])), tuple(r)) for r in flow_rows.tolist()]
        rows += [(priority(oid, anchor), record) for anchor, oid, record in mine]
        rows.sort(key=lambda item: item[0])
        return np.array([r for _key, r in rows], np.int64).reshape(-1, flow_rows.shape[1])
