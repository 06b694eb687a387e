"""What an account has at risk now, as the bank's books say: for --max-open-orders, --max-position.

``LiveExposure.refused`` answers the two account checks of ``risk.RiskGate`` from the ledger's
order window (every order placed and not final: its account, symbol, side and leaves) and its
positions. Counting the window costs a pass over the open orders, so it is counted at most
every ``REFRESH_NS`` and the orders passed since are added to it one by one. Orders that ended
since the count are still counted, so both figures are upper bounds of what holds now, and the
limits hold at every moment:

* open orders: those counted plus those passed since;
* a buy could take the position to at most ``position + open buy leaves + its quantity`` (a
  fill of a buy moves shares from the leaves to the position, one of a sell or a cancel only
  lowers it), and a sell to at least ``position - open sell leaves - its quantity``; an order
  that could take either past ``--max-position`` is refused.

What the bank knows depends on when the brokers' fills come back, so these refusals are not a
function of the seed: the same run may refuse other orders (see ``risk``). Pure model: numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.orders import OrderType, RejectReason

REFRESH_NS = 10_000_000  # the open orders are counted again at most every 10 ms
_ACCOUNT, _SYM, _SIDE, _OTYPE, _QTY = 1, 2, 3, 4, 7
_CANCEL = int(OrderType.CANCEL)
_OPEN = int(RejectReason.OPEN_ORDERS_LIMIT)
_POSITION = int(RejectReason.POSITION_LIMIT)
_EMPTY = np.zeros(0, np.int64)


def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``values`` at each of ``wanted`` in the sorted ``keys``, 0 where it is not one."""
    if not len(keys):
        return np.zeros(len(wanted), np.int64)
    i = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[i] == wanted, values[i], 0)


class LiveExposure:
    """Open orders per account and open leaves per (account, symbol), from a ledger's window."""

    def __init__(
        self, window: Any, positions: Any, nsym: int, *, max_open: int | None, max_position: int | None
    ) -> None:
        self.window = window  # order_window.OrderWindow
        self.positions = positions  # positions.Positions
        self.nsym = nsym
        self.max_open = max_open
        self.max_position = max_position
        self._next_count = 0
        self._accounts = self._open = _EMPTY  # accounts with open orders (rising), how many
        self._keys = self._buy = self._sell = _EMPTY  # account * nsym + sym (rising), leaves
        self._added_open: dict[int, int] = {}  # since the count: orders passed per account
        self._added_buy: dict[int, int] = {}  # ... and their quantities per key, by side
        self._added_sell: dict[int, int] = {}

    def _count(self) -> None:
        w = self.window
        _ids, slots = w.open_slots()
        rec = w.record[slots]
        orders = rec[:, _OTYPE] != _CANCEL
        rec, leaves = rec[orders], w.leaves[slots][orders]
        account = rec[:, _ACCOUNT]
        self._accounts, self._open = np.unique(account, return_counts=True)
        if self.max_position is not None:
            keys, at = np.unique(account * self.nsym + rec[:, _SYM], return_inverse=True)
            buy, sell = np.zeros(len(keys), np.int64), np.zeros(len(keys), np.int64)
            bought = rec[:, _SIDE] > 0
            np.add.at(buy, at[bought], leaves[bought])
            np.add.at(sell, at[~bought], leaves[~bought])
            self._keys, self._buy, self._sell = keys, buy, sell
        self._added_open, self._added_buy, self._added_sell = {}, {}, {}

    def refused(self, orders: np.ndarray, now_ns: int) -> np.ndarray:
        """Per row (valid new orders): OPEN_ORDERS_LIMIT, POSITION_LIMIT or 0; the rows passed
        count as open from now on. Rows are judged in order: each passed one counts for the
        next."""
        if now_ns >= self._next_count:
            self._count()
            self._next_count = now_ns + REFRESH_NS
        account, sym = orders[:, _ACCOUNT], orders[:, _SYM]
        key = account * self.nsym + sym
        open_now = _lookup(self._accounts, self._open, account).tolist()
        if self.max_position is not None:
            held = self.positions.at(sym, account).tolist()
            buy = _lookup(self._keys, self._buy, key).tolist()
            sell = _lookup(self._keys, self._sell, key).tolist()
        max_open, limit = self.max_open, self.max_position
        added_open, added_buy, added_sell = self._added_open, self._added_buy, self._added_sell
        out = [0] * len(orders)
        rows = zip(account.tolist(), key.tolist(), orders[:, _SIDE].tolist(), orders[:, _QTY].tolist())
        for i, (a, k, side, qty) in enumerate(rows):
            if max_open is not None and open_now[i] + added_open.get(a, 0) >= max_open:
                out[i] = _OPEN
                continue
            if limit is not None:
                if side > 0:
                    if held[i] + buy[i] + added_buy.get(k, 0) + qty > limit:
                        out[i] = _POSITION
                        continue
                    added_buy[k] = added_buy.get(k, 0) + qty
                else:
                    if held[i] - sell[i] - added_sell.get(k, 0) - qty < -limit:
                        out[i] = _POSITION
                        continue
                    added_sell[k] = added_sell.get(k, 0) + qty
            added_open[a] = added_open.get(a, 0) + 1
        return np.array(out, np.int64)
