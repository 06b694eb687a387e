"""The fills digest: one hash of everything a run traded, the same however it was carried.

Each symbol's fills are hashed in match order, each fill as five native 64-bit integers
(seq, buy_oid, sell_oid, price, qty), with sha256; the digest is the sha256 of
``'SYMBOL:<hex of that symbol's sha256>\\n'`` for every symbol of the run, sorted by name (a
symbol that never traded contributes the hash of nothing). So it depends only on what traded,
never on which broker, batch or process booked it. The ledger computes it as a run goes, the
replay of a journal computes it again, and the report carries it: all through this class.

Pure model: stdlib only.
"""

from __future__ import annotations

import hashlib
import struct
from array import array
from collections.abc import Iterable, Sequence
from itertools import chain

FILL_WIDTH = 5  # seq, buy_oid, sell_oid, price, qty
_CHUNK = 1 << 16  # int64s ``add`` buffers per symbol before hashing them


class FillsDigest:
    """The running digest of a run's fills; a symbol is its index in ``symbols``."""

    __slots__ = ("symbols", "_hashes", "_pending")

    def __init__(self, symbols: Iterable[str]) -> None:
        self.symbols = tuple(symbols)
        self._hashes = [hashlib.sha256() for _ in self.symbols]
        self._pending = [array("q") for _ in self.symbols]  # fills given to add, not hashed yet

    def update(self, sym: int, fills) -> None:
        """Hash fills of one symbol given as a C-contiguous buffer of int64s (bytes, a numpy
        array, an ``array('q')``), five per fill, in match order."""
        if self._pending[sym]:
            self._flush(sym)
        self._hashes[sym].update(fills)

    def update_rows(self, sym: int, rows: Sequence[Sequence[int]]) -> None:
        """Hash fills of one symbol given as 5-tuples of ints, in match order."""
        self.update(sym, struct.pack(f"{FILL_WIDTH * len(rows)}q", *chain.from_iterable(rows)))

    def add(self, sym: int, fill: Sequence[int]) -> None:
        """One fill of one symbol (a 5-tuple), for callers that see fills one at a time: they
        are buffered and hashed a chunk at a time, which gives the same digest."""
        pending = self._pending[sym]
        pending.extend(fill)
        if len(pending) >= _CHUNK:
            self._flush(sym)

    def _flush(self, sym: int) -> None:
        pending = self._pending[sym]
        self._hashes[sym].update(pending)
        del pending[:]

    def hexdigest(self) -> str:
        """The digest of every fill given so far."""
        outer = hashlib.sha256()
        for i in sorted(range(len(self.symbols)), key=self.symbols.__getitem__):
            if self._pending[i]:
                self._flush(i)
            outer.update(f"{self.symbols[i]}:{self._hashes[i].hexdigest()}\n".encode())
        return outer.hexdigest()
