"""The pre-trade risk flags of a run (``--max-order-qty`` ...): their fields, parsing and checks.

``RiskSettings`` is a base class of ``config.SimConfig`` (as ``amqp_url.AmqpSettings`` is of
it), so the limits are fields of the one frozen config the report prints; ``add_flags`` adds
them to the run's parser, each bounded, off (None) by default. What each check does, and which
of them are reproducible, is ``simulator.risk``'s docstring.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.amqp_url import AmqpSettings

# Bounds: far above anything the flow makes (quantities of 100 to 1,000 shares at $2 and up),
# and small enough that a limit times a price stays inside an int64 of ticks x shares.
MOST_QTY = 10**9
MOST_NOTIONAL = 1e13  # dollars
MOST_BAND_PCT = 1000.0
MOST_OPEN = 10**9
MOST_PER_S = 10**9


@dataclass(frozen=True, slots=True)
class RiskSettings(AmqpSettings):
    """The risk part of a run's ``config.SimConfig``: each limit, or None when it is off."""

    max_order_qty: int | None = None  # shares per order
    max_notional: float | None = None  # dollars per order (qty x price; a market order at the reference)
    price_band_pct: float | None = None  # a limit price within this percent of the symbol's reference
    max_position: int | None = None  # shares held per account and symbol, either way
    max_open_orders: int | None = None  # orders per account placed and not final
    max_orders_per_s: int | None = None  # orders per account per second of the flow's clock


def _positive_int(most: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not 1 <= value <= most:
            raise argparse.ArgumentTypeError(f"must be from 1 to {most:,}, got {value:,}")
        return value

    return parse


def _positive_float(most: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or not 0 < value <= most:
            raise argparse.ArgumentTypeError(f"must be more than 0 and at most {most:,g}, got {text!r}")
        return value

    return parse


def add_flags(p: Any) -> None:
    """The risk flags of a run, in a group of their own in --help."""
    g = p.add_argument_group(
        "pre-trade risk (in the bank, before an order leaves it; each off unless given)",
        "An order over a limit is rejected, not clipped, with its own reason. The per-order\n"
        "limits and, at a set --rate, --max-orders-per-s are functions of the seed and the\n"
        "flags: the same orders are refused whatever the brokers or batch. --max-open-orders\n"
        "and --max-position read what the bank knows of fills as they come back, so which\n"
        "orders they refuse is NOT reproducible (the limits themselves always hold).",
    )
    add = g.add_argument
    # fmt: off
    add("--max-order-qty", metavar="N", type=_positive_int(MOST_QTY), default=None,
        help="reject an order of more than N shares (ORDER_QTY_LIMIT)")
    add("--max-notional", metavar="USD", type=_positive_float(MOST_NOTIONAL), default=None,
        help="reject an order worth more than USD dollars, quantity x price; a market order "
        "at its symbol's reference price (NOTIONAL_LIMIT)")
    add("--price-band-pct", metavar="P", type=_positive_float(MOST_BAND_PCT), default=None,
        help="reject a limit order priced more than P percent away from its symbol's reference "
        "price (the flow's, as of that order) (PRICE_BAND)")
    add("--max-position", metavar="N", type=_positive_int(MOST_QTY), default=None,
        help="reject an order that could take its account's position in the symbol past N "
        "shares either way, counting its open orders as filled (POSITION_LIMIT; not reproducible)")
    add("--max-open-orders", metavar="N", type=_positive_int(MOST_OPEN), default=None,
        help="reject an order of an account with N orders open already (OPEN_ORDERS_LIMIT; "
        "not reproducible)")
    add("--max-orders-per-s", metavar="N", type=_positive_int(MOST_PER_S), default=None,
        help="reject an account's orders past N in one second of the schedule (ORDER_RATE_LIMIT; "
        "reproducible at a set --rate, not at --rate 0)")
    # fmt: on


def limits_given(config: RiskSettings) -> dict[str, float | int]:
    """The limits that are on, by flag name (for the report and the banner)."""
    names = ("max_order_qty", "max_notional", "price_band_pct", "max_position", "max_open_orders")
    return {n: v for n in (*names, "max_orders_per_s") if (v := getattr(config, n)) is not None}
