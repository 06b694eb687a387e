"""Which broker trades which symbol: the shards of a run, fixed by the symbols and broker count.

Each symbol belongs to exactly one broker, so each book sees its orders in placement order and
the fills depend only on the seed and the flags, never on how many brokers there are or how
the orders travel. Orders for a symbol no broker trades (``wire.UNKNOWN_SYM``: the order flow
makes a few on purpose) go to the first broker, which rejects them with UNKNOWN_SYMBOL like a
venue would; the bank answers nothing itself.

Pure: no processes, no clock.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from simulator import wire
from simulator.orders import OrderType
from simulator.rows import rows_where

_UNKNOWN_GOES_TO = 0  # the broker that answers orders for symbols nobody trades
_SYM = 2  # the symbol column of an order record (see wire.py)
_OTYPE, _CANCEL = 4, int(OrderType.CANCEL)  # the order type column, and a cancel request's type


def stable_hash(symbol: str) -> int:
    """Same number for the same name in every process and run (unlike the salted ``hash``)."""
    return zlib.crc32(symbol.encode())


def assign_symbols(symbols: Sequence[str], brokers: int) -> list[tuple[str, ...]]:
    """Each symbol to exactly one broker: ordered by stable hash, then dealt round-robin.

    Dealing (rather than hash modulo) keeps brokers evenly loaded with few symbols, and the
    assignment still depends only on the set of names and the broker count.
    """
    names = tuple(symbols)
    ordered = _dealing_order(names).tolist()
    return [tuple(names[i] for i in ordered[b::brokers]) for b in range(brokers)]


def _dealing_order(symbols: tuple[str, ...]) -> np.ndarray:
    """The symbols' indexes by (stable hash, name): one array sort (sorting 100,000 names by a
    key of tuples took 0.3-0.6 s of a run's start)."""
    if not symbols:
        return np.zeros(0, np.int64)
    hashes = np.fromiter(map(stable_hash, symbols), np.int64, len(symbols))
    return np.lexsort((np.array(symbols), hashes))  # the last key sorts first


class Routing:
    """The shard of every symbol: by name, by wire index, and for whole arrays of orders."""

    def __init__(self, symbols: Sequence[str], brokers: int) -> None:
        self.symbols = names = tuple(symbols)
        ordered = _dealing_order(names)  # dealt round-robin: the i-th goes to broker i % brokers
        self._shard_ids = [tuple(ordered[b::brokers].tolist()) for b in range(brokers)]
        self.shards = [tuple(map(names.__getitem__, ids)) for ids in self._shard_ids]
        # the broker of each wire symbol index, with one more slot at the end for UNKNOWN_SYM
        # (-1 indexes the last element), so an array of orders routes in one numpy step
        of_sym = np.full(len(names) + 1, _UNKNOWN_GOES_TO, np.int64)
        of_sym[ordered] = np.arange(len(names)) % brokers
        self._broker_of_sym = of_sym
        self.broker_of = dict(zip(names, of_sym[:-1].tolist()))
        if int(wire.UNKNOWN_SYM) != -1:
            raise AssertionError("routing relies on UNKNOWN_SYM indexing the last slot")

    @property
    def brokers(self) -> int:
        return len(self.shards)

    def symbol_ids(self, index: int) -> tuple[int, ...]:
        """The wire symbol indexes broker ``index`` trades, in its shard's order."""
        return self._shard_ids[index]

    def wire_syms(self, index: int) -> tuple[int, ...]:
        """Every wire ``sym`` whose orders go to broker ``index`` (UNKNOWN_SYM included for the
        broker that rejects them): what a restart must send it again."""
        extra = (wire.UNKNOWN_SYM,) if index == _UNKNOWN_GOES_TO else ()
        return self.symbol_ids(index) + extra

    def broker_of_sym(self, sym: int) -> int:
        """The broker of one wire symbol index (UNKNOWN_SYM or out of range: the first)."""
        if 0 <= sym < len(self.symbols):
            return int(self._broker_of_sym[sym])
        return _UNKNOWN_GOES_TO

    def split(self, orders: np.ndarray) -> list[np.ndarray]:
        """Order records (n, 9) per broker, each in placement order."""
        if self.brokers == 1:
            return [orders]
        if len(orders) == 1:  # the usual case at a set rate: no whole-array step for one order
            index = self.broker_of_sym(int(orders[0, _SYM]))
            return [orders if i == index else orders[:0] for i in range(self.brokers)]
        syms = orders[:, _SYM]
        # anything out of range (no order flow makes it, but a record is a record) is unknown
        syms = np.where((syms >= 0) & (syms < len(self.symbols)), syms, -1)
        of = self._broker_of_sym[syms]
        return [rows_where(orders, of == i) for i in range(self.brokers)]


class RoutedCounts:
    """Orders and cancel requests routed to each broker over the run: a restart resets nothing,
    and orders sent again to a restarted broker are not counted twice (they are not routed again)."""

    def __init__(self, brokers: int) -> None:
        self.orders = [0] * brokers
        self.cancels = [0] * brokers

    def add(self, index: int, records: np.ndarray) -> None:
        cancels = int(np.count_nonzero(records[:, _OTYPE] == _CANCEL))
        self.cancels[index] += cancels
        self.orders[index] += len(records) - cancels
