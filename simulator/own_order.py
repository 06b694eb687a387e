"""Your own order: what a person fills in (the dashboard's form, or ``{"command": "order"}``
over HTTP), checked into an order the bank can place, or refused with the reason.

The fields are words and numbers as typed: ``symbol`` (one the run trades), ``side`` (BUY or
SELL), ``type`` (LIMIT or MARKET), ``tif`` (DAY: the rest rests; IOC: it is cancelled),
``price`` in dollars (a LIMIT's, more than 0, whole cents; a MARKET takes none) and ``qty``
(whole shares, 1 to ``MOST_QTY``). ``check_order`` is the one check: the form refuses what it
refuses, with its words, before anything leaves, and the bank checks again what arrives from
anywhere. Nothing invalid is sent, so a broker never rejects your order for its fields.

A cancel of your order names it by id (``2**40 + n``, or as views write it, ``#you3``):
``your_id`` reads it, ``check_cancel`` refuses an id that is not yours, one never placed, or a
cancel's, and otherwise gives the ``OwnCancel`` the bank places like any cancel (a CANCEL
record behind the pending orders of the order's broker). Whether the order still rests is the
book's to say: if it filled meanwhile, the cancel is rejected ORDER_NOT_RESTING.

Pure model: no clock, no process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from simulator.orders import TICKS_PER_DOLLAR, OrderType, Side, TimeInForce, format_price
from simulator.outside_ids import SOURCES, YOU, order_label, source_of
from simulator.outside_orders import OutsideOrders

MOST_QTY = 1_000_000  # shares in one order of yours
MOST_PRICE_TICKS = 100_000_000  # $1,000,000.00
FIELDS = ("symbol", "side", "type", "tif", "price", "qty")
_SIDES = {"BUY": Side.BUY, "B": Side.BUY, "SELL": Side.SELL, "S": Side.SELL}
_TYPES = {
    "LIMIT": OrderType.LIMIT,
    "LMT": OrderType.LIMIT,
    "MARKET": OrderType.MARKET,
    "MKT": OrderType.MARKET,
}
_TIFS = {"DAY": TimeInForce.DAY, "IOC": TimeInForce.IOC}


class BadOrder(ValueError):
    """An order that is refused before it is sent: ``field`` names what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OwnOrder:
    """An order of yours, checked: ready to be placed."""

    symbol: str
    side: int  # orders.Side
    otype: int  # orders.OrderType: LIMIT or MARKET
    tif: int  # orders.TimeInForce
    price: int  # ticks; 0 for a MARKET order
    qty: int

    def record(self, oid: int, account: int, sym: int) -> list[int]:
        """Its wire record (``orders.ORDER_FIELDS``), with the id and account the bank gives it."""
        return [oid, account, sym, self.side, self.otype, self.tif, self.price, self.qty, 0]

    def as_fields(self) -> dict[str, object]:
        """The fields again, as ``check_order`` reads them (a command's argument)."""
        return {
            "symbol": self.symbol,
            "side": Side(self.side).name,
            "type": OrderType(self.otype).name,
            "tif": TimeInForce(self.tif).name,
            "price": str(Decimal(self.price) / TICKS_PER_DOLLAR) if self.price else "",
            "qty": self.qty,
        }


def check_order(fields: object, symbols: Sequence[str]) -> OwnOrder:
    """``fields`` (a mapping of ``FIELDS``) as an OwnOrder; BadOrder saying which field is
    wrong and why."""
    if not isinstance(fields, Mapping):
        raise BadOrder("order", "give the fields symbol, side, type, tif, price and qty")
    unknown = sorted(str(k) for k in fields if k not in FIELDS)
    if unknown:
        raise BadOrder(unknown[0], f"not a field of an order (the fields: {', '.join(FIELDS)})")
    symbol = _word(fields, "symbol")
    if symbol not in symbols:
        raise BadOrder("symbol", f"{symbol or 'nothing'} is not a symbol of this run")
    side = _choice(fields, "side", _SIDES, "BUY or SELL")
    otype = _choice(fields, "type", _TYPES, "LIMIT or MARKET")
    tif = _choice(fields, "tif", _TIFS, "DAY or IOC", default="DAY")
    qty = _qty(fields.get("qty"))
    price = fields.get("price")
    if otype == OrderType.MARKET:
        if price not in (None, "", 0):
            raise BadOrder("price", "a MARKET order takes no price: it trades at the book's")
        ticks = 0
    else:
        ticks = _ticks(price)
    return OwnOrder(symbol, int(side), int(otype), int(tif), ticks, qty)


def _word(fields: Mapping, name: str, default: str = "") -> str:
    value = fields.get(name, default)
    if value is None:
        value = default
    if not isinstance(value, str):
        raise BadOrder(name, f"a word, not {value!r:.20}")
    return value.strip().upper()


