"""Where the order window finds an old open order: a hash table of order id -> slot, in numpy.

The window (``order_window.py``) keeps the last ``WINDOW`` ids direct-mapped; an order still
open when the window moves past it goes to an overflow slot, and this index finds that slot
by the order's id. With many symbols most orders rest, so millions may be there, and each fill
or cancel of one is a look-up: a binary search in a sorted array of their ids cost about
twenty dependent cache misses each (90 ns a look-up at a million, 0.8 us per order of the
bank at 10,000 symbols). Here a look-up is one or two probes, whatever the count.

How: open addressing with linear probing, the slot of id ``k`` at ``(k * golden) >> (64 -
bits)`` (Fibonacci hashing: consecutive ids, the usual case, spread evenly), every step a
whole-array operation over the ids asked, repeated only for the few that meet a collision.
The table holds at most half its size (a look-up then probes about 1.5 places, a miss 2.5)
and is sized by what it holds, never by the ids' range: an order open for the whole run costs
one entry, not the span of ids since it. Entries are never removed one by one: the window
drops those of final orders when it takes their slots back (``rebuilt``), which sizes the
table again, smaller too.

Pure model: numpy only.
"""

from __future__ import annotations

import numpy as np

EMPTY = -1  # no id (order ids are positive)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_LEAST_BITS = 12


class IdIndex:
    """Order id -> slot for distinct ids, added in any order; ``find`` many at once."""

    def __init__(self, ids: np.ndarray | None = None, slots: np.ndarray | None = None) -> None:
        self._bits = _LEAST_BITS
        self._count = 0
        self._keys = np.full(1 << self._bits, EMPTY, np.int64)
        self._vals = np.zeros(1 << self._bits, np.int64)
        if ids is not None and slots is not None and len(ids):
            self.add(ids, slots)

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return self._keys.nbytes + self._vals.nbytes

    def _home(self, ids: np.ndarray) -> np.ndarray:
        return (ids.astype(np.uint64) * _GOLDEN >> np.uint64(64 - self._bits)).astype(np.int64)

    def add(self, ids: np.ndarray, slots: np.ndarray) -> None:
        """Index ``ids`` (distinct, positive, none indexed already) at ``slots``."""
        if self._count + len(ids) > len(self._keys) // 2:
            old_ids, old_slots = self.entries()
            bits = self._bits
            while self._count + len(ids) > (1 << bits) // 4:  # room to double what it holds
                bits += 1
            self._bits = bits
            self._keys = np.full(1 << bits, EMPTY, np.int64)
            self._vals = np.zeros(1 << bits, np.int64)
            self._count = 0
            self._place(old_ids, old_slots)
        self._place(np.asarray(ids, np.int64), np.asarray(slots, np.int64))

    def _place(self, ids: np.ndarray, slots: np.ndarray) -> None:
        keys, vals, mask = self._keys, self._vals, len(self._keys) - 1
        self._count += len(ids)
        pos = self._home(ids)
        while len(ids):
            open_ = keys[pos] == EMPTY
            at, mine = pos[open_], ids[open_]
            keys[at] = mine  # of ids sharing a free place one write lands; the rest probe on
            won = keys[at] == mine
            vals[at[won]] = slots[open_][won]
            go = ~open_
            go[np.flatnonzero(open_)[~won]] = True
            ids, slots, pos = ids[go], slots[go], (pos[go] + 1) & mask

    def find(self, ids: np.ndarray) -> np.ndarray:
        """The slot of each id, -1 for one not indexed."""
        out = np.full(len(ids), -1, np.int64)
        if not self._count or not len(ids):
            return out
        keys, vals, mask = self._keys, self._vals, len(self._keys) - 1
        which = np.flatnonzero(ids > 0)
        want = ids[which]
        pos = self._home(want)
        while len(which):
            k = keys[pos]
            hit = k == want
            out[which[hit]] = vals[pos[hit]]
            go = ~hit & (k != EMPTY)
            which, want, pos = which[go], want[go], (pos[go] + 1) & mask
        return out

    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        """Every id indexed and its slot, in no set order."""
        at = np.flatnonzero(self._keys != EMPTY)
        return self._keys[at], self._vals[at]

    def rebuilt(self, keep: np.ndarray) -> IdIndex:
        """A new index of the entries (as ``entries`` lists them) where ``keep`` is True,
        sized by them."""
        ids, slots = self.entries()
        return IdIndex(ids[keep], slots[keep])
