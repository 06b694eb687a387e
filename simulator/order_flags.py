"""The flags of the order types and of self-trade prevention: their config fields and parsing.

``OrderTypeSettings`` is the base of the run's config (``config.SimConfig``, through
``amqp_url.AmqpSettings``), so its fields are SimConfig's; ``add_flags`` adds the flags to the
parser, ``problem`` checks them together. What the shares mean is the flow's business
(``flow_types.py``); what the types do, the book's (``order_types.py``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from simulator.order_types import STP_MODES

SHARES = ("stop_ratio", "fok_ratio", "post_only_ratio", "iceberg_ratio")  # drawn from one number


@dataclass(frozen=True, slots=True)
class OrderTypeSettings:
    """The order types' part of a run's config."""

    fok_ratio: float = 0.05  # of IOC and MARKET orders: sent fill-or-kill instead
    post_only_ratio: float = 0.03  # of DAY limit orders: sent post-only (GTX)
    stop_ratio: float = 0.03  # of new orders: stops (MARKET -> STOP, limit -> STOP_LIMIT)
    iceberg_ratio: float = 0.02  # of DAY limit orders: icebergs
    amend_ratio: float = 0.20  # of the flow's random cancels: amends (cancel-replace) instead
    stp: str = "none"  # self-trade prevention, one of order_types.STP_MODES


def add_flags(parser: argparse.ArgumentParser, d: OrderTypeSettings, ratio: Callable[[str], float]) -> None:
    """The order types' flags, with the defaults of ``d``."""
    add = parser.add_argument
    # fmt: off
    add("--fok-ratio", metavar="X", type=ratio, default=d.fok_ratio,
        help="share of IOC and MARKET orders sent fill-or-kill (FOK) instead")
    add("--post-only-ratio", metavar="X", type=ratio, default=d.post_only_ratio,
        help="share of DAY limit orders sent post-only (TIF GTX: rejected WOULD_CROSS rather than take)")
    add("--stop-ratio", metavar="X", type=ratio, default=d.stop_ratio,
        help="share of new orders sent as stops: a MARKET order as STOP, a limit order as STOP_LIMIT")
    add("--iceberg-ratio", metavar="X", type=ratio, default=d.iceberg_ratio,
        help="share of DAY limit orders sent as icebergs (three times the quantity, 100 to 300 shown)")
    add("--amend-ratio", metavar="X", type=ratio, default=d.amend_ratio,
        help="share of the flow's random cancels sent as amends (cancel-replace) instead")
    add("--stp", choices=STP_MODES, default=d.stp,
        help="self-trade prevention: what an order meeting a resting order of its own account does")
    # fmt: on


def problem(ns: argparse.Namespace) -> str | None:
    """What is wrong with the shares together: one number draws them, so they add up to 1 at most."""
    total = sum(getattr(ns, name) for name in SHARES)
    if total > 1:
        named = ", ".join(f"--{n.replace('_', '-')} {getattr(ns, n):g}" for n in SHARES if getattr(ns, n))
        return f"argument --stop-ratio: {named} add up to {total:g}: at most 1 together"
    return None
