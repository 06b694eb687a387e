"""Where the ledger keeps the orders it placed until they are final: the order window.

Where an order lives. Order ids grow by one per message, so the orders of the last ``WINDOW``
ids sit in plain arrays at slot ``oid % WINDOW`` (the order record, its leaves, when it was due,
its state). An order still open when the window moves past its id (it rested long, or a broker
was down for a while) moves to a slot past the window. Those old open orders are found through
a hash table of their ids (``id_index.py``: a probe or two per look-up however many there are,
with whole-array steps); the slots of the ones that became final are taken back only when the
overflow slots run out, and the overflow then grows to twice what is still open, so each order
that moves costs O(1) amortised however many rest (many symbols, each with hundreds of resting
orders, put millions there). Memory follows the orders in flight and resting, not the length
of the run nor the age of the oldest open order.

What the order types add to an order (an event's priority stamp, an iceberg's shown leaves, a
stop's trigger: ``ledger_types.py``) and whether a broker's restart held it up sit in slot arrays
too, cleared when a slot takes a new order: no Python object per order lives past the batch that
booked it, so the bank's memory does not creep with the orders it has seen.

This module stores and finds; what is stored (leaves, due times) and when a state changes is
the ledger's business (``ledger.py``), which also writes the arrays directly where it books a
whole batch at once. Pure model: numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from simulator import wire
from simulator.id_index import IdIndex
from simulator.outside_ids import AGENT, SOURCES
from simulator.rows import put_rows
from simulator.slot_arrays import SlotArrays

WINDOW = 1 << 17  # order ids kept in arrays; older open orders move to overflow slots
_MASK = WINDOW - 1
# One store of new ids spans fewer than this: then the window moves at most once, and never
# past an id being stored. ``put`` stores a longer run in pieces.
MOST_SPAN = WINDOW // 2
FREE, SENT, ACKED = 0, 1, 2  # an order's state in its slot: final (or never placed), sent, acked
NO_DUE = -1  # the due time of an agent's order: born at its book, it has no latency to count
# bits of an order's ``flags``: a stop entered on its book; an iceberg whose ``shown`` is set; an
# order a broker's restart held up (sent again to the new broker, or queued while it came up)
TRIGGERED, SHOWN, HELD = 1, 2, 4
_OVERFLOW = 1 << 12  # first slots for old open orders; grows when full
_SYM = 2  # the order record's column of the wire symbol
_AGENT_BASE = SOURCES[AGENT]  # agents' ids are above it (agents.AGENT_BASE)
# the agents' index when empty: only its sentinel, an id above any
_NO_AGENT_IDS = np.array([np.iinfo(np.int64).max], np.int64)
_NO_AGENT_SLOTS = np.array([-1], np.int64)
_NO_AGENT_IDS.flags.writeable = _NO_AGENT_SLOTS.flags.writeable = False
_AGENTS_PRUNE_LEAST = 1 << 10  # agents' orders held before the first prune


class Entry:
    """One open order as booked event by event: loaded from its slot, stored back."""

    __slots__ = ("slot", "record", "leaves", "due", "state", "token")

    def __init__(self, slot: int, record: tuple, leaves: int, due: int, state: int, token: int) -> None:
        self.slot = slot
        self.record = record
        self.leaves = leaves
        self.due = due
        self.state = state
        self.token = token  # the apply() call that acked it, for due->final latency


class OrderWindow:
    """The slot arrays of the orders with ids ``lo <= oid < hi`` (at ``oid & (WINDOW - 1)``)
    and of older open orders (at slots past ``WINDOW``).

    The arrays are indexed by what ``slots``/``slot`` return. ``put`` and ``put_few`` may
    reallocate them all: read them from the window, never keep them across those calls.
    """

    record: np.ndarray  # (size, 9) int64: the order records
    leaves: np.ndarray  # int64: what is left to fill (0 for a cancel request)
    due: np.ndarray  # int64: when the order was due to be sent, ns
    state: np.ndarray  # int8: FREE, SENT or ACKED
    ack_token: np.ndarray  # int64: which of the ledger's apply() calls acked the order
    stamp: np.ndarray  # int64: the priority stamp an event gave the order, 0 for none
    shown: np.ndarray  # int64: an iceberg's leaves when its slice was last shown (flag SHOWN)
    flags: np.ndarray  # int8: TRIGGERED, SHOWN, HELD
    scratch_token: np.ndarray  # int64 scratch for the ledger's whole-array checks ...
    scratch_pos: np.ndarray  # ... (see batch_check.py)
    _stamp: np.ndarray  # int64 scratch for repeats()

    def __init__(self) -> None:
        self.lo = self.hi = 0
        self._arrays = SlotArrays()
        self._grow(WINDOW + _OVERFLOW)
        # old open orders (and final ones not yet taken back): id -> overflow slot
        self._old = IdIndex()
        self._free_overflow = np.arange(WINDOW + _OVERFLOW - 1, WINDOW - 1, -1, dtype=np.int64)
        # agents' orders (agents.py: ids above AGENT_BASE, far above the window's, in no order):
        # overflow slots found by binary search in an index of their own, ids rising and ending
        # in a sentinel (no search runs off its end); final ones pruned when it has doubled
        self._agent_ids, self._agent_slots = _NO_AGENT_IDS, _NO_AGENT_SLOTS
        self._agents_prune_at = _AGENTS_PRUNE_LEAST

    def _grow(self, size: int) -> None:
        """(Re)size the slot arrays, keeping what they hold, in place where the system can
        (``slot_arrays.py``: growing copied hundreds of MiB at many symbols); the scratch
        starts again at 0 (a token 0 is never a batch's, and a stamp is written before it is
        read)."""
        for name, width, dtype, kept in (
            ("record", wire.ORDER_WIDTH, np.int64, True),
            ("leaves", 0, np.int64, True),
            ("due", 0, np.int64, True),
            ("state", 0, np.int8, True),
            ("ack_token", 0, np.int64, True),
            ("stamp", 0, np.int64, True),
            ("shown", 0, np.int64, True),
            ("flags", 0, np.int8, True),
            ("scratch_token", 0, np.int64, False),
            ("scratch_pos", 0, np.int64, False),
            ("_stamp", 0, np.int64, False),
        ):
            self._arrays.grow(self, name, dtype, width, size, kept)

    # -- placing ------------------------------------------------------------------------------

    def _start(self, first_oid: int) -> None:
        """Begin the window at the first id ever placed (later calls change nothing)."""
        if self.hi == 0:
            self.lo = first_oid

    def put(self, rows: np.ndarray, leaves: np.ndarray, due: np.ndarray | int) -> None:
        """Store orders just sent, (n, 9) records with ids rising, as SENT with their leaves
        and due times (arrays, or one value for all). Raises ValueError, storing nothing, if
        an id is not new.

        Any number of ids: a run spanning ``MOST_SPAN`` ids or more is stored in pieces, the
        window moving on between them. What it leaves behind still open moves to overflow
        slots: correct, but slower to book, so the bank places far fewer ids at once than the
        window holds (``schedule.MOST_AHEAD``).
        """
        oids = rows[:, 0]
        first, last = int(oids[0]), int(oids[-1])
        self._start(first)
        if first < self.lo:
            raise ValueError(f"order ids {first}..{last} are not new (ids so far {self.hi - 1})")
        if first < self.hi:
            # only ids below hi can be open already; the slots of ids above it may hold older
            # open orders that the window's move will take to overflow
            known = oids[: int(np.searchsorted(oids, self.hi))]
            if (self.state[known & _MASK] != FREE).any():
                raise ValueError("an order id placed twice")
        if last - first < MOST_SPAN:
            self._store(rows, leaves, due)
            return
        start = 0
        while start < len(oids):
            end = int(np.searchsorted(oids, oids[start] + MOST_SPAN))
            piece = slice(start, end)
            self._store(
                rows[piece],
                leaves[piece],
                due if isinstance(due, int) else due[piece],
            )
            start = end

    def _store(self, rows: np.ndarray, leaves: np.ndarray, due: np.ndarray | int) -> None:
        """``put`` of ids spanning fewer than ``MOST_SPAN``, checked already."""
        self._make_room(max(self.hi, int(rows[-1, 0]) + 1))
        slots = rows[:, 0] & _MASK
        put_rows(self.record, slots, rows)
        self.leaves[slots] = leaves
        self.due[slots] = due
        self.state[slots] = SENT
        self.stamp[slots] = 0
        self.flags[slots] = 0

    def put_few(self, rows: list[list[int]], leaves: list[int], due: list[int]) -> bool:
        """``put`` for a handful of orders, item by item (a whole-array step costs more than
        a few items); False, storing nothing, unless every id is past all ids so far and rising."""
        first, last = rows[0][0], rows[-1][0]
        if first < self.hi or last - first >= MOST_SPAN:
            return False
        for a, b in zip(rows, rows[1:]):
            if b[0] <= a[0]:
                return False
        self._start(first)
        self._make_room(last + 1)
        record, leaves_at, due_at, state = self.record, self.leaves, self.due, self.state
        stamp, flags = self.stamp, self.flags
        for row, left, t in zip(rows, leaves, due):
            slot = row[0] & _MASK
            record[slot] = row
            leaves_at[slot] = left
            due_at[slot] = t
            state[slot] = SENT
            stamp[slot] = flags[slot] = 0
        return True

    def _make_room(self, new_hi: int) -> None:
        """Move the window so that ids up to ``new_hi`` - 1 fit; what is still open in the part
        it leaves moves to overflow slots."""
        if new_hi - self.lo > WINDOW:
            new_lo = new_hi - WINDOW + WINDOW // 4  # move by a quarter at least: amortised
            gone = np.arange(self.lo, min(new_lo, self.hi), dtype=np.int64)
            slots = gone & _MASK
            still_open = np.flatnonzero(self.state[slots])
            if len(still_open):
                dst = self._overflow_slots(len(still_open))
                src = slots[still_open]
                for a in (
                    self.record,
                    self.leaves,
                    self.due,
                    self.state,
                    self.ack_token,
                    self.stamp,
                    self.shown,
                    self.flags,
                ):
                    a[dst] = a[src]
                self._old.add(gone[still_open], dst)
            self.state[slots] = FREE
            self.lo = new_lo
        self.hi = new_hi

    def _overflow_slots(self, n: int) -> np.ndarray:
        """``n`` free overflow slots: the slots of old orders now final are taken back first
        when too few are free, and the overflow grows to twice what stays open if still short."""
        if n > len(self._free_overflow):
            _ids, slots = self._old.entries()
            final = self.state[slots] == FREE
            self._free_overflow = np.concatenate((self._free_overflow, slots[final]))
            self._old = self._old.rebuilt(~final)
            short = n + len(self._old) - len(self._free_overflow)
            if short > 0:
                size = len(self.state)
                self._grow(size + max(size - WINDOW, short, len(self._old) + n))
                self._free_overflow = np.concatenate(
                    (np.arange(len(self.state) - 1, size - 1, -1, dtype=np.int64), self._free_overflow)
                )
        taken = self._free_overflow[len(self._free_overflow) - n :]
        self._free_overflow = self._free_overflow[: len(self._free_overflow) - n]
        return taken

    def put_agents(
        self,
        rows: np.ndarray,
        leaves: np.ndarray,
        state: np.ndarray | int = SENT,
        stamp: np.ndarray | int = 0,
    ) -> np.ndarray | None:
        """Store agents' orders (records whose ids are in no order) in ``state`` (SENT, or ACKED
        for those their record stands for the ack of) with their priority ``stamp``, due NO_DUE:
        their slots; None, storing nothing, if an id is there already (open)."""
        new = rows[:, 0]
        n = len(new)
        # the usual batch: ids rising (so none twice), all above those held (so none there)
        rising = n < 2 or not np.count_nonzero(new[1:] <= new[:-1])
        held = len(self._agent_ids) - 1  # less the sentinel
        above = rising and (not held or int(new[0]) > int(self._agent_ids[held - 1]))
        if not above:
            self._prune_agents()  # "there" is open: a final order's id may come again
            if not rising and len(np.unique(new)) != n:
                return None
            if np.count_nonzero(self._agent_slot_of(new) >= 0):
                return None
        elif held + n > self._agents_prune_at:
            self._prune_agents()
        at = self._overflow_slots(n)
        put_rows(self.record, at, rows)
        self.leaves[at], self.due[at] = leaves, NO_DUE
        self.state[at], self.ack_token[at], self.stamp[at], self.flags[at] = state, 0, stamp, 0
        ids = np.concatenate((self._agent_ids[:-1], new, _NO_AGENT_IDS))
        slots = np.concatenate((self._agent_slots[:-1], at, _NO_AGENT_SLOTS))
        if not above:
            order = np.argsort(ids, kind="stable")
            ids, slots = ids[order], slots[order]
        self._agent_ids, self._agent_slots = ids, slots
        return at

    def _prune_agents(self) -> None:
        """Drop the agents' orders now final from their index, their slots back to the free
        ones; the next prune once what it holds has doubled (so O(1) an order, amortised)."""
        slots = self._agent_slots[:-1]
        live = np.append(self.state[slots] != FREE, True)  # and the sentinel
        if not live.all():
            self._free_overflow = np.concatenate((self._free_overflow, self._agent_slots[~live]))
            self._agent_ids, self._agent_slots = self._agent_ids[live], self._agent_slots[live]
        self._agents_prune_at = max(2 * (len(self._agent_ids) - 1), _AGENTS_PRUNE_LEAST)

    def _agent_slot_of(self, oids: np.ndarray) -> np.ndarray:
        """The slot of each agent's order, -1 for one not there."""
        at = np.searchsorted(self._agent_ids, oids)  # the sentinel's place at most
        return np.where(self._agent_ids[at] == oids, self._agent_slots[at], -1)

    def _far_slot_of(self, oids: np.ndarray) -> np.ndarray:
        """The slot of each id outside the window: an old open order's, or an agent's; -1.
        Each id is looked up in one index first (the agents' for ids above AGENT_BASE), and
        only the ids not found there in the other (none but odd records')."""
        agents = oids > _AGENT_BASE
        n_agents = np.count_nonzero(agents)
        if n_agents == len(oids):
            found = self._agent_slot_of(oids)
        elif not n_agents:
            found = self._old.find(oids)
        else:
            found = np.empty(len(oids), np.int64)
            found[agents] = self._agent_slot_of(oids[agents])
            found[~agents] = self._old.find(oids[~agents])
        missing = found < 0
        if np.count_nonzero(missing):
            ids = oids[missing]
            found[missing] = np.maximum(self._old.find(ids), self._agent_slot_of(ids))
        return found

    # -- finding ------------------------------------------------------------------------------

    def slots(self, oids: np.ndarray) -> np.ndarray | None:
        """The slot of each order id, or None if one names no order the window holds."""
        at = self.find(oids)
        return None if np.count_nonzero(at < 0) else at

    def slot(self, oid: int) -> int | None:
        """The slot of one order id, or None."""
        if self.lo <= oid < self.hi:
            return oid & _MASK
        slot = int(self._far_slot_of(np.array([oid], np.int64))[0])
        return None if slot < 0 else slot

    def find(self, oids: np.ndarray) -> np.ndarray:
        """``slot`` of many ids at once: the slot of each, -1 for one the window holds not
        (those outside the window looked up in one whole-array step, not one by one)."""
        # lo <= oid < hi in one comparison: below lo wraps round to far above as unsigned
        inside = (oids - self.lo).view(np.uint64) < np.uint64(self.hi - self.lo)
        at = oids & _MASK
        if np.count_nonzero(inside) < len(oids):
            far = ~inside
            at[far] = self._far_slot_of(oids[far])
        return at

    def mark(self, oids: np.ndarray, bit: int) -> None:
        """Set a bit of ``flags`` for each of these ids the window holds (others are skipped)."""
        at = self.find(oids)
        self.flags[at[at >= 0]] |= bit

    def repeats(self, slots: np.ndarray) -> bool:
        """Whether a slot comes twice: stamp each slot with its position, read the stamps back."""
        at = np.arange(len(slots))
        self._stamp[slots] = at
        return bool(np.count_nonzero(self._stamp[slots] != at))

    # -- event by event -----------------------------------------------------------------------

    def _known(self, oids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """The ids among these that name a slot, and their slots."""
        ids = np.fromiter(oids, np.int64)
        at = self.find(ids)
        known = at >= 0
        return ids[known], at[known]

    def load(self, oids: Iterable[int]) -> dict[int, Entry]:
        """The open orders among these ids, as entries, read from their slots in bulk."""
        ids, at = self._known(oids)
        found, slots = ids.tolist(), at.tolist()
        return {
            oid: Entry(slot, tuple(record), leaves, due, state, token)
            for oid, slot, record, leaves, due, state, token in zip(
                found,
                slots,
                self.record[at].tolist(),
                self.leaves[at].tolist(),
                self.due[at].tolist(),
                self.state[at].tolist(),
                self.ack_token[at].tolist(),
            )
            if state != FREE
        }

    def store(self, entries: dict[int, Entry]) -> None:
        """Write the state, leaves and ack token of loaded entries back to their slots."""
        if entries:
            at = np.array([e.slot for e in entries.values()], np.int64)
            self.state[at] = [e.state for e in entries.values()]
            self.leaves[at] = [e.leaves for e in entries.values()]
            self.ack_token[at] = [e.token for e in entries.values()]

    # -- scans --------------------------------------------------------------------------------

    def open_slots(self) -> tuple[np.ndarray, np.ndarray]:
        """Every open order and cancel: ids rising, and their slots."""
        old_ids, old_slots = self._old.entries()
        old = np.flatnonzero(self.state[old_slots] != FREE)
        old = old[np.argsort(old_ids[old])]
        window = np.arange(self.lo, self.hi, dtype=np.int64)
        live = np.flatnonzero(self.state[window & _MASK])
        agent_ids, agent_slots = self._agent_ids[:-1], self._agent_slots[:-1]
        agents = self.state[agent_slots] != FREE  # ids above every other
        ids = np.concatenate((old_ids[old], window[live], agent_ids[agents]))
        return ids, np.concatenate((old_slots[old], window[live] & _MASK, agent_slots[agents]))

    def open_of(self, sym_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """``open_slots`` of the orders and cancels of these wire symbols only (chosen with
        array operations: a restart of one shard then costs what that shard holds, not what
        every book holds, and makes no Python object per order)."""
        oids, at = self.open_slots()
        keep = np.isin(self.record[at, _SYM], np.fromiter(sym_ids, np.int64))
        return oids[keep], at[keep]

    def open_orders(self, sym_ids: Iterable[int] | None = None) -> list[tuple[int, tuple, int, int]]:
        """Every open order and cancel as (oid, record, leaves, state), in id order; only those
        of ``sym_ids`` when given."""
        oids, at = self.open_slots() if sym_ids is None else self.open_of(sym_ids)
        ids = oids.tolist()
        return [
            (oid, tuple(record), leaves, state)
            for oid, record, leaves, state in zip(
                ids, self.record[at].tolist(), self.leaves[at].tolist(), self.state[at].tolist()
            )
        ]
