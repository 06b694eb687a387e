"""The kill switch on the bank: block an account's new orders (or everyone's) and have every
broker cancel what it holds of them; release it. The bank's gate (``risk.py``) does the
refusing; the brokers cancel on a CANCEL_ALL (``Broker.cancel_all``).

Where a CANCEL_ALL sits. It goes to each broker behind every order placed before the switch
engaged and before every one placed after, as if it were an order placed at that moment. What
was placed before is named by two ids, since the flow's orders and yours count apart
(``outside_ids``): the flow's up to ``flow_upto`` and yours up to ``you_upto``. Pending orders
are in placement order, so those before it are always a prefix (``behind``). The journal keeps
the same pair (``Journal.record_kill``), so a replay cancels at the same place.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from simulator.outside_ids import OUTSIDE_BASE, YOU
from simulator.risk import ALL_ACCOUNTS

if TYPE_CHECKING:
    from simulator.bank import Bank

log = logging.getLogger("bank")  # the bank says it, as before


def _who(account: int) -> str:
    return "every account" if account == ALL_ACCOUNTS else f"account {account}"


def engage(bank: Bank, account: int) -> None:
    """Block ``account``'s new orders (ALL_ACCOUNTS: everyone's) and have every broker cancel
    its resting ones: a CANCEL_ALL behind every order placed so far."""
    bank.risk.kill(account)
    # behind every order placed so far: the flow's, and yours (their ids are above the flow's)
    flow_upto, you_upto = bank.flow.next_oid - 1, bank.ledger.outside.last_id(YOU)
    for kills in bank._kills:
        kills.append((flow_upto, you_upto, account))
    if bank.journal is not None:
        bank.journal.record_kill(account, flow_upto, you_upto)
    bank.kill_log.append((bank.run_seconds(), "engaged", account))
    log.warning(
        "kill switch engaged for %s: its resting orders are cancelled, new ones refused", _who(account)
    )


def release(bank: Bank, account: int) -> None:
    """Let ``account``'s orders through again (ALL_ACCOUNTS: every account's)."""
    if bank.risk.release(account):
        bank.kill_log.append((bank.run_seconds(), "released", account))
        log.warning("kill switch released for %s", _who(account))
    elif ALL_ACCOUNTS in bank.risk.killed:
        log.warning("kill switch holds every account: release all of them, not %s", _who(account))
    else:
        log.info("kill switch: %s was not blocked", _who(account))


def placed_before(ids: np.ndarray, flow_upto: int, you_upto: int) -> np.ndarray:
    """Which of the order ids ``ids`` were placed before a kill switch named by its two ids."""
    return np.where(ids > OUTSIDE_BASE, ids <= you_upto, ids <= flow_upto)


def placed_after(oid: int, kill: tuple[int, int, int]) -> bool:
    """Whether order ``oid`` was placed after the kill switch ``(account, flow_upto, you_upto)``."""
    return oid > (kill[2] if oid > OUTSIDE_BASE else kill[1])


def behind(pending_ids: np.ndarray, flow_upto: int, you_upto: int) -> int:
    """How many of a broker's pending orders (ids in placement order) a CANCEL_ALL of that
    kill switch goes behind: those placed before it, always the first ones."""
    before = placed_before(pending_ids, flow_upto, you_upto)
    return len(before) if before.all() else int(np.argmin(before))
