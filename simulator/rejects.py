"""Rejects counted by reason, orders and cancel requests apart.

The ledger counts rejects in one dict keyed by reason, plus ``CANCEL_REASON`` when the rejected
message was a cancel request: a cancel naming an order that has just filled (ORDER_NOT_RESTING)
is the ordinary race of a market, not a refused order, and reports say the two apart.

Pure model: stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping

from simulator.orders import RejectReason

CANCEL_REASON = 1000  # added to a reason's number when a cancel request was rejected


def reasons_by_name(counts: Mapping[int, int], cancels: bool | None = None) -> dict[str, int]:
    """``counts`` (the ledger's) per reason name: of orders (``cancels`` False), of cancel
    requests (True), or both added up (None); in the reasons' order."""
    out: dict[str, int] = {}
    for key, n in sorted(counts.items(), key=lambda item: (item[0] % CANCEL_REASON, item[0])):
        if cancels is None or cancels == (key > CANCEL_REASON):
            name = RejectReason(key % CANCEL_REASON).name
            out[name] = out.get(name, 0) + n
    return out
