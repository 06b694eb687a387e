"""The order types in the flow: which new orders become stops, FOK, post-only or icebergs, and
which cancels become amends. Array steps over one block, drawn from the flow's own generator.

Nothing is drawn when every share is 0, so such a flow is the flow of before these types. One
number per new order picks its type: below ``stop`` a stop; then ``fok`` (of IOC and MARKET
orders); then ``post_only``, then ``iceberg`` (of DAY limit orders); the rest stay as they are.
So each type's share is of the orders it can come from, and the conversions keep every DAY
limit order a DAY order that rests (a cancel candidate of ``flow.py``): a STOP_LIMIT DAY, a
GTX, an ICEBERG DAY. A stop's trigger is 1 to 8 ticks beyond the reference on the side it waits
for (above for a buy, below for a sell), a STOP_LIMIT's limit 0 to 3 ticks past its trigger;
an iceberg has three times the quantity and shows 100 to 300 shares.

An amend replaces a random cancel (never an expiry): half keep the price and ask for 100
shares (less than the order had, unless it traded down: its place is kept), half move the
order 1 to 8 ticks behind the reference with 100 to 1,000 shares (it goes to the back).
Pure model: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.orders import OrderType, TimeInForce

_LIMIT, _MARKET, _STOP, _STOP_LIMIT, _ICEBERG = 0, 1, int(OrderType.STOP), int(OrderType.STOP_LIMIT), 5
_DAY, _IOC, _FOK, _GTX = 0, 1, int(TimeInForce.FOK), int(TimeInForce.GTX)
_PRICE, _QTY = 6, 7  # order record columns


@dataclass(frozen=True, slots=True)
class TypeShares:
    """The shares of ``order_flags.OrderTypeSettings``, for the flow."""

    fok: float = 0.0
    post_only: float = 0.0
    stop: float = 0.0
    iceberg: float = 0.0
    amend: float = 0.0

    @property
    def any_new(self) -> bool:
        return bool(self.fok or self.post_only or self.stop or self.iceberg)


NO_TYPES = TypeShares()  # the flow of LIMIT and MARKET orders only


def convert(
    rng: np.random.Generator,
    shares: TypeShares,
    ref: np.ndarray,
    side: np.ndarray,
    otype: np.ndarray,
    tif: np.ndarray,
    price: np.ndarray,
    qty: np.ndarray,
) -> np.ndarray:
    """Turn some of a block's new orders into the new types, in place; their ``target``."""
    b = len(ref)
    target = np.zeros(b, np.int64)
    if not shares.any_new:
        return target
    u = rng.random(b)
    beyond = rng.integers(1, 9, b)
    past = rng.integers(0, 4, b)
    shown = 100 * rng.integers(1, 4, b)
    edges = np.cumsum([shares.stop, shares.fok, shares.post_only, shares.iceberg])
    market = otype == _MARKET
    day_limit = ~market & (tif == _DAY)
    stop = u < edges[0]
    fok = (u >= edges[0]) & (u < edges[1]) & (market | (tif == _IOC))
    post_only = (u >= edges[1]) & (u < edges[2]) & day_limit
    iceberg = (u >= edges[2]) & (u < edges[3]) & day_limit
    trigger = ref + side * beyond
    target[stop] = trigger[stop]
    price[stop & ~market] = (trigger + side * past)[stop & ~market]
    otype[stop] = np.where(market[stop], _STOP, _STOP_LIMIT)
    tif[fok] = _FOK
    tif[post_only] = _GTX
    otype[iceberg] = _ICEBERG
    qty[iceberg] *= 3
    target[iceberg] = shown[iceberg]
    return target


def amend(rng: np.random.Generator, share: float, cancels: np.ndarray, random: np.ndarray, side: np.ndarray,
          price: np.ndarray, ref: np.ndarray) -> None:  # fmt: skip
    """Turn a share of a block's random cancels into amends, in place (``random``: per cancel,
    whether it is a random one; ``side``, ``price``: its target's; ``ref``: the reference then)."""
    if not share or not len(cancels):
        return
    c = len(cancels)
    chosen = (rng.random(c) < share) & (random == 1)
    keep_price = rng.random(c) < 0.5
    behind = rng.integers(1, 9, c)
    lots = 100 * rng.integers(1, 11, c)
    moved = chosen & ~keep_price
    kept = chosen & keep_price
    cancels[kept, _PRICE], cancels[kept, _QTY] = price[kept], 100
    cancels[moved, _PRICE] = (ref - side * behind)[moved]
    cancels[moved, _QTY] = lots[moved]
