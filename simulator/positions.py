"""What each account holds of each symbol, in shares: dense while that is small, sparse after.

The ledger moves shares with every trade. With few symbols and accounts a dense
``symbols x accounts`` int64 array is the cheapest store, but it grows with the product (a
million accounts of 100,000 symbols would be 800 GB), while what is held grows only with what
traded. So above ``DENSE_MOST`` cells the positions are kept sparsely: the (symbol, account)
cells that hold shares, sorted, with their amounts, and a buffer of moves not yet summed into
them. The buffer is merged (sort, sum per cell, drop cells back at 0) when it is as long as
the cells held, at least ``_MERGE_LEAST``: each move is summed a constant number of times
amortised, with whole-array steps, and memory follows the cells that hold shares.

Pure model: numpy only.
"""

from __future__ import annotations

import numpy as np

DENSE_MOST = 1 << 20  # cells: 8 MiB; above this positions are sparse
_MERGE_LEAST = 1 << 16  # moves buffered before a merge, at least


class Positions:
    """Shares per (symbol, account) of ``nsym`` symbols and ``accounts`` accounts."""

    def __init__(self, nsym: int, accounts: int) -> None:
        self.nsym, self.accounts = nsym, accounts
        self.dense = nsym * accounts <= DENSE_MOST
        self._grid = np.zeros((nsym, accounts) if self.dense else (0, 0), np.int64)
        self._cells = np.zeros(0, np.int64)  # sparse: cells holding shares, rising ...
        self._held = np.zeros(0, np.int64)  # ... and what each holds
        self._moved_cells = np.zeros(_MERGE_LEAST, np.int64)  # sparse: moves not merged yet
        self._moved_qty = np.zeros(_MERGE_LEAST, np.int64)
        self._moved = 0

    def move(self, sym: np.ndarray, buyer: np.ndarray, seller: np.ndarray, qty: np.ndarray) -> None:
        """Trades: ``qty`` shares of ``sym`` from each ``seller`` to each ``buyer``."""
        self.add(np.concatenate((sym, sym)), np.concatenate((buyer, seller)), np.concatenate((qty, -qty)))

    def add(self, sym, account, qty) -> None:
        """Add ``qty`` shares (negative: take them) to each (``sym``, ``account``): arrays or
        lists of equal length; a cell may repeat."""
        if self.dense:
            np.add.at(self._grid, (sym, account), qty)
            return
        cells = np.asarray(sym, np.int64) * self.accounts + np.asarray(account, np.int64)
        n = len(cells)
        end = self._moved + n
        if end > len(self._moved_cells):
            self._merge()
            end = n
            if n > len(self._moved_cells):
                self._moved_cells = np.zeros(n, np.int64)
                self._moved_qty = np.zeros(n, np.int64)
        self._moved_cells[self._moved : end] = cells
        self._moved_qty[self._moved : end] = qty
        self._moved = end

    def _merge(self) -> None:
        """Sum the buffered moves into the cells held; size the buffer to what is held."""
        if not self._moved:
            return  # asked by every reader: with nothing buffered, sorting what is held is waste
        cells = np.concatenate((self._cells, self._moved_cells[: self._moved]))
        qty = np.concatenate((self._held, self._moved_qty[: self._moved]))
        self._moved = 0
        if len(cells):
            by_cell = np.argsort(cells, kind="stable")
            cells, qty = cells[by_cell], qty[by_cell]
            first = np.empty(len(cells), bool)
            first[0] = True
            np.not_equal(cells[1:], cells[:-1], out=first[1:])
            starts = np.flatnonzero(first)
            cells, qty = cells[starts], np.add.reduceat(qty, starts)
            held = qty != 0
            cells, qty = cells[held], qty[held]
        self._cells, self._held = cells, qty
        size = max(_MERGE_LEAST, len(cells))
        if size != len(self._moved_cells):
            self._moved_cells = np.zeros(size, np.int64)
            self._moved_qty = np.zeros(size, np.int64)

    def of_symbol(self, sym: int) -> list[int]:
        """The position of every account in one symbol."""
        if self.dense:
            return self._grid[sym].tolist()
        self._merge()
        row = np.zeros(self.accounts, np.int64)
        lo, hi = np.searchsorted(self._cells, [sym * self.accounts, (sym + 1) * self.accounts])
        row[self._cells[lo:hi] - sym * self.accounts] = self._held[lo:hi]
        return row.tolist()

    def at(self, sym: np.ndarray, account: np.ndarray) -> np.ndarray:
        """The shares each (``sym``, ``account``) pair holds, as an int64 array."""
        if self.dense:
            return self._grid[sym, account]
        self._merge()
        cells = sym * self.accounts + account
        i = np.minimum(np.searchsorted(self._cells, cells), max(len(self._cells) - 1, 0))
        if not len(self._cells):
            return np.zeros(len(cells), np.int64)
        return np.where(self._cells[i] == cells, self._held[i], 0)

    def balanced(self) -> bool:
        """Whether every symbol's positions sum to 0 (each trade moves shares between two)."""
        if self.dense:
            return bool(np.all(self._grid.sum(axis=1) == 0))
        self._merge()
        if not len(self._cells):
            return True
        sym = self._cells // self.accounts
        starts = np.flatnonzero(np.append(True, sym[1:] != sym[:-1]))
        return bool(np.all(np.add.reduceat(self._held, starts) == 0))

    def marked(self, mark: np.ndarray) -> np.ndarray:
        """Each account's positions valued at ``mark`` (a price per symbol), int64."""
        if self.dense:  # einsum: an integer matmul has no fast loop (10 ms against 0.5)
            return np.einsum("s,sa->a", mark, self._grid)
        self._merge()
        value = np.zeros(self.accounts, np.int64)
        np.add.at(value, self._cells % self.accounts, mark[self._cells // self.accounts] * self._held)
        return value

    def holdings(self, accounts: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What these accounts hold, as arrays (account, symbol index, shares) sorted by
        account then symbol, cells holding none left out: one pass over what is held, however
        many accounts are asked for."""
        wanted = np.array(sorted(set(accounts)), np.int64)
        if self.dense:  # by account, then symbol, as np.nonzero lists the rows of the transpose
            grid = self._grid[:, wanted].T
            col, sym = np.nonzero(grid)
            return wanted[col], sym, grid[col, sym]
        self._merge()
        owner = self._cells % self.accounts
        mine = np.flatnonzero(np.isin(owner, wanted))
        sym, acct, qty = self._cells[mine] // self.accounts, owner[mine], self._held[mine]
        order = np.argsort(acct, kind="stable")  # the cells rise by symbol already
        return acct[order], sym[order], qty[order]

    def of_accounts(self, accounts: list[int]) -> dict[int, dict[int, int]]:
        """What these accounts hold: {account: {symbol index: shares}}, symbols holding none
        left out (``holdings`` as dicts)."""
        out: dict[int, dict[int, int]] = {a: {} for a in accounts}
        for a, s, q in zip(*(x.tolist() for x in self.holdings(accounts))):
            out[a][s] = q
        return out

    @property
    def cells_held(self) -> int:
        """(symbol, account) cells holding shares (dense: all of them)."""
        if self.dense:
            return self._grid.size
        self._merge()
        return len(self._cells)
