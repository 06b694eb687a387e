"""The accounts view: positions, cash and P&L marked to the last price, and one account's open
orders, for the dashboard's accounts tab.

Pure model (numpy only): reads the ledger's positions and cash, changes nothing. Marking every
account is one pass over what is held (``Positions.marked``), a few milliseconds for the largest
runs, so the
snapshot builder does it once a second, and a Snapshot carries only the top accounts and the
selected account's first open orders (``most`` of each): bounded whatever the run's size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simulator.order_window import ACKED, FREE, OrderWindow
from simulator.orders import OrderType
from simulator.positions import Positions
from simulator.stats import AccountRow, OpenOrder
from simulator.symbol_stats import TradedDigest

Holdings = tuple[np.ndarray, np.ndarray, np.ndarray]  # Positions.holdings: account, symbol, shares

_ACCOUNT, _SYM, _OTYPE = 1, 2, 4
_CANCEL = int(OrderType.CANCEL)
MOST_POSITIONS_SHOWN = 4  # symbols per account row, the largest positions first


def last_prices(traded: TradedDigest) -> np.ndarray:
    """Each symbol's last trade price in ticks (0 before its first trade)."""
    return np.where(traded.traded, traded.close, 0)


def mark(positions: Positions, cash: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(market value of each account's positions, its P&L = cash + that value), in ticks x shares."""
    value = positions.marked(last)
    return value, cash + value


def account_row(account: int, symbols: Sequence[str], positions: Positions, cash: np.ndarray,
                value: np.ndarray, pnl: np.ndarray, held: Holdings | None = None) -> AccountRow:  # fmt: skip
    """One account's figures and its largest positions; ``held``: its ``Positions.holdings``
    (found for it here if not given)."""
    acct, sym, qty = held if held is not None else positions.holdings([account])
    mine = acct == account
    sym, qty = sym[mine], qty[mine]
    biggest = np.lexsort((sym, -np.abs(qty)))[:MOST_POSITIONS_SHOWN]  # ties: lower symbol first
    return AccountRow(
        account=account,
        pnl=int(pnl[account]),
        cash=int(cash[account]),
        value=int(value[account]),
        positions=tuple((symbols[s], q) for s, q in zip(sym[biggest].tolist(), qty[biggest].tolist())),
        symbols_held=len(sym),
    )


def top_accounts(symbols: Sequence[str], positions: Positions, cash: np.ndarray, last: np.ndarray,
                 most: int, also: int | None = None) -> tuple[list[AccountRow], np.ndarray, np.ndarray,
                                                              Holdings]:  # fmt: skip
    """The ``most`` accounts of highest P&L, best first (ties: lower account first), the value
    and P&L arrays they were picked from, and the holdings of them and of ``also`` (one pass
    over what is held for all of them: one per account cost a pass each)."""
    value, pnl = mark(positions, cash, last)
    order = best(pnl, most).tolist()
    held = positions.holdings(order + ([also] if also is not None else []))
    return [account_row(a, symbols, positions, cash, value, pnl, held) for a in order], value, pnl, held


def best(pnl: np.ndarray, most: int) -> np.ndarray:
    """The ``most`` accounts of highest P&L, best first, ties to the lower account: a partition
    and a sort of those picked, not a sort of every account (70 ms at a million, once a second)."""
    n = len(pnl)
    if most >= n:
        return np.lexsort((np.arange(n), -pnl))
    least = np.partition(pnl, n - most)[n - most]  # the most-th highest P&L
    above = np.flatnonzero(pnl > least)
    picked = np.concatenate((above, np.flatnonzero(pnl == least)[: most - len(above)]))
    return picked[np.lexsort((picked, -pnl[picked]))]


def open_orders(window: OrderWindow, account: int, symbols: Sequence[str], most: int,
                outside: Sequence[tuple[int, tuple, int, int]] = ()) -> list[OpenOrder]:  # fmt: skip
    """The account's open orders (sent or resting; cancel requests left out), oldest first;
    ``outside``: its open orders from outside the flow (``OutsideOrders.of_account``), after."""
    record, state = window.record, window.state
    mine = np.flatnonzero((state != FREE) & (record[:, _ACCOUNT] == account) & (record[:, _OTYPE] != _CANCEL))
    mine = mine[np.argsort(record[mine, 0], kind="stable")][:most]
    rows = list(zip(record[mine].tolist(), window.leaves[mine].tolist(), state[mine].tolist()))
    rows += [(record, leaves, st) for _oid, record, leaves, st in outside[: most - len(rows)]]
    n = len(symbols)
    out = []
    for (oid, _acct, sym, side, otype, tif, price, qty, _t), leaves, st in rows:
        name = symbols[sym] if 0 <= sym < n else "?"
        out.append(
            OpenOrder(oid, name, side, otype, tif, price, qty, leaves, "resting" if st == ACKED else "sent")
        )
    return out
