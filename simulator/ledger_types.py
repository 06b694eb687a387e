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

``book_states`` is what the bank knows each book holds, for a restarted broker: resting orders
in priority order (price, then stamp: ``oid << STAMP_SHIFT`` unless an event gave another),
icebergs with their display and visible shares, and the held stops. Pure model: numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.order_window import ACKED, FREE, SENT, OrderWindow
from simulator.orders import STAMP_SHIFT, Event, OrderType

_CANCELLED, _AMENDED, _TRIGGERED, _SHOWN = int(Event.CANCELLED), int(Event.AMENDED), int(Event.TRIGGERED), 8
_CANCEL, _STOP, _STOP_LIMIT, _ICEBERG = int(OrderType.CANCEL), 3, 4, int(OrderType.ICEBERG)
_ACCOUNT, _SYM, _SIDE, _OTYPE, _TIF, _PRICE, _QTY, _TARGET = 1, 2, 3, 4, 5, 6, 7, 8
_PRUNE_AT = 1 << 16  # ids kept before the first look for final ones among them


class TypeLedger:
    """The ledger's record of the order types (see the module docstring)."""

    def __init__(self) -> None:
        self.stamps: dict[int, int] = {}  # oid -> priority stamp given by an event
        self.shown: dict[int, int] = {}  # iceberg oid -> its leaves when its slice was last shown
        self.triggered: set[int] = set()  # stops entered on their book
        self.amends_done = self.triggers = self.refills = 0
        self.cancel_reasons: dict[int, int] = {}  # reason -> CANCELLED events with it
        self._prune_at = _PRUNE_AT

    def take(self, ev: np.ndarray, window: OrderWindow, ledger: Any) -> np.ndarray:
        """Book the batch's AMENDED, TRIGGERED and SHOWN events and count the reasons of its
        CANCELLED ones; the batch without the three. What cannot be booked is counted in
        ``ledger.unknown_events``."""
        kind = ev[:, 0]
        reasons = ev[kind == _CANCELLED, 3]
        if reasons.any():
            for r, n in zip(*np.unique(reasons[reasons != 0], return_counts=True)):
                self.cancel_reasons[int(r)] = self.cancel_reasons.get(int(r), 0) + int(n)
        special = kind >= _AMENDED
        if not special.any():
            return ev
        rows = ev[special]
        kinds = rows[:, 0]
        for k in (_SHOWN, _TRIGGERED):  # many (an iceberg's slices): booked whole-array when sound
            some = rows[kinds == k]
            slots = window.slots(some[:, 1]) if len(some) else None
            if slots is None or (window.state[slots] == FREE).any():
                self._rows(some.tolist(), window, ledger)
                continue
            oids, stamps = some[:, 1].tolist(), (some[:, 4] if k == _SHOWN else some[:, 2]).tolist()
            self.stamps.update(zip(oids, stamps))
            if k == _SHOWN:
                self.shown.update(zip(oids, some[:, 2].tolist()))
                self.refills += int(np.count_nonzero(some[:, 4] != some[:, 1] << STAMP_SHIFT))
            else:
                self.triggered.update(oids)
                self.triggers += len(oids)
        self._rows(rows[(kinds != _SHOWN) & (kinds != _TRIGGERED)].tolist(), window, ledger)
        if len(self.stamps) + len(self.shown) > self._prune_at:
            self._prune(window)
        return ev[~special]

    def _rows(self, rows: list, window: OrderWindow, ledger: Any) -> None:
        """Book events one by one: AMENDED, and what the whole-array step refused."""
        state, record = window.state, window.record
        for row in rows:
            k, a, b = row[0], row[1], row[2]
            slot = window.slot(a)
            if slot is None or state[slot] == FREE:
                ledger.unknown_events += 1
            elif k == _AMENDED:
                target = window.slot(b)
                # the target may have been acked in this batch: its ACK is booked after this
                if (
                    state[slot] != SENT
                    or record[slot, _OTYPE] != _CANCEL
                    or target is None
                    or state[target] == FREE
                ):
                    ledger.unknown_events += 1
                    continue
                state[slot] = FREE
                ledger.cancels_done += 1
                self.amends_done += 1
                window.leaves[target] += row[5]
                record[target, _PRICE] = row[4]
                if row[6]:
                    self.stamps[b] = row[6]
            elif k == _TRIGGERED:
                self.triggered.add(a)
                self.stamps[a] = b
                self.triggers += 1
            elif k == _SHOWN:
                self.shown[a] = b
                self.stamps[a] = row[4]
                self.refills += row[4] != a << STAMP_SHIFT
            else:
                ledger.unknown_events += 1

    def _prune(self, window: OrderWindow) -> None:
        """Forget the orders that are final: what is kept follows the orders open."""
        open_ids = window.load(set(self.stamps) | set(self.shown) | self.triggered)
        self.stamps = {o: s for o, s in self.stamps.items() if o in open_ids}
        self.shown = {o: s for o, s in self.shown.items() if o in open_ids}
        self.triggered = {o for o in self.triggered if o in open_ids}
        self._prune_at = max(_PRUNE_AT, 2 * (len(self.stamps) + len(self.shown)))

    def book_states(self, ledger: Any, symbols) -> dict[str, tuple]:
        """What each book holds as far as the bank knows: {symbol: (resting, match_seq,
        last_price, max_oid, held)}, resting in priority order (bids best first, then asks
        best first; within a price by stamp), an iceberg's with (display, visible) after;
        held the stops not triggered, by id (as ``msg.BookState`` takes them)."""
        wanted = {ledger.symbol_ids[s]: s for s in symbols if s in ledger.symbol_ids}
        resting: dict[str, list[tuple]] = {s: [] for s in wanted.values()}
        held: dict[str, list[tuple]] = {s: [] for s in wanted.values()}
        first_unanswered: dict[str, int] = {}
        stamps, shown = self.stamps, self.shown
        for oid, r, leaves, state in ledger._window.open_orders(wanted):
            symbol = wanted.get(r[_SYM])
            if symbol is None:
                continue
            if state != ACKED:
                first_unanswered.setdefault(symbol, oid)
            elif r[_OTYPE] in (_STOP, _STOP_LIMIT) and oid not in self.triggered:
                held[symbol].append(
                    (oid, r[_ACCOUNT], r[_SIDE], r[_OTYPE], r[_TIF], r[_PRICE], leaves, r[_TARGET])
                )
            else:
                order: tuple = (oid, r[_ACCOUNT], r[_SIDE], r[_PRICE], leaves)
                if r[_OTYPE] == _ICEBERG:
                    at_show = shown.get(oid, leaves)
                    order += (r[_TARGET], min(r[_TARGET], at_show) - (at_show - leaves))
                resting[symbol].append((stamps.get(oid, oid << STAMP_SHIFT), order))
        states = {}
        for symbol, orders in resting.items():
            bids = sorted((o for o in orders if o[1][2] > 0), key=lambda o: (-o[1][3], o[0]))
            asks = sorted((o for o in orders if o[1][2] < 0), key=lambda o: (o[1][3], o[0]))
            trade = ledger._last_trade_of(ledger.symbol_ids[symbol])
            # every order before the first unanswered one was answered (a broker answers in order)
            max_oid = first_unanswered.get(symbol, ledger.max_oid + 1) - 1
            book = tuple(o for _stamp, o in bids + asks)
            last = trade[5] if trade else None
            states[symbol] = (book, trade[2] if trade else 0, last, max_oid, tuple(held[symbol]))
        return states
