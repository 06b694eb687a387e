"""Whether an order's fields can be taken: the checks every order type shares, with their reasons.

The book's hot path checks plain LIMIT and MARKET orders by range only (its fields are exact ints
off the wire); ``check_order`` is the full rule, for the slow path (``order_types.py``) and for
what the readable ``OrderBook.submit`` is given. Pure model: stdlib only.
"""

from __future__ import annotations

from simulator.orders import RejectReason

_LIMIT, _MARKET, _STOP, _STOP_LIMIT, _ICEBERG = 0, 1, 3, 4, 5
_DAY, _IOC, _GTC, _FOK, _GTX = 0, 1, 2, 3, 4


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def check_order(
    side: int, otype: int, tif: int, price: int, qty: int, target: int = 0
) -> RejectReason | None:
    """Why an order must be refused, or None if it is acceptable.

    Fields that are not ints (bool is not one here) or out of range are MALFORMED: a side not
    BUY/SELL, a type that is not an order's (CANCEL is a request), a TIF not in TimeInForce, a
    stop not DAY/GTC/IOC, a MARKET order GTX. That is checked first, since an order whose fields
    cannot be read cannot be judged further. Then QTY_NOT_POSITIVE, then PRICE_NOT_POSITIVE for
    a type with a limit price (LIMIT, STOP_LIMIT, ICEBERG), then BAD_TRIGGER for a stop whose
    trigger is not positive, then BAD_DISPLAY for an iceberg (display not 1..qty, or IOC/FOK).
    """
    exact = type(side) is int and type(otype) is int and type(tif) is int and type(price) is int
    if not (exact and type(qty) is int and type(target) is int) and not all(
        _is_int(x) for x in (side, otype, tif, price, qty, target)
    ):
        return RejectReason.MALFORMED
    if side not in (1, -1) or otype not in (0, 1, 3, 4, 5) or not 0 <= tif <= 4:
        return RejectReason.MALFORMED
    if (otype in (_STOP, _STOP_LIMIT) and tif not in (_DAY, _GTC, _IOC)) or (
        otype == _MARKET and tif == _GTX
    ):
        return RejectReason.MALFORMED
    if qty <= 0:
        return RejectReason.QTY_NOT_POSITIVE
    if otype in (_LIMIT, _STOP_LIMIT, _ICEBERG) and price <= 0:
        return RejectReason.PRICE_NOT_POSITIVE
    if otype in (_STOP, _STOP_LIMIT) and target <= 0:
        return RejectReason.BAD_TRIGGER
    if otype == _ICEBERG and (not 1 <= target <= qty or tif in (_IOC, _FOK)):
        return RejectReason.BAD_DISPLAY
    return None


def is_special(side: int, otype: int, tif: int) -> bool:
    """True for an order this module takes (exact ints): a new type or a new time in force."""
    return 3 <= otype <= 5 or 2 <= tif <= 4
