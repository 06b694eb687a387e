"""The orders resting on a broker's books at the end of a run, as flat int64 records.

A broker's final report lists every order still resting so that the bank can close its books
(``reconciliation.close_books``). With many symbols that is hundreds of thousands of orders per
broker: as a dict of lists of tuples it cost about a second to build, pickle and read back at
100,000 symbols. Here it is two byte strings instead, built by one pass over each book's index
of live orders and read by the bank as numpy arrays without a per-order object:

    records  RESTING_WIDTH int64s per order: (oid, leaves, account, price, side), the fields of
             a book entry in its own order (an iceberg's leaves count its hidden shares too);
             book after book, each book's orders in arrival order (not priority order)
    books    two int64s per book listed: (wire sym, how many of the records are its orders),
             in the order of the records

Pure model: no process, no clock; ``simulator.messages`` carries the bytes and checks their
shape, ``bank.py`` and ``run_figures.py`` read them. The bank's side imports numpy when it is
called, so that a broker, which only packs, never loads it (about 3.5 MiB of RSS a process).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from simulator.book import OrderBook

RESTING_WIDTH = 5
OID, LEAVES, ACCOUNT, PRICE, SIDE = range(RESTING_WIDTH)
BOOKS_WIDTH = 2  # (sym, count)


def list_into(book: OrderBook, flat: list[int]) -> int:
    """Append the records of ``book``'s live resting orders to ``flat``; how many."""
    index = book._index  # live resting orders only: a fill or cancel takes its entry out
    for e in index.values():
        if len(e) == RESTING_WIDTH:
            flat += e  # the entry is the record: (oid, leaves, account, price, side)
        else:  # an iceberg: what shows, plus what is hidden
            flat += (e[0], e[1] + e[5], e[2], e[3], e[4])
    return len(index)


def pack(books: Iterable[OrderBook], still_here: Callable[[], None] = lambda: None) -> tuple[bytes, bytes]:
    """(records, books) of every order resting on ``books``; ``still_here`` is called every
    few thousand books (a broker sends heartbeats meanwhile)."""
    flat: list[int] = []
    counts: list[int] = []
    for i, book in enumerate(books):
        index = book._index  # (list_into, inlined: a call per book and a test per order saved)
        if index:
            start = len(flat)
            for e in index.values():
                flat += e
            if len(flat) - start != RESTING_WIDTH * len(index):  # an iceberg's: longer entries
                del flat[start:]
                list_into(book, flat)
            counts += (book.sym_id, len(index))
        if i % 4096 == 4095:
            still_here()
    # struct packs a list of ints into int64s faster than array does (a fifth at 100,000 symbols)
    return struct.pack(f"{len(flat)}q", *flat), struct.pack(f"{len(counts)}q", *counts)


def records(data: bytes) -> np.ndarray:
    """The records of ``pack`` as an (orders, RESTING_WIDTH) int64 array (a view of ``data``)."""
    import numpy as np

    return np.frombuffer(data, np.int64).reshape(-1, RESTING_WIDTH)


def syms(books: bytes) -> np.ndarray:
    """The wire sym of each record, from the ``books`` of ``pack``."""
    import numpy as np

    pairs = np.frombuffer(books, np.int64).reshape(-1, BOOKS_WIDTH)
    return np.repeat(pairs[:, 0], pairs[:, 1])


def shape_error(data: bytes, books: bytes) -> str | None:
    """Why ``(data, books)`` is not what ``pack`` makes, or None: whole records, whole pairs,
    counts that are positive and add up to the records."""
    import numpy as np

    if len(data) % (8 * RESTING_WIDTH):
        return f"resting records of {len(data)} bytes are not whole records"
    if len(books) % (8 * BOOKS_WIDTH):
        return f"resting books of {len(books)} bytes are not whole (sym, count) pairs"
    counts = np.frombuffer(books, np.int64)[1::BOOKS_WIDTH]
    if counts.size and int(counts.min()) <= 0:
        return "a resting book with no order"
    if int(counts.sum()) != len(data) // (8 * RESTING_WIDTH):
        return "resting books do not count the records"
    return None


def tuples(
    data: bytes, books: bytes, names: Sequence[str] | Mapping[int, str], wanted: Iterable[int] | None = None
) -> dict:
    """The records as ``{symbol: [(oid, account, side, price, leaves), ...]}`` (the readable
    form of ``OrderBook.resting``, orders in arrival order), for the syms in ``wanted`` (all
    if None): for tests and the few books a report names."""
    import numpy as np

    rec, sym = records(data), syms(books)
    if wanted is not None:
        keep = np.isin(sym, np.fromiter(wanted, np.int64))
        rec, sym = rec[keep], sym[keep]
    out: dict[str, list[tuple[int, int, int, int, int]]] = {}
    for s, (oid, leaves, account, price, side) in zip(sym.tolist(), rec.tolist()):
        out.setdefault(names[s], []).append((oid, account, side, price, leaves))
    return out


def leaves_by_id(reports: Iterable[tuple[bytes, Mapping[str, Sequence[Sequence[int]]]]]) -> tuple:
    """(ids, leaves) int64 arrays of every order resting in ``reports``, each (records, held
    stops as ``FinalReport.held``): what ``reconciliation.close_books`` takes."""
    import numpy as np

    ids, leaves = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for data, held in reports:
        rec = records(data)
        ids.append(rec[:, OID])
        leaves.append(rec[:, LEAVES])
        stops = [stop for book in held.values() for stop in book]  # held stops rest too, off the book
        ids.append(np.array([stop[0] for stop in stops], np.int64))
        leaves.append(np.array([stop[6] for stop in stops], np.int64))
    return np.concatenate(ids), np.concatenate(leaves)
