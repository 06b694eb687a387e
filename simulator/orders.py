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


class RejectReason(enum.IntEnum):
    QTY_NOT_POSITIVE = 1  # quantity must be a positive integer
    PRICE_NOT_POSITIVE = 2  # a limit price must be a positive number of ticks
    UNKNOWN_SYMBOL = 3  # no book trades this symbol
    UNKNOWN_ORDER = 4  # a cancel names an order that was never placed
    ORDER_NOT_RESTING = 5  # a cancel names an order not resting on this book (filled or cancelled)
    MALFORMED = 6  # order fields of the wrong type or out of range
    # pre-trade risk, refused in the bank before the order leaves it (simulator.risk)
    ORDER_QTY_LIMIT = 20  # quantity over --max-order-qty
    NOTIONAL_LIMIT = 21  # quantity x price over --max-notional
    PRICE_BAND = 22  # limit price outside --price-band-pct of the symbol's reference
    POSITION_LIMIT = 23  # could take the account's position in the symbol past --max-position
    OPEN_ORDERS_LIMIT = 24  # the account has --max-open-orders open already
    ORDER_RATE_LIMIT = 25  # the account placed --max-orders-per-s in this second already
    KILL_SWITCH = 26  # the account's orders are blocked by the kill switch


class Event(enum.IntEnum):
    ACK = 1
    REJECT = 2
    TRADE = 3
    CANCELLED = 4
    CANCEL_DONE = 5


ORDER_FIELDS = ("oid", "account", "symbol", "side", "otype", "tif", "price", "qty", "target")


def format_price(ticks: int) -> str:
    """Integer ticks as dollars: 12345 -> '123.45'."""
    sign = "-" if ticks < 0 else ""
    whole, cents = divmod(abs(ticks), TICKS_PER_DOLLAR)
    return f"{sign}{whole}.{cents:02d}"
