"""Per-symbol market data of a run: trades, volume, VWAP, first, high and low prices.

Pure model. The bank feeds it every batch of events it books (``add_events``: the TRADE
records among them); the snapshot builder reads it about ten times a second for the
dashboard's symbols table. Whole-array operations only: a batch costs a few microseconds
whatever its size. Garbage a broker might send (a symbol out of range) is left out here; the
ledger counts it.
"""

from __future__ import annotations

import numpy as np

from simulator.orders import Event

_NO_LOW = np.iinfo(np.int64).max
_TRADE = int(Event.TRADE)


class MarketData:
    """Running per-symbol figures, indexed by the symbol's place in the run's list."""

    def __init__(self, symbols: int) -> None:
        self.trades = np.zeros(symbols, np.int64)
        self.volume = np.zeros(symbols, np.int64)
        self.notional = np.zeros(symbols, np.float64)  # price x qty in ticks: VWAP = notional / volume
        self.first = np.zeros(symbols, np.int64)  # the first trade's price: 'change' is from it
        self.high = np.zeros(symbols, np.int64)
        self.low = np.full(symbols, _NO_LOW, np.int64)

    def add_events(self, events: np.ndarray) -> None:
        """The trades among an (n, 7) array of event records (see ``wire.py``)."""
        trades = events[events[:, 0] == _TRADE]
        if len(trades):
            sym = trades[:, 1]
            ok = (sym >= 0) & (sym < len(self.trades)) & (trades[:, 6] > 0)
            if not ok.all():
                trades, sym = trades[ok], sym[ok]
            self.add_trades(sym, trades[:, 5], trades[:, 6])

    def add_trades(self, sym: np.ndarray, price: np.ndarray, qty: np.ndarray) -> None:
        """Trades as arrays of their symbol index, price and quantity, in match order."""
        n = len(self.trades)
        new = self.trades[sym] == 0
        if np.any(new):  # the first trade of a symbol: its earliest row in this batch
            syms, first = np.unique(sym[new], return_index=True)
            self.first[syms] = price[new][first]
        self.trades += np.bincount(sym, minlength=n)
        self.volume += np.bincount(sym, weights=qty, minlength=n).astype(np.int64)
        self.notional += np.bincount(sym, weights=price * qty, minlength=n)
        np.maximum.at(self.high, sym, price)
        np.minimum.at(self.low, sym, price)

    def vwap(self, sym: int) -> float | None:
        """The volume-weighted average price in ticks, None before the first trade."""
        volume = int(self.volume[sym])
        return float(self.notional[sym]) / volume if volume else None

    def most_traded(self, most: int) -> list[int]:
        """The symbols that traded, most volume first, at most ``most`` of them."""
        traded = np.flatnonzero(self.trades)
        if len(traded) > most:
            traded = traded[np.argpartition(-self.volume[traded], most - 1)[:most]]
        return sorted(traded.tolist(), key=lambda s: -int(self.volume[s]))
