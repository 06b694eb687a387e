"""Orders and events on the wire: fixed-width records of native 64-bit integers.

Orders and events are the bulk of what crosses process boundaries, so they travel as flat
runs of int64 rather than pickled tuples: a broker turns a batch into a list of ints with one
``memoryview.cast('q').tolist()``, the bank reads a batch of events as a numpy array without
copying, and neither side runs a pickler over them. Everything else (heartbeats, reports,
logs) stays pickled in ``messages.py``.

An order is ``ORDER_WIDTH`` integers, in ``orders.ORDER_FIELDS`` order::

    oid, account, sym, side, otype, tif, price, qty, target

``sym`` is the symbol's index in the run's symbol list (``config.symbols``), the same in every
process; ``UNKNOWN_SYM`` marks an order for a symbol no book trades.

An event is ``EVENT_WIDTH`` integers, the kind first, unused places 0::

    ACK          1, oid, 0, 0, 0, 0, 0
    REJECT       2, oid, reason, 0, 0, 0, 0
    TRADE        3, sym, match_seq, buy_oid, sell_oid, price, qty
    CANCELLED    4, oid, leaves, 0, 0, 0, 0
    CANCEL_DONE  5, cancel_oid, target_oid, 0, 0, 0, 0

This module is stdlib only: brokers import it, and they start without numpy.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

ORDER_WIDTH = 9
EVENT_WIDTH = 7
INT_SIZE = 8
ORDER_SIZE = ORDER_WIDTH * INT_SIZE
EVENT_SIZE = EVENT_WIDTH * INT_SIZE
UNKNOWN_SYM = -1

_ZEROS = (0,) * EVENT_WIDTH


def pack(records: Iterable[Sequence[int]], width: int) -> bytes:
    """Records (tuples of ints, shorter ones padded with 0) as one run of int64 bytes.

    The slow, readable way, for tests and rare messages; hot paths build flat int lists.
    """
    flat = array("q")
    for r in records:
        if len(r) > width:
            raise ValueError(f"record {r!r} is wider than {width}")
        flat.extend(r)
        flat.extend(_ZEROS[: width - len(r)])
    return flat.tobytes()


def unpack(data: bytes | bytearray | memoryview, width: int) -> list[tuple[int, ...]]:
    """A run of int64 bytes (or a 'q' memoryview) as a list of ``width``-tuples."""
    view = memoryview(data)
    flat = (view if view.format == "q" else view.cast("B").cast("q")).tolist()
    if len(flat) % width:
        raise ValueError(f"{len(flat)} integers are not whole records of {width}")
    it = iter(flat)
    return list(zip(*[it] * width))


# A restarted book's orders (``messages.BookState``): int64 records, so the bank sends them
# from its arrays without a tuple per order, which a restart every few seconds made by the
# thousand and whose freed arenas the bank's memory kept. Resting: oid, account, side, price,
# leaves, and an iceberg's display and visible shares (0, 0 for any other order); held: the
# stop's record without the symbol (oid, account, side, otype, tif, price, qty, trigger).
RESTORE_WIDTH = 7  # (resting.RESTING_WIDTH, 5, is the final report's listing)
HELD_WIDTH = 8


def resting_orders(data: bytes | bytearray | memoryview) -> list[tuple[int, ...]]:
    """Resting records as ``book.restore`` takes them: 5-tuples, an iceberg's 7 long."""
    return [r if r[5] else r[:5] for r in unpack(data, RESTORE_WIDTH)]


def held_stops(data: bytes | bytearray | memoryview) -> list[tuple[int, ...]]:
    """Held records as ``book.restore`` takes them (``order_types.held_stops``)."""
    return unpack(data, HELD_WIDTH)


# -- readable tuples <-> records: for tests, the journal and the rare slow paths -------------

UNKNOWN_SYMBOL_NAME = "?BAD"  # how an UNKNOWN_SYM order reads: never a ticker
_EVENT_LEN = {1: 2, 2: 3, 3: 7, 4: 3, 5: 3}  # readable length of each event kind
_TRADE = 3


def readable_orders(rows: Iterable[Sequence[int]], symbols: Sequence[str]) -> list[tuple]:
    """Order records as ``orders.ORDER_FIELDS`` tuples, the symbol by name."""
    n = len(symbols)
    return [(r[0], r[1], symbols[r[2]] if 0 <= r[2] < n else UNKNOWN_SYMBOL_NAME, *r[3:9]) for r in rows]


def readable_events(rows: Iterable[Sequence[int]], symbols: Sequence[str]) -> list[tuple]:
    """Event records as the tuples ``orders.py`` describes (padding dropped, symbol by name)."""
    n = len(symbols)
    out = []
    for r in rows:
        kind = r[0]
        if kind == _TRADE:
            out.append((kind, symbols[r[1]] if 0 <= r[1] < n else UNKNOWN_SYMBOL_NAME, *r[2:7]))
        else:
            out.append(tuple(r[: _EVENT_LEN.get(kind, EVENT_WIDTH)]))
    return out


def order_record(order: Sequence, symbol_ids: dict[str, int]) -> tuple[int, ...]:
    """A readable order tuple as a record; a symbol not in ``symbol_ids`` becomes UNKNOWN_SYM."""
    oid, account, symbol, *rest = order
    sym = symbol if isinstance(symbol, int) else symbol_ids.get(symbol, UNKNOWN_SYM)
    return (oid, account, sym, *rest)


def event_record(event: Sequence, symbol_ids: dict[str, int]) -> tuple[int, ...]:
    """A readable event tuple as a record, padded with 0; an unknown trade symbol becomes
    UNKNOWN_SYM. Raises ValueError or TypeError for what is not an event."""
    if len(event) > EVENT_WIDTH or not event:
        raise ValueError(f"not an event: {event!r:.60}")
    if event[0] == _TRADE and len(event) > 1 and isinstance(event[1], str):
        event = (event[0], symbol_ids.get(event[1], UNKNOWN_SYM), *event[2:])
    if not all(type(x) is int or (isinstance(x, int) and not isinstance(x, bool)) for x in event):
        raise TypeError(f"not an event of ints: {event!r:.60}")
    return (*map(int, event), *_ZEROS[: EVENT_WIDTH - len(event)])