def _choice(fields: Mapping, name: str, choices: Mapping, words: str, default: str = "") -> int:
    word = _word(fields, name, default)
    if word not in choices:
        raise BadOrder(name, f"{words}, not {word or 'nothing'}")
    return int(choices[word])


def _qty(value: object) -> int:
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        if not text.isdigit():
            raise BadOrder("qty", f"a whole number of shares, not {value.strip() or 'nothing'!s:.20}")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadOrder("qty", f"a whole number of shares, not {value!r:.20}")
    if not 1 <= value <= MOST_QTY:
        raise BadOrder("qty", f"1 to {MOST_QTY:,} shares, not {value:,}")
    return value


def _ticks(value: object) -> int:
    """A limit price in dollars (text or number) as ticks."""
    if value is None or value == "":
        raise BadOrder("price", "a LIMIT order needs a price, in dollars (e.g. 412.50)")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadOrder("price", f"a price in dollars, not {value!r:.20}")
    text = value.strip().lstrip("$").replace(",", "") if isinstance(value, str) else repr(value)
    try:
        dollars = Decimal(text)
    except InvalidOperation:
        raise BadOrder("price", f"a price in dollars (e.g. 412.50), not {text!s:.20}") from None
    if not dollars.is_finite() or dollars <= 0:
        raise BadOrder("price", f"more than 0, not {text:.20}")
    ticks = dollars * TICKS_PER_DOLLAR
    if ticks != ticks.to_integral_value():
        raise BadOrder("price", f"whole cents (a tick is $0.01), not {text:.20}")
    if ticks > MOST_PRICE_TICKS:
        raise BadOrder("price", f"at most ${MOST_PRICE_TICKS // TICKS_PER_DOLLAR:,}, not {text:.20}")
    return int(ticks)


def describe(order: OwnOrder | OwnCancel) -> str:
    """One line: 'BUY 100 AAPL @ 412.50 LIMIT DAY' (a MARKET order: no price); a cancel's:
    'cancel #you3 (AAPL)'."""
    if isinstance(order, OwnCancel):
        return f"cancel {order_label(order.target)} ({order.symbol})"
    price = f" @ {format_price(order.price)}" if order.otype == OrderType.LIMIT else ""
    return (
        f"{Side(order.side).name} {order.qty:,} {order.symbol}{price} "
        f"{OrderType(order.otype).name} {TimeInForce(order.tif).name}"
    )


@dataclass(frozen=True, slots=True)
class OwnCancel:
    """A cancel of your order ``target`` (on ``symbol``), checked: ready to be placed."""

    symbol: str
    target: int

    def record(self, oid: int, account: int, sym: int) -> list[int]:
        """Its wire record: a CANCEL of ``target`` (qty 0: a cancel, not an amend)."""
        return [oid, account, sym, 0, int(OrderType.CANCEL), 0, 0, 0, self.target]


def your_id(value: object) -> int:
    """Your order's id from ``value``: the id itself, or as views write it ('#you3', 'you3');
    BadOrder("cancel") if it reads as neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower().lstrip("#")
        if text.startswith(YOU) and text[len(YOU) :].isdigit():
            return SOURCES[YOU] + int(text[len(YOU) :])
        if text.isdigit():
            return int(text)
    raise BadOrder("cancel", f"an order of yours, as #you3 or its id, not {value!r:.20}")


def not_yours(oid: object) -> str:
    """Why a cancel of flow order ``oid`` is refused."""
    return f"order {oid} is not yours: only your own orders (#you1, #you2...) can be cancelled"


def check_cancel(value: object, outside: OutsideOrders, symbols: Sequence[str]) -> OwnCancel:
    """A cancel of your order ``value`` (``your_id``); BadOrder saying why it is refused: not
    yours, never placed, or a cancel itself."""
    oid = your_id(value)
    if source_of(oid) != YOU:
        raise BadOrder("cancel", not_yours(oid))
    if oid > outside.last_id(YOU):
        last = outside.last_id(YOU)
        placed = f"your last is {order_label(last)}" if last > SOURCES[YOU] else "you placed none yet"
        raise BadOrder("cancel", f"{order_label(oid)} was never placed ({placed})")
    if oid in outside.cancel_ids:
        raise BadOrder("cancel", f"{order_label(oid)} is a cancel, not an order")
    known = outside.known(oid)
    if known is None:
        raise BadOrder("cancel", f"{order_label(oid)} ended long ago: it is no longer among your orders")
    if not 0 <= known.sym < len(symbols):
        raise BadOrder("cancel", f"{order_label(oid)} is for no symbol of this run")
    return OwnCancel(symbols[known.sym], oid)
