"""Your account as views show it: what your own orders did, apart from the flow's, and the
account's cash, positions and P&L. Made for every Snapshot (a look at a few orders and one
account's column of positions) and for the report at the end.

Pure model: reads the ledger, changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.accounts import last_prices
from simulator.orders import RejectReason
from simulator.outside_ids import YOU, source_of
from simulator.stats import YourAccount, YourOrder

if TYPE_CHECKING:
    from simulator.ledger import Ledger

MOST_POSITIONS = 4


def your_account(ledger: Ledger, account: int) -> YourAccount:
    """Your account (``account``: the one beyond the flow's) as the ledger has it now."""
    counts = ledger.outside.counts[YOU]
    symbols = ledger.symbols
    n = len(symbols)
    orders = tuple(
        YourOrder(
            o.oid,
            symbols[o.sym] if 0 <= o.sym < n else "?",
            o.side,
            o.otype,
            o.tif,
            o.price,
            o.qty,
            o.qty - o.leaves,
            o.state,
            o.reason,
            o.cancel,
        )  # fmt: skip
        for o in counts.recent.values()
    )
    held = ledger.positions_held.of_accounts([account])[account] if counts.placed else {}
    last = last_prices(ledger.traded)
    value = sum(q * int(last[s]) for s, q in held.items())
    cash = int(ledger.cash_array[account])
    biggest = sorted(held, key=lambda s: (-abs(held[s]), s))[:MOST_POSITIONS]
    finished = counts.filled + counts.cancelled + counts.rejected
    return YourAccount(
        account=account,
        placed=counts.placed,
        filled=counts.filled,
        cancelled=counts.cancelled,
        rejected=counts.rejected,
        open=counts.placed - finished,
        filled_qty=counts.filled_qty,
        cash=cash,
        pnl=cash + value,
        positions=tuple((symbols[s], held[s]) for s in biggest),
        orders=orders,
    )


def report_section(you: YourAccount | None, lost_ids: list[int]) -> dict:
    """The report's ``you``: your orders counted apart from the flow's (the run's
    ``orders`` count them with the flow's); ``lost_ids``: every order lost at the end."""
    lost = sum(1 for oid in lost_ids if source_of(oid) == YOU)
    if you is None:
        return {"account": None, "placed": 0, "filled": 0, "cancelled": 0, "rejected": 0, "resting": 0,
                "lost": 0, "filled_qty": 0, "cash": 0, "pnl": 0, "orders": []}  # fmt: skip
    return {
        "account": you.account,
        "placed": you.placed,
        "filled": you.filled,
        "cancelled": you.cancelled,
        "rejected": you.rejected,
        "resting": you.open - lost,
        "lost": lost,
        "filled_qty": you.filled_qty,
        "cash": you.cash,
        "pnl": you.pnl,
        "orders": [
            {
                "id": o.oid,
                "symbol": o.symbol,
                "side": o.side,
                "type": o.otype,
                "tif": o.tif,
                "price": o.price,
                "qty": o.qty,
                "filled": o.filled,
                "state": o.state,
                "reason": reason_name(o.reason),
                "cancel": o.cancel,
            }  # fmt: skip
            for o in you.orders
        ],
    }


def reason_name(reason: int) -> str | None:
    """A RejectReason's name (None for 0, no reason; its number for one not known here)."""
    if not reason:
        return None
    try:
        return RejectReason(reason).name
    except ValueError:
        return str(reason)
