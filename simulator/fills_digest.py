"""The fills digest: one hash of everything a run traded, the same however it was carried.

Each symbol's fills are hashed in match order, each fill as five native 64-bit integers
(seq, buy_oid, sell_oid, price, qty), with sha256; the digest is the sha256 of
``'SYMBOL:<hex of that symbol's sha256>\\n'`` for every symbol of the run, sorted by name (a
symbol that never traded contributes the hash of nothing). So it depends only on what traded,
never on which broker, batch or process booked it. The ledger computes it as a run goes, the
replay of a journal computes it again, and the report carries it: all through this class.

Fills are logged as they come, all symbols in one array, and hashed a log at a time: the log
is grouped by symbol (keeping each symbol's order) and each symbol's rows go to its hash in one
call. Hashing per batch and symbol cost a Python step per trade once symbols were many (each
batch's trades then fall in different symbols); a log costs one step per symbol in it, so it
holds 8 fills per symbol of the run (``log_rows``: a step per 8 fills at most), between 4,096
and 131,072. It is sized by the symbols, not fixed at its largest: a 5 MiB log that 8 symbols
fill in seconds was resident for nothing, and its hashing copied it whole every time, a 6 MiB
block that the allocator then kept as a hole in the heap (the bank's memory grew in 6 MiB
steps). A symbol's hash exists once it traded: memory follows the symbols that trade.

Pure model: stdlib and numpy only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np

from simulator.rows import rows_at

FILL_WIDTH = 5  # seq, buy_oid, sell_oid, price, qty
_FEWEST_ROWS, _MOST_ROWS = 1 << 12, 1 << 17  # fills logged before they are hashed: 160 KiB to 5 MiB
_ROWS_PER_SYMBOL = 8
_NOTHING = hashlib.sha256().hexdigest()


def log_rows(symbols: int) -> int:
    """How many fills the log of a run with this many symbols holds before it hashes them."""
    return min(_MOST_ROWS, max(_FEWEST_ROWS, 1 << (_ROWS_PER_SYMBOL * symbols - 1).bit_length()))


class FillsDigest:
    """The running digest of a run's fills; a symbol is its index in ``symbols``."""

    __slots__ = ("symbols", "_hashes", "_log", "_log_sym", "_logged", "_added")

    def __init__(self, symbols: Iterable[str]) -> None:
        self.symbols = tuple(symbols)
        self._hashes: dict[int, hashlib._Hash] = {}  # of the symbols that traded
        rows = log_rows(len(self.symbols))
        self._log = np.empty((rows, FILL_WIDTH), np.int64)  # fills not hashed yet ...
        self._log_sym = np.empty(rows, np.int64)  # ... and their symbols
        self._logged = 0
        self._added: list[int] = []  # fills given to add(), flat as (sym, 5 ints), not logged yet

    def update(self, sym: int, fills) -> None:
        """Fills of one symbol given as a C-contiguous buffer of int64s (bytes, a numpy
        array, an ``array('q')``), five per fill, in match order."""
        rows = np.frombuffer(fills, np.int64).reshape(-1, FILL_WIDTH)
        self.update_many(np.full(len(rows), sym, np.int64), rows)

    def update_rows(self, sym: int, rows: Sequence[Sequence[int]]) -> None:
        """Fills of one symbol given as 5-tuples of ints, in match order."""
        self.update_many(np.full(len(rows), sym, np.int64), np.array(rows, np.int64).reshape(-1, FILL_WIDTH))

    def update_many(self, sym: np.ndarray, fills: np.ndarray) -> None:
        """Fills of any symbols, ``sym`` of each and (n, 5) ``fills``, each symbol's in match order."""
        if self._added:
            self._log_added()
        n = len(sym)
        if self._logged + n > len(self._log):
            self._hash_log()
        if n > len(self._log):
            self._hash(sym, fills)
            return
        self._log[self._logged : self._logged + n] = fills
        self._log_sym[self._logged : self._logged + n] = sym
        self._logged += n

    def add(self, sym: int, fill: Sequence[int]) -> None:
        """One fill of one symbol (a 5-tuple), for callers that see fills one at a time."""
        added = self._added
        added.append(sym)
        added.extend(fill)
        if len(added) >= 4096 * (FILL_WIDTH + 1):
            self._log_added()

    def _log_added(self) -> None:
        flat = np.array(self._added, np.int64).reshape(-1, FILL_WIDTH + 1)
        self._added = []
        self.update_many(flat[:, 0], flat[:, 1:])

    def _hash_log(self) -> None:
        self._hash(self._log_sym[: self._logged], self._log[: self._logged])
        self._logged = 0

    def _hash(self, sym: np.ndarray, fills: np.ndarray) -> None:
        """Each symbol's fills to its hash, in the order given."""
        if not len(sym):
            return
        by_sym = np.argsort(sym, kind="stable")
        sym, fills = sym[by_sym], rows_at(fills, by_sym)  # (take gives contiguous rows)
        starts = np.flatnonzero(np.append(True, sym[1:] != sym[:-1]))
        bounds = starts.tolist() + [len(sym)]
        hashes = self._hashes
        for s, start, end in zip(sym[starts].tolist(), bounds, bounds[1:]):
            h = hashes.get(s)
            if h is None:
                h = hashes[s] = hashlib.sha256()
            h.update(fills[start:end].data)

    @property
    def nbytes(self) -> int:
        """Bytes of the log's arrays (the hashes, about 200 bytes per symbol traded, aside)."""
        return self._log.nbytes + self._log_sym.nbytes

    def hexdigest(self) -> str:
        """The digest of every fill given so far."""
        if self._added:
            self._log_added()
        self._hash_log()
        outer = hashlib.sha256()
        for i in sorted(range(len(self.symbols)), key=self.symbols.__getitem__):
            h = self._hashes.get(i)
            outer.update(f"{self.symbols[i]}:{h.hexdigest() if h else _NOTHING}\n".encode())
        return outer.hexdigest()
