"""Orders and what happens to them: the vocabulary shared by the bank, the brokers and the books.

Pure model: no processes, no clock, no I/O. Enumerations are ``IntEnum`` so that their plain
integer values can travel as int64 records across process boundaries (see ``wire.py``) and
still read as names everywhere else.

An order reads as a tuple in ``ORDER_FIELDS`` order (on the wire, ``symbol`` is its index)::

    (oid, account, symbol, side, otype, tif, price, qty, target)

``price`` is in integer ticks (one tick = one cent); it is 0 for MARKET, STOP and CANCEL orders.
``target`` says what the type needs besides: the order a CANCEL asks to cancel (or to amend),
the trigger price of a STOP or STOP_LIMIT, the display quantity of an ICEBERG; 0 otherwise.
An *amend* (cancel-replace) is a CANCEL with ``qty > 0``: ``qty`` the target's new open
quantity, ``price`` its new limit price (see ``order_types.py``).

A broker answers every order with events, read as tuples, the first item an ``Event`` (on the
wire each is padded to 7 integers)::

    (Event.ACK, oid)                                    order accepted
    (Event.REJECT, oid, reason)                         order or cancel refused, RejectReason
    (Event.TRADE, symbol, match_seq, buy_oid, sell_oid, price, qty)
    (Event.CANCELLED, oid, leaves[, reason])            order ended with ``leaves`` unfilled;
                                                        reason SELF_TRADE when STP ended it
    (Event.CANCEL_DONE, cancel_oid, target_oid)         a cancel request succeeded
    (Event.AMENDED, amend_oid, target_oid, leaves, price, delta, stamp)
                                                        an amend succeeded: the target's new
                                                        leaves and price, leaves - old leaves,
                                                        its new priority stamp (0: kept)
    (Event.TRIGGERED, stop_oid, stamp)                  a held stop's trigger was touched: it
                                                        enters the book now
    (Event.SHOWN, oid, leaves, visible, stamp, price)   an iceberg shows ``visible`` of its
                                                        ``leaves`` at the back of its level
    (Event.AGENT_ORDER, oid, account, packed, price, qty, target or stamp)
                                                        an agent's order (``agents.py``)

A *stamp* orders entries within a price level: ``oid << STAMP_SHIFT`` for an order resting as
it arrived; ``(m << STAMP_SHIFT) + k`` for the k-th entry put at the back of its level while
the book handled message ``m`` (an amend, a triggered stop, an iceberg's refill). The bank
keeps them so that a restarted broker's books have their exact priority.

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
    CANCEL = 2  # with qty > 0: an amend (cancel-replace) of the order ``target``
    STOP = 3  # held until the last trade touches ``target``, then a MARKET order
    STOP_LIMIT = 4  # held until the last trade touches ``target``, then a LIMIT order at ``price``
    ICEBERG = 5  # a LIMIT order showing ``target`` shares at a time


class TimeInForce(enum.IntEnum):
    DAY = 0  # the unfilled rest of a limit order rests on the book
    IOC = 1  # immediate or cancel: the unfilled rest is cancelled at once
    GTC = 2  # good till cancelled: within a run the same as DAY (a run is one session)
    FOK = 3  # fill or kill: filled whole at once, or rejected FOK_NOT_FILLABLE untouched
    GTX = 4  # post-only DAY: rests without taking liquidity, or is rejected WOULD_CROSS


class RejectReason(enum.IntEnum):
    QTY_NOT_POSITIVE = 1  # quantity must be a positive integer
    PRICE_NOT_POSITIVE = 2  # a limit price must be a positive number of ticks
    UNKNOWN_SYMBOL = 3  # no book trades this symbol
    UNKNOWN_ORDER = 4  # a cancel names an order that was never placed
    ORDER_NOT_RESTING = 5  # a cancel names an order not resting on this book (filled or cancelled)
    MALFORMED = 6  # order fields of the wrong type or out of range
    WOULD_CROSS = 7  # a post-only (GTX) order, or an amend of one, would take liquidity
    FOK_NOT_FILLABLE = 8  # a FOK order cannot be filled whole at once
    SELF_TRADE = 9  # self-trade prevention ended the order (the reason of a CANCELLED)
    BAD_TRIGGER = 10  # a stop's trigger price is not positive
    BAD_DISPLAY = 11  # an iceberg's display is not within 1..qty, or its TIF does not rest
    NOT_AMENDABLE = 12  # an amend names an iceberg or a stop not yet triggered
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
    AMENDED = 6
    TRIGGERED = 7
    SHOWN = 8
    AGENT_ORDER = 9  # an order an agent made in the broker, before its own events (agents.py)


STAMP_SHIFT = 20  # see the module docstring: a stamp is (message id << STAMP_SHIFT) + k


ORDER_FIELDS = ("oid", "account", "symbol", "side", "otype", "tif", "price", "qty", "target")


def format_price(ticks: int) -> str:
    """Integer ticks as dollars: 12345 -> '123.45'."""
    sign = "-" if ticks < 0 else ""
    whole, cents = divmod(abs(ticks), TICKS_PER_DOLLAR)
    return f"{sign}{whole}.{cents:02d}"
