"""The bank's own refusals on the watched symbol's tape, like any broker's REJECT.

An order the pre-trade checks refuse (``simulator.risk``) never reaches a broker, so no broker
tape records it. ``RefusalTape`` is the bank's ``on_refused`` hook: it takes the refused orders
of the symbol the dashboard watches, at most ``tape.EYE_ORDERS_PER_S`` a second as a broker's
tape does (the rest are counted as skipped), and hands them to the snapshot builder as a TAPE
message of that symbol would (``SnapshotBuilder.on_tape``): the new order, then its REJECT with
the reason.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from simulator.orders import Event
from simulator.tape import TapeRecorder

_REJECT = int(Event.REJECT)


class RefusalTape:
    def __init__(self, snapshots: Any, symbols: tuple[str, ...]) -> None:
        self.snapshots = snapshots  # the SnapshotBuilder: selected_symbol, on_tape
        self.symbols = symbols
        self.eye = TapeRecorder()  # only its token bucket
        self.last: list[tuple[tuple[int, ...], int]] = []  # the latest refused rows, and reasons
        self.shown: set[int] = set()  # ids of those already on the tape

    def __call__(self, rows: np.ndarray, reasons: np.ndarray) -> None:
        self.last = list(zip(map(tuple, rows.tolist()), reasons.tolist()))
        self.shown = set()
        symbol = self.snapshots.selected_symbol
        if symbol is None or symbol not in self.symbols:
            return
        sym = self.symbols.index(symbol)
        mine = rows[:, 2] == sym
        if mine.any():
            refused = zip(map(tuple, rows[mine].tolist()), reasons[mine].tolist())
            self._show(symbol, list(refused))

    def again(self, oid: int) -> None:
        """A step's order, once its symbol is watched: on the tape if it was refused and is
        not there yet (it was refused before the dashboard watched its symbol)."""
        symbol = self.snapshots.selected_symbol
        for row, why in self.last:
            if row[0] == oid and oid not in self.shown and symbol == self.symbols[row[2]]:
                self.eye.tokens = max(self.eye.tokens, 1.0)
                self._show(symbol, [(row, why)])

    def _show(self, symbol: str, refused: list[tuple[tuple[int, ...], int]]) -> None:
        now = time.monotonic()
        self.eye.tick(now)
        taken, skipped = [], 0
        for row, why in refused:
            if self.eye.tokens >= 1.0:
                self.eye.tokens -= 1.0
                taken.append((now, row, (_REJECT, row[0], why, 0, 0, 0, 0)))
                self.shown.add(row[0])
            else:
                skipped += 2  # its new order and its reject
        self.snapshots.on_tape((symbol, skipped, taken))
