"""Each symbol's trading over a run: trades, volume, VWAP, open/high/low/close.

``TradedDigest`` is the ledger's fills digest (``FillsDigest``) that also keeps these figures,
counted a whole batch of trades at a time (a few array operations per batch, never per order or
per symbol), so the report's per-symbol table costs the run next to nothing. ``final_books``
turns what the brokers report resting at the end into each symbol's final spread and depth,
and ``account_table`` ranks the accounts by P&L.

Pure model: numpy and the digest only. Prices are integer ticks; the VWAP is a float of ticks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from simulator.fills_digest import FillsDigest
from simulator.positions import Positions

_PRICE, _QTY = 3, 4  # columns of a fill: seq, buy_oid, sell_oid, price, qty


class TradedDigest(FillsDigest):
    """The fills digest, and each symbol's trades, volume, notional and OHLC.

    Two ways in, one per booking path of the ledger: ``count_trades`` takes a whole batch of
    trade events grouped by symbol (a few array operations per batch, whatever the number of
    symbols), and ``update_rows`` one symbol's fills as tuples (the event-by-event path). The
    digest's own ``update`` counts nothing: the fast path hashes with it after counting."""

    __slots__ = ("trades", "volume", "notional", "open", "high", "low", "close", "traded")

    def __init__(self, symbols: Iterable[str]) -> None:
        super().__init__(symbols)
        n = len(self.symbols)
        self.trades = np.zeros(n, np.int64)
        self.volume = np.zeros(n, np.int64)
        # ticks x shares; int64 holds 10**11 trades of 10**8 each: more than a run makes
        self.notional = np.zeros(n, np.int64)
        self.open, self.high, self.low, self.close = (np.zeros(n, np.int64) for _ in range(4))
        self.traded = np.zeros(n, bool)

    def count_trades(self, by_symbol: np.ndarray, starts: np.ndarray) -> None:
        """Trade event records (n, 7: kind, sym, seq, buy, sell, price, qty) grouped by symbol,
        match order within each group, the groups beginning at ``starts``."""
        if not len(by_symbol):
            return
        sym = by_symbol[starts, 1]
        price, qty = by_symbol[:, 5], by_symbol[:, 6]
        ends = np.append(starts[1:], len(by_symbol))
        self.trades[sym] += ends - starts
        self.volume[sym] += np.add.reduceat(qty, starts)
        self.notional[sym] += np.add.reduceat(price * qty, starts)
        hi, lo = np.maximum.reduceat(price, starts), np.minimum.reduceat(price, starts)
        new = ~self.traded[sym]
        self.open[sym[new]] = price[starts[new]]
        self.high[sym] = np.where(new, hi, np.maximum(self.high[sym], hi))
        self.low[sym] = np.where(new, lo, np.minimum(self.low[sym], lo))
        self.close[sym] = price[ends - 1]
        self.traded[sym] = True

    def update_rows(self, sym: int, rows: Sequence[Sequence[int]]) -> None:
        super().update_rows(sym, rows)
        if not rows:
            return
        prices = [r[_PRICE] for r in rows]
        if not self.traded[sym]:
            self.open[sym] = self.high[sym] = self.low[sym] = prices[0]
            self.traded[sym] = True
        self.high[sym] = max(int(self.high[sym]), max(prices))
        self.low[sym] = min(int(self.low[sym]), min(prices))
        self.close[sym] = prices[-1]
        self.trades[sym] += len(rows)
        self.volume[sym] += sum(r[_QTY] for r in rows)
        self.notional[sym] += sum(r[_PRICE] * r[_QTY] for r in rows)

    def vwap(self, sym: int) -> float | None:
        """The volume-weighted average price in ticks, None before the first trade."""
        volume = int(self.volume[sym])
        return int(self.notional[sym]) / volume if volume else None

    def most_traded(self, most: int) -> list[int]:
        """The symbols that traded, most volume first, at most ``most`` of them (the views')."""
        traded = np.flatnonzero(self.traded)
        if len(traded) > most:
            traded = traded[np.argpartition(-self.volume[traded], most - 1)[:most]]
        return sorted(traded.tolist(), key=lambda s: -int(self.volume[s]))

    def last_prices(self) -> list[int | None]:
        """Each symbol's last trade price (None if it never traded)."""
        return [int(c) if t else None for t, c in zip(self.traded.tolist(), self.close.tolist())]

    def symbol_table(self, listed: np.ndarray | None = None) -> dict[str, dict]:
        """{symbol: trades, volume, vwap, open, high, low, close} (prices None if it never traded),
        of the symbol indices ``listed`` (every symbol if None)."""
        out = {}
        at = np.arange(len(self.symbols)) if listed is None else listed
        columns = zip(
            [self.symbols[i] for i in at.tolist()],
            *(a[at].tolist() for a in (self.traded, self.trades, self.volume, self.notional)),
            *(a[at].tolist() for a in (self.open, self.high, self.low, self.close)),
        )
        for symbol, traded, trades, volume, notional, o, h, low, c in columns:
            out[symbol] = {
                "trades": trades,
                "volume": volume,
                "vwap": round(notional / volume, 4) if volume else None,
                "open": o if traded else None,
                "high": h if traded else None,
                "low": low if traded else None,
                "close": c if traded else None,
            }
        return out


