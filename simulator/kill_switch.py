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
from collections import deque
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from simulator.outside_ids import OUTSIDE_BASE, YOU
from simulator.risk import ALL_ACCOUNTS

if TYPE_CHECKING:
    from simulator.bank import Bank

log = logging.getLogger("bank")  # the bank says it, as before


class Kill(NamedTuple):
    """One use of the kill switch, for ``account`` (ALL_ACCOUNTS: every one), placed among the
    orders as if it were one: after the flow's up to ``flow_upto`` and yours up to
    ``you_upto``. ``released``: a release, which agents (run by the brokers) hear too."""

    flow_upto: int
    you_upto: int
    account: int
    released: bool = False


def message(kill: Kill) -> tuple[int, int]:
    """The CANCEL_ALL a broker gets: (account, upto), where it cancels that account's orders
    with ids up to ``upto`` (the higher id: it holds none placed after anyway), and ``upto``
    -1 is a release (it cancels nothing, and lets the account's agents quote again)."""
    return (kill.account, -1 if kill.released else max(kill.flow_upto, kill.you_upto))


def _now(bank: Bank, account: int, released: bool = False) -> Kill:
    """A use of the switch behind every order placed so far: the flow's, and yours (their ids
    are above the flow's); journalled in its place."""
    kill = Kill(bank.flow.next_oid - 1, bank.ledger.outside.last_id(YOU), account, released)
    if bank.journal is not None:
        bank.journal.record_kill(*kill)
    return kill


def _who(account: int) -> str:
    return "every account" if account == ALL_ACCOUNTS else f"account {account}"


def engage(bank: Bank, account: int) -> None:
    """Block ``account``'s new orders (ALL_ACCOUNTS: everyone's) and have every broker cancel
    its resting ones: a CANCEL_ALL behind every order placed so far."""
    bank.risk.kill(account)
    kill = _now(bank, account)
    for kills in bank._kills:
        kills.append(kill)
    bank.kill_log.append((bank.run_seconds(), "engaged", account))
    log.warning(
        "kill switch engaged for %s: its resting orders are cancelled, new ones refused", _who(account)
    )


def resend(bank: Bank, index: int, sent: list[tuple[Kill, int]]) -> None:
    """A restarted broker ``index`` gets the CANCEL_ALLs it may not have read (``sent``), in
    the order they were sent, before those not sent yet; first, a halt (nothing to cancel: id
    0) of each agent account blocked now, since its agents start afresh (agents.py)."""
    killed = bank.risk.killed
    first = bank.agents.first_account
    agents = range(first, first + bank.agents.count)
    halts = [Kill(0, 0, a) for a in sorted(killed) if a == ALL_ACCOUNTS or a in agents]
    again = [kill for kill, _count in sent]
    bank._kills[index] = deque(halts + again + list(bank._kills[index]))


def release(bank: Bank, account: int) -> None:
    """Let ``account``'s orders through again (ALL_ACCOUNTS: every account's); agents, which
    the brokers run, hear it as a CANCEL_ALL with ``upto`` -1 (it cancels nothing), behind
    the orders placed before it, as an engage is."""
    if bank.risk.release(account):
        bank.kill_log.append((bank.run_seconds(), "released", account))
        kill = _now(bank, account, released=True)
        if bank.agents.count:
            for kills in bank._kills:
                kills.append(kill)
        log.warning("kill switch released for %s", _who(account))
    elif ALL_ACCOUNTS in bank.risk.killed:
        log.warning("kill switch holds every account: release all of them, not %s", _who(account))
    else:
        log.info("kill switch: %s was not blocked", _who(account))


def placed_before(ids: np.ndarray, flow_upto: int, you_upto: int) -> np.ndarray:
    """Which of the order ids ``ids`` were placed before a kill switch named by its two ids."""
    return np.where(ids > OUTSIDE_BASE, ids <= you_upto, ids <= flow_upto)


def placed_after(oid: int, kill: Kill) -> bool:
    """Whether order ``oid`` was placed after the use of the kill switch ``kill``."""
    return oid > (kill.you_upto if oid > OUTSIDE_BASE else kill.flow_upto)


def behind(pending_ids: np.ndarray, flow_upto: int, you_upto: int) -> int:
    """How many of a broker's pending orders (ids in placement order) a CANCEL_ALL of that
    kill switch goes behind: those placed before it, always the first ones."""
    before = placed_before(pending_ids, flow_upto, you_upto)
    return len(before) if before.all() else int(np.argmin(before))
