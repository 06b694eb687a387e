"""The flow's cancel candidates still waiting for their cancel or expiry, found by when they die.

A waiting order (a valid LIMIT DAY order, or a stop the flow expires: see ``flow.py``) dies when
its symbol's ``death``-th candidate is made (counting from 0 per symbol). So a block finds its
cancels by asking, for each candidate it makes, "who dies at this symbol's count?": a hash
look-up per new candidate, never a pass over everything that waits. The cost of a block
therefore follows the block, not the number of candidates waiting, which in a long run is
about the symbols times ``DAY_ORDER_LIFETIME`` (a scan and compaction of all of them per
block made each order pay in proportion to the symbols).

How it is stored, all in numpy arrays so a block's look-ups are a few whole-array steps:

* a slab of rows (symbol, oid, account, side, price, fate) with each row's key
  ``death * nsym + symbol`` (-1 for a free row), reused through a stack of free rows and grown
  by doubling: memory follows what waits, about 80 bytes per candidate;
* a chained hash table: ``_head[slot]`` is the first row whose key hashes to ``slot`` and
  ``_next[row]`` the next one (-1 ends a chain). It has at least one slot per row waiting, so
  chains stay short; it doubles (and every row is linked again) when the rows outgrow it.
  Rows sharing a key (an expiry and a random cancel falling on the same count) share a chain;
  the order within a chain does not matter: the flow orders the cancels it takes itself.

Pure model: numpy only.
"""

from __future__ import annotations

import numpy as np

from simulator.rows import put_rows, rows_at

# slab columns
SYM, OID, ACCOUNT, SIDE, PRICE, FATE = range(6)  # FATE: flow.EXPIRY, RANDOM, LATE, ALWAYS
WIDTH = 6
_FIRST_SIZE_LOG2 = 12
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of key * this


class PendingCancels:
    """Candidates of ``nsym`` symbols waiting for their cancel, by (symbol, death)."""

    def __init__(self, nsym: int) -> None:
        self._nsym = nsym
        size = 1 << _FIRST_SIZE_LOG2
        self._data = np.zeros((size, WIDTH), np.int64)
        self._key = np.full(size, -1, np.int64)
        self._next = np.full(size, -1, np.int64)
        self._free = np.arange(size - 1, -1, -1, dtype=np.int64)  # a stack: its top at the end
        self._free_count = size
        self._size_log2 = _FIRST_SIZE_LOG2
        self._head = np.full(size, -1, np.int64)

    def __len__(self) -> int:
        return len(self._key) - self._free_count

    # -- adding ------------------------------------------------------------------------------

    def add(self, sym: np.ndarray, death: np.ndarray, data: np.ndarray) -> None:
        """Keep candidates: their symbols, deaths and (n, WIDTH) rows (SYM column included)."""
        n = len(sym)
        if not n:
            return
        rows = self._take_rows(n)
        keys = death * self._nsym + sym
        put_rows(self._data, rows, data)
        self._key[rows] = keys
        if len(self) > len(self._head):
            self._rehash()
        else:
            self._link(rows, self._slot(keys))

    def _slot(self, keys: np.ndarray) -> np.ndarray:
        return (keys.astype(np.uint64) * _GOLDEN >> np.uint64(64 - self._size_log2)).astype(np.int64)

    def _link(self, rows: np.ndarray, slots: np.ndarray) -> None:
        """Put ``rows`` at the front of the chains of their ``slots`` (a slot may repeat)."""
        head, nxt = self._head, self._next
        before = head[slots]
        while len(rows):
            # of rows sharing a slot one write lands: it goes in front, the others try again
            # in front of it (no sort: rows sharing a slot are few)
            head[slots] = rows
            landed = head[slots] == rows
            nxt[rows[landed]] = before[landed]
            rows, slots = rows[~landed], slots[~landed]
            before = head[slots]

    def _rehash(self) -> None:
        """Double the table until it has a slot per row, and link every row again."""
        while len(self) > 1 << self._size_log2:
            self._size_log2 += 1
        self._head = np.full(1 << self._size_log2, -1, np.int64)
        live = np.flatnonzero(self._key >= 0)
        self._link(live, self._slot(self._key[live]))

    # -- taking ------------------------------------------------------------------------------

    def take(self, sym: np.ndarray, count: np.ndarray, made: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Remove and return the candidates dying at one of these (symbol, count) pairs, the
        counts a block just made: their rows (n, WIDTH) and deaths, in no set order. ``made``
        holds every symbol's count after the block: whatever waits dies at or after its
        symbol's count before it, so a row of these chains dies now if its death is below it."""
        if not len(sym) or not len(self):
            return np.empty((0, WIDTH), np.int64), np.empty(0, np.int64)
        slots = np.sort(self._slot(count * self._nsym + sym))
        slots = slots[np.append(True, slots[1:] != slots[:-1])]
        # every row of the chains these pairs hash to, with its slot
        found, found_slots = [], []
        rows, at = self._head[slots], slots
        while True:
            live = rows >= 0
            if not live.any():
                break
            rows, at = rows[live], at[live]
            found.append(rows)
            found_slots.append(at)
            rows = self._next[rows]
        if not found:
            return np.empty((0, WIDTH), np.int64), np.empty(0, np.int64)
        rows, at = np.concatenate(found), np.concatenate(found_slots)
        death, row_sym = np.divmod(self._key[rows], self._nsym)
        hit = death < made[row_sym]
        # the chains lose the rows taken: link what stays again, in its order. ``at`` is sorted
        # within each step of the walk, so this stable sort only merges a few sorted runs
        self._head[slots] = -1
        stay = np.flatnonzero(~hit)
        if len(stay):
            by_slot = np.argsort(at[stay], kind="stable")
            kept, kept_at = rows[stay][by_slot], at[stay][by_slot]
            last = np.empty(len(kept), bool)
            last[-1] = True
            np.not_equal(kept_at[1:], kept_at[:-1], out=last[:-1])
            first = np.empty(len(kept), bool)
            first[0] = True
            first[1:] = last[:-1]
            self._head[kept_at[first]] = kept[first]
            self._next[kept[:-1]] = kept[1:]
            self._next[kept[last]] = -1
        taken = rows[hit]
        self._key[taken] = -1
        self._give_back(taken)
        return rows_at(self._data, taken), death[hit]

    # -- the slab ----------------------------------------------------------------------------

    def _take_rows(self, n: int) -> np.ndarray:
        """``n`` free rows, growing the slab when there are not enough."""
        if n > self._free_count:
            size = len(self._key)
            grown = max(2 * size, size + n)
            data = np.zeros((grown, WIDTH), np.int64)
            data[:size] = self._data
            key = np.full(grown, -1, np.int64)
            key[:size] = self._key
            nxt = np.full(grown, -1, np.int64)
            nxt[:size] = self._next
            free = np.empty(grown, np.int64)
            free[: self._free_count] = self._free[: self._free_count]
            free[self._free_count : self._free_count + grown - size] = np.arange(
                grown - 1, size - 1, -1, dtype=np.int64
            )
            self._data, self._key, self._next, self._free = data, key, nxt, free
            self._free_count += grown - size
        self._free_count -= n
        return self._free[self._free_count : self._free_count + n].copy()

    def _give_back(self, rows: np.ndarray) -> None:
        self._free[self._free_count : self._free_count + len(rows)] = rows
        self._free_count += len(rows)