def busiest(volume: np.ndarray, most: int) -> np.ndarray:
    """The indices of the ``most`` symbols with the most volume (ties: the lower index first),
    rising; every index if there are no more than ``most``."""
    if len(volume) <= most:
        return np.arange(len(volume))
    order = np.lexsort((np.arange(len(volume)), -volume))
    return np.sort(order[:most])


def largest(sym: np.ndarray, qty: np.ndarray, most: int) -> np.ndarray:
    """Of one account's holdings (symbol indices rising, shares), the positions of the ``most``
    largest by shares either way (ties: the lower index first), in symbol order."""
    if len(sym) <= most:
        return np.arange(len(sym))
    order = np.lexsort((sym, -np.abs(qty)))
    return np.sort(order[:most])


def final_books(resting: Mapping[str, Sequence[tuple[int, int, int, int, int]]]) -> dict[str, dict]:
    """Each symbol's book at the end from the orders resting on it, (oid, account, side, price,
    leaves) each: best bid and ask, spread, and depth (orders and shares) on each side."""
    out = {}
    for symbol, orders in resting.items():
        bids = [(price, leaves) for _oid, _acct, side, price, leaves in orders if side > 0]
        asks = [(price, leaves) for _oid, _acct, side, price, leaves in orders if side < 0]
        best_bid = max((p for p, _ in bids), default=None)
        best_ask = min((p for p, _ in asks), default=None)
        out[symbol] = {
            "best_bid": best_bid,
            "best_ask": best_ask,
            "spread": best_ask - best_bid if best_bid is not None and best_ask is not None else None,
            "bid_orders": len(bids),
            "bid_shares": sum(q for _, q in bids),
            "ask_orders": len(asks),
            "ask_shares": sum(q for _, q in asks),
        }
    return out


def account_table(
    positions: np.ndarray | Positions,
    cash: np.ndarray,
    marks: Sequence[int | None],
    symbols: Sequence[str],
    top: int = 10,
    count: int | None = None,
    most: int | None = None,
    listed: Sequence[int] | None = None,
) -> dict:
    """Per account: P&L marked to ``marks`` (each symbol's last price; a symbol that never traded
    holds no position), cash and positions, for the ``top`` best and worst accounts.

    ``positions`` is the ledger's ``Positions`` (or a (symbols, accounts) array) in shares,
    ``cash`` per account in ticks x shares, so P&L = cash + positions marked, in ticks x shares;
    over all accounts it sums to 0. ``count``: only the first accounts (those past it hold
    nothing). ``most``: each account lists its ``most`` largest positions only (and how many
    it left out, ``positions_not_listed``), and ``marked_to`` names only the symbols listed
    (``listed``, symbol indices) or held by a row, not every symbol."""
    if isinstance(positions, np.ndarray):
        grid = positions
        positions = Positions(*grid.shape)
        cells = np.nonzero(grid)
        positions.add(cells[0], cells[1], grid[cells])
    mark = np.array([m or 0 for m in marks], np.int64)
    n = len(cash) if count is None else count
    pnl = (cash + positions.marked(mark))[:n]
    order = np.argsort(-pnl, kind="stable")

    best = order[: min(top, n)].tolist()
    worst = order[::-1][: min(top, n)].tolist()
    held, left_out = _held(positions, best + worst, most)

    def row(account: int) -> dict:
        out = {
            "account": account,
            "pnl": int(pnl[account]),
            "cash": int(cash[account]),
            "positions": {symbols[s]: q for s, q in held[account].items()},
        }
        if left_out.get(account):
            out["positions_not_listed"] = left_out[account]
        return out

    if most is None:
        marked_to = dict(zip(symbols, marks))
    else:
        named = set(listed or ()).union(*(h.keys() for h in held.values()))
        marked_to = {symbols[s]: marks[s] for s in sorted(named)}
    return {
        "count": n,
        "unit": "ticks x shares",
        "marked_to": marked_to,
        "pnl_sum": int(pnl.sum()),
        "top": [row(a) for a in best],
        "bottom": [row(a) for a in worst],
    }


def _held(positions: Positions, accounts: list[int], most: int | None) -> tuple[dict, dict[int, int]]:
    """What these accounts hold, {account: {symbol index: shares}}, at most ``most`` symbols
    each (the largest), and how many each left out."""
    if most is None:
        return positions.of_accounts(accounts), {}
    acct, sym, qty = positions.holdings(accounts)
    held: dict[int, dict[int, int]] = {a: {} for a in accounts}
    left_out = {}
    starts = np.flatnonzero(np.append(True, acct[1:] != acct[:-1])) if len(acct) else acct
    for lo, hi in zip(starts.tolist(), [*starts[1:].tolist(), len(acct)]):
        keep = lo + largest(sym[lo:hi], qty[lo:hi], most)
        held[int(acct[lo])] = dict(zip(sym[keep].tolist(), qty[keep].tolist()))
        left_out[int(acct[lo])] = hi - lo - len(keep)
    return held, left_out
