"""The ids of orders from outside the flow (yours, agents'), apart from the flow's.

The flow's ids count from 1; each outside source has a range of its own far above them
(you: 2**40 + n, n = 1, 2, ...; agents: 2**42 + trigger * 256 + slot, ``agents.py``), so an
id says whose order it is. Where one of yours stands in time among the flow's is its *anchor*
(``outside_orders.py``); an agent's stands right behind its trigger.

Stdlib only: brokers import it (their tape always records your orders).
"""

from __future__ import annotations

YOU, AGENT = "you", "agent"
SOURCES = {YOU: 1 << 40, AGENT: 1 << 42}  # the first id of each source's range, less one
OUTSIDE_BASE = min(SOURCES.values())  # every id above it is an outside order's


def is_outside(oid: int) -> bool:
    """Whether ``oid`` is an outside order's id (any source), not the flow's."""
    return oid > OUTSIDE_BASE


def source_of(oid: int) -> str | None:
    """The source whose range holds ``oid``, or None for a flow id."""
    found = None
    for name, base in SOURCES.items():
        if oid > base and (found is None or base > SOURCES[found]):
            found = name
    return found


def order_label(oid: int) -> str:
    """How views write an order's id: ``#123`` for the flow's, ``#you1``, ``#you2``... for yours."""
    source = source_of(oid)
    return f"#{oid}" if source is None else f"#{source}{oid - SOURCES[source]}"


def priority(oid: int, anchor: int | None = None) -> tuple[int, int, int]:
    """A key that sorts orders by arrival: a flow order by its id, an outside order right
    after the flow order it is anchored behind (outside ones among themselves by id)."""
    return (oid, 0, 0) if anchor is None else (anchor, 1, oid)
