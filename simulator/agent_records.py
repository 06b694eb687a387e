"""The AGENT_ORDER record: how a broker tells the bank of an order one of its agents made
(``agents.py``), and the answers of the book that record stands for.

The broker reports each agent order to the bank as an AGENT_ORDER event (kind 9) before the
order's own events: ``(9, oid, account, sym << 10 | otype << 6 | tif << 3 | side + 1, price,
qty, target or stamp)``. The record stands for the answer the book gave at once, which is not
sent apart (``answers`` makes those events again, for the journal and the replay): a new
order's ACK (an agent's orders are always valid, so always acked; its trades and the CANCELLED
of an IOC's rest follow as usual); and for a cancel, which only names a quote resting in the
book, the CANCELLED of its target and its CANCEL_DONE: the cancelled leaves are in the
record's price field (a cancel has no price; 0 there: the answer follows as for any cancel).
Pure model: stdlib only.
"""

from __future__ import annotations

from collections.abc import Sequence

AGENT_ORDER = 9  # orders.Event.AGENT_ORDER, as a plain int for the hot path
_CANCEL = 2  # orders.OrderType.CANCEL


def pack_kind(sym: int, side: int, otype: int, tif: int) -> int:
    return sym << 10 | otype << 6 | tif << 3 | (side + 1)


def unpack_kind(packed: int) -> tuple[int, int, int, int]:
    """(sym, side, otype, tif) of an AGENT_ORDER event's packed field."""
    return packed >> 10, (packed & 7) - 1, (packed >> 6) & 15, (packed >> 3) & 7


def answers(oid: int, packed: int, price: int, last: int) -> tuple[int, ...]:
    """The event records an AGENT_ORDER record ``(9, oid, _, packed, price, _, last)`` stands
    for (see the module docstring), flat: a new order's ACK; a done cancel's CANCELLED of its
    target ``last`` with the leaves ``price``, then its CANCEL_DONE; none for a cancel whose
    answer follows apart."""
    if (packed >> 6) & 15 != _CANCEL:
        return (1, oid, 0, 0, 0, 0, 0)
    if price:
        return (4, last, price, 0, 0, 0, 0, 5, oid, last, 0, 0, 0, 0)
    return ()


def expanded(out: Sequence[int]) -> list[int]:
    """Event records as a book would have made them without the desk's short form: each
    AGENT_ORDER record (a cancel's with price 0) followed by the ``answers`` it stands for."""
    rows: list[int] = []
    it = iter(out)
    for rec in zip(it, it, it, it, it, it, it):
        if rec[0] == AGENT_ORDER:
            kind, oid, account, packed, price, qty, last = rec
            answer = answers(oid, packed, price, last)
            if (packed >> 6) & 15 == _CANCEL:
                price = 0
            rows += (kind, oid, account, packed, price, qty, last, *answer)
        else:
            rows += rec
    return rows
