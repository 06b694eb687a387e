"""What the ledger books of the order types beyond the order window: amends, triggers, icebergs'
slices, self-trade prevention's cancels, and the books a restarted broker gets back.

A broker's AMENDED, TRIGGERED and SHOWN events (``orders.py``) are taken out of each batch by
``TypeLedger.take`` before the ledger books the rest its usual way (whole-array or event by
event), so those paths see only the kinds they know:

* AMENDED answers the amend request (a CANCEL record with qty > 0: counted with the cancel
  requests, and apart in ``amends_done``) and changes its target: leaves by the event's delta,
  price, and priority stamp. A delta commutes with the fills of the same batch, so booking it
  before them leaves the order's leaves right at the end of the batch, whatever came first.
* TRIGGERED: the stop is on the book from now (until then it rests off it, held).
* SHOWN: an iceberg's leaves when its latest slice was shown, from which its visible shares
  follow (``visible = min(display, shown) - (shown - leaves)``).
* A CANCELLED with a reason (SELF_TRADE) is counted by reason in ``cancel_reasons``.

What they give an order (its priority stamp, an iceberg's shown leaves, a stop's trigger) is
kept in the order window's slot arrays (``OrderWindow.stamp``, ``shown``, ``flags``), not in
dictionaries by id: they go with the order's slot, so nothing here grows with the orders seen
nor needs pruning. ``priority`` and ``visible`` are what a restarted broker's books need of
them (``restart_state.py``): an order's place within its price (arrival, unless an event put it
at the back since) and an iceberg's shown shares. Pure model: numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.agent_records import AGENT_ORDER
from simulator.agents import AGENT_BASE, MOMENTUM_SLOT, REVERSION_SLOT, SLOTS
from simulator.order_window import ACKED, FREE, SENT, SHOWN, TRIGGERED, OrderWindow
from simulator.orders import STAMP_SHIFT, Event, OrderType
from simulator.outside_ids import OUTSIDE_BASE, priority
from simulator.rows import rows_at, rows_where

_CANCELLED, _AMENDED, _TRIGGERED, _SHOWN = int(Event.CANCELLED), int(Event.AMENDED), int(Event.TRIGGERED), 8
_TRADE = int(Event.TRADE)
_CANCEL, _STOP, _STOP_LIMIT, _ICEBERG = int(OrderType.CANCEL), 3, 4, int(OrderType.ICEBERG)
_ACCOUNT, _SYM, _SIDE, _OTYPE, _TIF, _PRICE, _QTY, _TARGET = 1, 2, 3, 4, 5, 6, 7, 8
_STAMP_K = (1 << STAMP_SHIFT) - 1  # ids kept before the first look for final ones among them
_GROUPS = np.array([_TRIGGERED, _SHOWN, AGENT_ORDER, AGENT_ORDER + 1])  # where each kind starts
_OUTSIDE_STAMP = (OUTSIDE_BASE + 1) << STAMP_SHIFT  # the first stamp of an outside message
_OUTSIDE_TRIGGERED = AGENT_BASE + (OUTSIDE_BASE + 1) * SLOTS  # an agent's id with such a trigger
# an AGENT_ORDER's packed field (agent_records.pack_kind): its low bits decoded, once for all
_LOW_BITS = (1 << 10) - 1
_LOW = np.arange(_LOW_BITS + 1, dtype=np.int64)
_DECODED = np.stack(((_LOW & 7) - 1, (_LOW >> 6) & 15, (_LOW >> 3) & 7), 1)  # side, type, tif
_IS_CANCEL = _DECODED[:, 1] == _CANCEL
# an agent order's kind (index in agents.KINDS) by its id's slot (agents.slot_of: id % SLOTS)
_SLOT_KIND = np.repeat(
    np.arange(3, dtype=np.int64), (MOMENTUM_SLOT, REVERSION_SLOT - MOMENTUM_SLOT, SLOTS - REVERSION_SLOT)
)
assert AGENT_BASE % SLOTS == 0  # so an id's slot is its low bits


class TypeLedger:
    """The ledger's record of the order types (see the module docstring)."""

    def __init__(self) -> None:
        self.amends_done = self.triggers = self.refills = 0
        self.cancel_reasons: dict[int, int] = {}  # reason -> CANCELLED events with it
        self.anchors: dict[int, int] = {}  # outside message id -> its anchor, for priority
        # per agent kind (agents.KINDS): orders placed, cancel requests, trades, shares traded
        self.agent_counts = np.zeros((3, 4), np.int64)
        self._kinds_of: Any = None  # the agents' parameters _kind_table is of
        self._kind_table = np.zeros(0, np.int64)

    def take(self, ev: np.ndarray, window: OrderWindow, ledger: Any) -> np.ndarray:
        """Book the batch's AMENDED, TRIGGERED and SHOWN events and count the reasons of its
        CANCELLED ones; the batch without the three. What cannot be booked is counted in
        ``ledger.unknown_events``."""
        kind = ev[:, 0]
        if ledger.agents.count:
            self._agent_trades(rows_where(ev, kind == _TRADE))
        reasons = ev[:, 3][kind == _CANCELLED]
        if np.count_nonzero(reasons):
            for r, n in zip(*np.unique(reasons[reasons != 0], return_counts=True)):
                self.cancel_reasons[int(r)] = self.cancel_reasons.get(int(r), 0) + int(n)
        special = kind >= _AMENDED
        n_special = np.count_nonzero(special)
        if not n_special:
            return ev
        rows = rows_where(ev, special)
        if n_special > 1:  # grouped by kind, each kind's in batch order: one slice each
            rows = rows_at(rows, np.argsort(rows[:, 0], kind="stable"))
        trig, shown, agent, other = np.searchsorted(rows[:, 0], _GROUPS).tolist()
        done = None  # the CANCELLED of targets of agents' cancels done: booked after the rest
        if other > agent:  # first: the batch's other events name them
            done = self._agent_orders(rows[agent:other], window, ledger)
        for k, some in ((_SHOWN, rows[shown:agent]), (_TRIGGERED, rows[trig:shown])):
            if len(some):  # many (an iceberg's slices): booked whole-array
                self._marks(k, some, window, ledger)
        ledger.unknown_events += len(rows) - other  # kinds not known here
        if trig:
            self._amends(rows[:trig], window, ledger)
        if agent:
            stamped = np.concatenate((rows[shown:agent, 4], rows[trig:shown, 2], rows[:trig, 6]))
            if int(stamped.max()) >= _OUTSIDE_STAMP:  # stamped by outside messages: keep their anchor
                m = stamped >> STAMP_SHIFT
                for message in np.unique(m[m > OUTSIDE_BASE]).tolist():
                    self._keep_anchor(message, ledger)
        # a done cancel's target can have traded earlier in the batch: its end goes after that
        rest = rows_where(ev, ~special)
        return rest if done is None else np.concatenate((rest, done))

    def _keep_anchor(self, message: int, ledger: Any) -> None:
        anchor = ledger.outside.anchor(message)
        if anchor is not None:
            self.anchors[message] = anchor

    def _agent_orders(self, rows: np.ndarray, window: OrderWindow, ledger: Any) -> np.ndarray | None:
        """Book AGENT_ORDER events (``agents.py``): orders placed as the bank's own and acked
        (the record stands for the ack), in the window's agents' slots; cancels done (the record
        says so, with the leaves) counted, the CANCELLED of their targets handed back to book
        after the batch's other events; other cancels placed to wait for their answer. A resting
        order's priority stamp is its trigger's, and a trigger of yours keeps its anchor. What
        each kind of agent placed is counted."""
        low = rows[:, 3] & _LOW_BITS  # side, type and tif of the packed field (sym above)
        is_cancel = _IS_CANCEL[low]
        done = is_cancel & (rows[:, 4] > 0)  # the price field of a cancel done: its target's leaves
        n_done = int(np.count_nonzero(done))
        ledger.cancels_sent += n_done
        ledger.cancels_done += n_done
        kind = self._kinds(rows[:, 2], ledger.agents)
        counts = np.bincount(kind + 4 * is_cancel, minlength=8).reshape(2, 4)[:, :3]
        self.agent_counts[:, :2] += counts.T  # orders, then cancel requests
        put = rows
        if n_done:
            kept = ~done
            put, low, is_cancel = rows[kept], low[kept], is_cancel[kept]
        if len(put) and not self._put_agents(put, low, is_cancel, window, ledger):
            ledger.unknown_events += len(put)
        if not n_done:
            return None
        cancelled = np.zeros((n_done, rows.shape[1]), np.int64)
        cancelled[:, 0] = _CANCELLED
        cancelled[:, 1:3] = rows[done][:, 6:3:-2]  # the target (last field), its leaves (price)
        return cancelled

    def _kinds(self, accounts: np.ndarray, params: Any) -> np.ndarray:
        """The kind of agent (index in agents.KINDS) whose account each is; 3 for an account
        not an agent's. Read off a table of the agents' accounts, one step."""
        if self._kinds_of is not params:
            self._kinds_of = params
            sizes = (params.makers, params.momentum, params.mean_reversion, 1)
            self._kind_table = np.repeat(np.arange(4, dtype=np.int64), sizes)
        # an account below the first wraps round to far above as unsigned: past the agents'
        at = np.minimum((accounts - params.first_account).view(np.uint64), np.uint64(params.count))
        return self._kind_table[at.view(np.int64)]  # (indexing by int64 costs half as much)

    def _put_agents(
        self, rows: np.ndarray, low: np.ndarray, cancel: np.ndarray, window: OrderWindow, ledger: Any
    ) -> bool:
        """Place agents' orders, acked, and their cancels that wait for an answer (``low``: the
        low bits of their packed field; ``cancel``: which are cancels)."""
        oid, last = rows[:, 1], rows[:, 6]
        record = np.empty((len(rows), 9), np.int64)
        record[:, :_SYM] = rows[:, 1:3]  # id, account
        record[:, _SYM] = rows[:, 3] >> 10
        record[:, _SIDE:_PRICE] = _DECODED[low]  # side, type, tif
        record[:, _PRICE:_TARGET] = rows[:, 4:6]  # price, qty
        n_cancels = int(np.count_nonzero(cancel))
        state: np.ndarray | int = ACKED
        if n_cancels:
            target = record[:, _TARGET] = np.where(cancel, last, 0)
            leaves, state = np.where(cancel, 0, rows[:, 5]), np.where(cancel, SENT, ACKED)
            stamp = last - target  # a maker's quote its trigger's (a taker's order never rests)
        else:
            record[:, _TARGET] = 0
            leaves, stamp = rows[:, 5], last
        at = window.put_agents(record, leaves, state, stamp)
        if at is None:
            return False
        ledger.cancels_sent += n_cancels
        ledger.placed += len(rows) - n_cancels
        ledger.acked += len(rows) - n_cancels
        if int(oid.max()) >= _OUTSIDE_TRIGGERED:  # triggered by yours: rare
            triggers = (oid - AGENT_BASE) // SLOTS
            for t in np.unique(triggers[triggers > OUTSIDE_BASE]).tolist():
                self._keep_anchor(t, ledger)
        return True

    @property
    def agents_placed(self) -> int:
        return int(self.agent_counts[:, 0].sum())

    def _agent_trades(self, trades: np.ndarray) -> None:
        """Count the trades of agents' orders by kind (read off their ids: ``agents.slot_of``)."""
        ids = trades[:, 3:5].ravel()  # buyer's and seller's orders, by turns
        mine = np.flatnonzero(ids > AGENT_BASE)
        if len(mine):
            kind = _SLOT_KIND[ids[mine] & (SLOTS - 1)]
            self.agent_counts[:, 2] += np.bincount(kind, minlength=3)
            self.agent_counts[:, 3] += np.bincount(kind, trades[mine >> 1, 6], 3).astype(np.int64)

    def _marks(self, k: int, rows: np.ndarray, window: OrderWindow, ledger: Any) -> None:
        """Book a batch's SHOWN (``k``) or TRIGGERED events whole-array, as one by one in
        their order: one naming no open order is unknown; of an order named twice, the later
        event's stamp (and shown leaves) stay, and each counts."""
        slots = window.find(rows[:, 1])
        known = slots >= 0
        known[known] = window.state[slots[known]] != FREE
        if not known.all():
            ledger.unknown_events += int(np.count_nonzero(~known))
            rows, slots = rows[known], slots[known]
        if k == _SHOWN:
            self.refills += int(np.count_nonzero(rows[:, 4] != rows[:, 1] << STAMP_SHIFT))
        else:
            self.triggers += len(rows)
        window.flags[slots] |= SHOWN if k == _SHOWN else TRIGGERED
        if window.repeats(slots):  # keep each order's last event: its first seen from the end
            last = len(slots) - 1 - np.unique(slots[::-1], return_index=True)[1]
            rows, slots = rows[last], slots[last]
        if k == _SHOWN:
            window.shown[slots] = rows[:, 2]
        window.stamp[slots] = rows[:, 4] if k == _SHOWN else rows[:, 2]

    def _amends(self, amends: np.ndarray, window: OrderWindow, ledger: Any) -> None:
        """Book AMENDED events one by one (each ends its request, which a later one may name
        again). The slots of the ids are found first in two whole-array look-ups: booking an
        amend moves no order."""
        state, record, stamp, leaves = window.state, window.record, window.stamp, window.leaves
        requests, targets = window.find(amends[:, 1]).tolist(), window.find(amends[:, 2]).tolist()
        for row, slot, target in zip(amends.tolist(), requests, targets):
            # the target may have been acked in this batch: its ACK is booked after this
            if (
                slot < 0
                or state[slot] != SENT  # FREE: unknown too
                or record[slot, _OTYPE] != _CANCEL
                or target < 0
                or state[target] == FREE
            ):
                ledger.unknown_events += 1
                continue
            state[slot] = FREE
            ledger.cancels_done += 1
            self.amends_done += 1
            leaves[target] += row[5]
            record[target, _PRICE] = row[4]
            if row[6]:
                stamp[target] = row[6]

    def priority(self, oid: int, anchor: int | None, stamp: int = 0) -> tuple[int, ...]:
        """An order's place within its price: ``outside_ids.priority`` of the message that last
        put it at the back of its level (itself on arrival; an amend, the order that triggered a
        stop or refilled an iceberg: its ``stamp``, 0 for none), then which of that message's
        stamps it was."""
        if not stamp:
            return (*priority(oid, anchor), 0)
        m = stamp >> STAMP_SHIFT
        return (*priority(m, self.anchors.get(m)), stamp & _STAMP_K)

    @staticmethod
    def visible(display: int, leaves: int, at_show: int) -> int:
        """What an iceberg shows now: its latest slice (``at_show``: its leaves when the slice
        was shown) less what has traded since."""
        return min(display, at_show) - (at_show - leaves)
