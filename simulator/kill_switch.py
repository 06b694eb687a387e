"""The kill switch on the bank: block an account's new orders (or everyone's) and have every
broker cancel what it holds of them; release it. The bank's gate (``risk.py``) does the
refusing; the brokers cancel on a CANCEL_ALL (``Broker.cancel_all``)."""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

from simulator.outside_ids import YOU
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
    upto = max(bank.flow.next_oid - 1, bank.ledger.outside.last_id(YOU))
    for kills in bank._kills:
        kills.append((upto, account))
    bank.kill_log.append((bank.run_seconds(), "engaged", account))
    log.warning(
        "kill switch engaged for %s: its resting orders are cancelled, new ones refused", _who(account)
    )


def resend(bank: Bank, index: int, sent: list[tuple[int, int, int]]) -> None:
    """A restarted broker ``index`` gets the CANCEL_ALLs it may not have read (``sent``), in
    the order they were sent, before those not sent yet; first, a halt (nothing to cancel: id
    0) of each agent account blocked now, since its agents start afresh (agents.py)."""
    killed = bank.risk.killed
    first = bank.agents.first_account
    halts = [(0, a) for a in sorted(killed) if a == ALL_ACCOUNTS or first <= a < first + bank.agents.count]
    again = [(upto, account) for upto, account, _ in sent]
    bank._kills[index] = deque(halts + again + list(bank._kills[index]))


def release(bank: Bank, account: int) -> None:
    """Let ``account``'s orders through again (ALL_ACCOUNTS: every account's); agents, which
    the brokers run, hear it as a CANCEL_ALL with ``upto`` -1 (it cancels nothing)."""
    if bank.risk.release(account):
        bank.kill_log.append((bank.run_seconds(), "released", account))
        if bank.agents.count:
            for kills in bank._kills:
                kills.append((-1, account))
        log.warning("kill switch released for %s", _who(account))
    elif ALL_ACCOUNTS in bank.risk.killed:
        log.warning("kill switch holds every account: release all of them, not %s", _who(account))
    else:
        log.info("kill switch: %s was not blocked", _who(account))
