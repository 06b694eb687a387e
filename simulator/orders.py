"""Orders and what happens to them: the vocabulary shared by the bank, the brokers and the books.

Pure model: no processes, no clock, no I/O. Enumerations are ``IntEnum`` so that their plain
integer values can travel as int64 records across process boundaries (see ``wire.py``) and
still read as names everywhere else.

An order reads as a tuple in ``ORDER_FIELDS`` order (on the wire, ``symbol`` is its index)::

    (oid, account, symbol, side, otype, tif, price, qty, target)

``price`` is in integer ticks (one tick = one cent); it is 0 for MARKET and CANCEL orders.
``target`` is the id of the order a CANCEL asks to cancel, 0 otherwise.

A broker answers every order with events, read as tuples, the first item an ``Event`` (on the
wire each is padded to 7 integers)::

    (Event.ACK, oid)                                    order accepted
    (Event.REJECT, oid, reason)                         order or cancel refused, RejectReason
    (Event.TRADE, symbol, match_seq, buy_oid, sell_oid, price, qty)
    (Event.CANCELLED, oid, leaves)                      order ended with ``leaves`` unfilled
    (Event.CANCEL_DONE, cancel_oid, target_oid)         a cancel request succeeded

All events of one order are emitted together, in that order of causality.
"""
from __future__ import annotations

import enum
from typing import NamedTuple

TICKS_PER_DOLLAR = 100


class Side(enum.IntEnum):
    BUY = 1
    SELL = -1


class OrderType(enum.IntEnum):
    LIMIT = 0
    MARKET = 1
    CANCEL = 2


class TimeInForce(enum.IntEnum):
    DAY = 0  # the unfilled rest of a limit order rests on the book
    IOC = 1  # immediate or cancel: the unfilled rest is cancelled at once


class OrderStatus(enum.Enum):
    NEW = "new"
    ACKED = "acked"
    PARTIALLY_FILLED = "partially filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    RESTING = "resting"
    LOST = "lost"


class RejectReason(enum.IntEnum):
    QTY_NOT_POSITIVE = 1
    PRICE_NOT_POSITIVE = 2
    UNKNOWN_SYMBOL = 3
    UNKNOWN_ORDER = 4
    ORDER_NOT_RESTING = 5
    MALFORMED = 6

    @property
    def text(self) -> str:
        return _REJECT_TEXT[self]


_REJECT_TEXT = {
    RejectReason.QTY_NOT_POSITIVE: "quantity must be a positive integer",
    RejectReason.PRICE_NOT_POSITIVE: "limit price must be a positive number of ticks",
    RejectReason.UNKNOWN_SYMBOL: "no book trades this symbol",
    RejectReason.UNKNOWN_ORDER: "cancel names an order that was never placed",
    RejectReason.ORDER_NOT_RESTING: "cancel names an order not resting on this book "
    "(already filled or cancelled)",
    RejectReason.MALFORMED: "order fields of the wrong type or out of range",
}


class Event(enum.IntEnum):
    ACK = 1
    REJECT = 2
    TRADE = 3
    CANCELLED = 4
    CANCEL_DONE = 5


ORDER_FIELDS = ("oid", "account", "symbol", "side", "otype", "tif", "price", "qty", "target")


class Order(NamedTuple):
    """Readable view of a wire order tuple (``Order(*t)``); the hot path keeps plain tuples."""

    oid: int
    account: int
    symbol: str
    side: int
    otype: int
    tif: int
    price: int
    qty: int
    target: int = 0


class Fill(NamedTuple):
    """One trade between a buy and a sell order, at the resting order's price."""

    symbol: str
    match_seq: int
    buy_oid: int
    sell_oid: int
    price: int
    qty: int


def format_price(ticks: int) -> str:
    """Integer ticks as dollars: 12345 -> '123.45'."""
    sign = "-" if ticks < 0 else ""
    whole, cents = divmod(abs(ticks), TICKS_PER_DOLLAR)
    return f"{sign}{whole}.{cents:02d}"
