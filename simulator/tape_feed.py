"""The bank's side of the tape: which brokers record what, and the events a Snapshot carries.

Two modes. *Watched* (the default): the broker of the watched symbol is told to WATCH it and
records that one book (``tape.TapeRecorder``); its TAPE messages are numbered as they come.
*All symbols* (``set_all``: the dashboard's ``T``, the ``tape`` command): every broker is told
to WATCH with a budget, its share of ``tape.EYE_ORDERS_PER_S``, and records every book it
has; the bank merges their TAPE messages in placement order (``tape.TapeMerge``) and numbers
the events as they leave the merge, ``MERGE_HOLD_S`` after they came. Either way the watched
symbol's broker carries its depth in heartbeats. With the mode off no broker records more
than one book, so the flow's cost at ``--rate 0`` is that of the watched tape.

The events are kept here (the latest ``TAPE_KEPT``) with the count of those the sampling
left out; the snapshot builder puts both in every Snapshot.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from simulator import messages as msg
from simulator.channel import ChannelFull, ChannelGone
from simulator.outside_ids import is_outside, priority
from simulator.stats import TapeEvent
from simulator.tape import ALL_SYMBOLS as ALL
from simulator.tape import EYE_ORDERS_PER_S, TapeMerge, tape_events
from simulator.wire import EVENT_WIDTH

TAPE_KEPT = 200  # the tape's latest events in each Snapshot: a view keeps its own history


class TapeFeed:
    """The tape's events for the Snapshots, from the brokers' TAPE messages."""

    def __init__(self, bank: Any, t0: float) -> None:
        self.bank = bank
        self.t0 = t0
        self.all = False  # the all-symbols tape is on
        self.kept: deque[TapeEvent] = deque(maxlen=TAPE_KEPT)
        self.skipped = 0  # events left out since the watch began
        self.watch_sent: str | None = None  # the symbol watched (its broker was told)
        self.all_sent = False  # every broker was told to tape all its books
        self._resend = False  # a broker was restarted since: tell them all again
        self._seq = 0
        self._merge = TapeMerge()

    # -- what the brokers are told ----------------------------------------------------------------

    def set_all(self, on: bool) -> None:
        """Turn the all-symbols tape on or off (told to the brokers by the next ``send_watch``)."""
        self.all = on

    def forget(self, index: int, selected: str | None) -> None:
        """Broker ``index`` was restarted: the new process watches nothing yet."""
        if self.all:
            self._resend = True
        elif selected in self.bank.routing.shards[index]:
            self.watch_sent = None

    def send_watch(self, selected: str | None, again: bool = False) -> None:
        """Tell the brokers what to record for ``selected`` (and, all symbols on, the rest),
        unless they were told (``again``: still, to refill the tape's bucket)."""
        if self.all:
            if selected != self.watch_sent or not self.all_sent or again or self._resend:
                self._send_all(selected)
            return
        if self.all_sent:  # the all-symbols tape is off now: every broker records nothing
            if not self._send_everyone(lambda _index: ""):
                return
            self.all_sent, self.watch_sent = False, None
        if selected and (selected != self.watch_sent or again):
            self._send_one(selected)

    def _send_one(self, symbol: str) -> None:
        broker_of = self.bank.routing.broker_of
        before = self.watch_sent
        try:
            self.bank.brokers.channel(broker_of[symbol]).send(msg.encode(msg.WATCH, symbol))
        except (ChannelFull, ChannelGone):
            return  # next time
        if symbol == before:
            return  # the same tape goes on
        if before is not None and broker_of[before] != broker_of[symbol]:
            try:  # the broker of the symbol watched before stops recording its tape
                self.bank.brokers.channel(broker_of[before]).send(msg.encode(msg.WATCH, ""))
            except (ChannelFull, ChannelGone):
                pass  # its late tape is ignored (on_tape); a restarted broker watches nothing
        self.watch_sent = symbol
        self._begin(symbol)

    def _send_all(self, selected: str | None) -> None:
        brokers = self.bank.routing.brokers
        budget = EYE_ORDERS_PER_S / brokers  # the eye's rate, shared
        owner = self.bank.routing.broker_of.get(selected or "")
        if not self._send_everyone(lambda index: (selected if index == owner else "", budget)):
            return  # told again next time: a WATCH as the one before only refills the bucket
        if not self.all_sent:
            self._merge = TapeMerge()
            self._begin(ALL)
        self.all_sent, self.watch_sent, self._resend = True, selected, False

    def _send_everyone(self, body: Any) -> bool:
        sent = True
        for index in range(self.bank.routing.brokers):
            try:
                self.bank.brokers.channel(index).send(msg.encode(msg.WATCH, body(index)))
            except (ChannelFull, ChannelGone):
                sent = False
        return sent

    def _begin(self, symbol: str) -> None:
        """A new tape: a line says what it shows; the skipped count starts again."""
        self.skipped = 0
        self._seq += 1
        self.kept.append(TapeEvent(self._seq, time.monotonic() - self.t0, "watch", symbol, 0))

    # -- what they send -----------------------------------------------------------------------------

    def on_tape(self, body: tuple, now: float | None = None) -> None:
        """A TAPE message: the watched symbol's orders, numbered here; all symbols on, any
        broker's (or the bank's refusals), into the merge."""
        symbol, skipped, taken = body
        if self.all:
            self._merge_in(symbol, skipped, taken, time.monotonic() if now is None else now)
            return
        if symbol != self.watch_sent:
            return  # late words of a broker that watched the symbol before
        self.skipped += skipped
        for t, order, events in taken:
            self._number(symbol, t, order, events)

    def _merge_in(self, symbol: str, skipped: int, taken: list, now: float) -> None:
        self.skipped += skipped
        symbols = self.bank.config.symbols
        outside = self.bank.ledger.outside
        key = None
        for t, order, events in taken:
            oid = order[0]
            if not is_outside(oid):
                key = priority(oid)
            elif (anchor := outside.anchor(oid)) is not None:
                key = priority(oid, anchor)
            elif key is not None:  # yours, final already: right behind the order before it
                key = (key[0], 1, oid)
            else:
                key = (self._merge.last_key or (0,))[:1] + (1, oid)
            name = symbol if symbol != ALL else symbols[order[2]] if 0 <= order[2] < len(symbols) else "?"
            self._merge.add(now, key, (name, t, order, events), 1 + len(events) // EVENT_WIDTH)

    def release(self, now: float) -> None:
        """All symbols on: the merged records whose turn came, onto the tape."""
        if self.all or len(self._merge):
            for name, t, order, events in self._merge.due(now):
                self._number(name, t, order, events)
        late, self._merge.late = self._merge.late, 0
        self.skipped += late

    def _number(self, symbol: str, t: float, order: Any, events: Any) -> None:
        new = tape_events(symbol, max(t - self.t0, 0.0), order, events, self._seq + 1)
        self._seq += len(new)
        self.kept.extend(new)
