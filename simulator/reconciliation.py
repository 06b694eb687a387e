"""Closing the books: the orders the ledger holds open against those the brokers say rest.

At the end of a run every order the bank placed must be final or resting on a book with the
leaves the ledger expects, and every cancel request answered::

    placed = filled + cancelled + rejected + resting + lost, with lost == 0,
    cancel requests unanswered (cancels_lost) == 0,
    every symbol's positions sum to 0, and cash sums to 0.

Cancel requests are not orders: one never answered is counted in ``cancels_lost``, apart
from the orders ``lost``, so the identity holds whatever was lost.

``close_books`` compares; the ledger (``Ledger.reconcile``) passes it its open orders and counts.
Pure model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from simulator.orders import OrderType

_CANCEL = int(OrderType.CANCEL)
_OTYPE = 4  # order record column
_MISMATCHES_KEPT = 20


@dataclass
class Reconciliation:
    placed: int
    filled: int
    cancelled: int
    rejected: int
    resting: int
    lost: int  # orders open in the ledger and resting on no book
    lost_ids: list[int]  # their ids, rising
    cancels_lost: int  # cancel requests never answered
    positions_balanced: bool
    cash_balanced: bool
    mismatches: list[str] = field(default_factory=list)
    lost_cancel_ids: list[int] = field(default_factory=list)  # ids of those cancels, rising

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.cancels_lost == 0
            and self.positions_balanced
            and self.cash_balanced
            and not self.mismatches
            and self.placed == self.filled + self.cancelled + self.rejected + self.resting
        )


def close_books(
    open_orders: Iterable[tuple[int, tuple, int, int]],
    resting: Mapping[int, int],
    *,
    placed: int,
    filled: int,
    cancelled: int,
    rejected: int,
    positions_balanced: bool,
    cash_balanced: bool,
) -> Reconciliation:
    """``open_orders`` as (oid, record, leaves, state), the ledger's; ``resting`` maps every
    order the brokers report resting to its leaves."""
    mismatches = []
    resting_count = 0
    lost_ids, lost_cancel_ids = [], []
    open_ids = set()
    for oid, record, leaves, _state in open_orders:
        open_ids.add(oid)
        if record[_OTYPE] == _CANCEL:
            lost_cancel_ids.append(oid)
        elif oid in resting:
            resting_count += 1
            if resting[oid] != leaves:
                mismatches.append(f"order {oid}: broker says {resting[oid]} resting, ledger {leaves}")
        else:
            lost_ids.append(oid)
    for oid in resting:
        if oid not in open_ids:
            mismatches.append(f"order {oid} resting on a book but final in the ledger")
    return Reconciliation(
        placed=placed,
        filled=filled,
        cancelled=cancelled,
        rejected=rejected,
        resting=resting_count,
        lost=len(lost_ids),
        lost_ids=sorted(lost_ids),
        cancels_lost=len(lost_cancel_ids),
        positions_balanced=positions_balanced,
        cash_balanced=cash_balanced,
        mismatches=mismatches[:_MISMATCHES_KEPT],
        lost_cancel_ids=sorted(lost_cancel_ids),
    )
