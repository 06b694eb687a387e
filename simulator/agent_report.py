"""The report's ``agents``: what the run's agents (``agents.py``) did, in all and per kind.

Their orders are the bank's like any other: the run's ``orders`` count them with the flow's,
and this section counts them apart (as ``you`` does yours), with each kind's accounts, orders,
cancel requests, net position and P&L marked to the last trades. Pure model: reads the ledger.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.accounts import last_prices, mark
from simulator.agents import KINDS
from simulator.outside_ids import AGENT


def agent_figures(ledger: Any) -> dict[str, Any]:
    """The section for ``ledger`` (its ``agents`` say who they are)."""
    p = ledger.agents
    counts = ledger.outside.counts[AGENT]
    _value, pnl = mark(ledger.positions_held, ledger.cash_array, last_prices(ledger.traded))
    kinds = {}
    first = p.first_account
    for kind, n in zip(KINDS, (p.makers, p.momentum, p.mean_reversion)):
        accounts = list(range(first, first + n))
        first += n
        held = ledger.positions_held.of_accounts(accounts) if n else {}
        orders, cancels = ledger.outside.agent_kinds.get(kind, [0, 0])
        kinds[kind] = {
            "agents": n,
            "accounts": accounts,
            "orders": orders,
            "cancel_requests": cancels,
            "position": sum(sum(held.get(a, {}).values()) for a in accounts),
            "pnl": int(np.sum(pnl[accounts])) if n else 0,
        }
    return {
        "count": p.count,
        "placed": counts.placed,
        "filled": counts.filled,
        "cancelled": counts.cancelled,
        "rejected": counts.rejected,
        "cancel_requests": counts.cancels_sent,
        "filled_qty": counts.filled_qty,
        "kinds": kinds,
    }


def agents_line(section: dict) -> str:
    """The summary's line of the agents: their orders, fills and each kind's P&L."""
    kinds = ", ".join(
        f"{k['agents']} {name.replace('_', ' ')} P&L ${k['pnl'] / 100:,.2f}"
        for name, k in section["kinds"].items()
        if k["agents"]
    )
    return (
        f"agents   placed {section['placed']:,} ({section['cancel_requests']:,} cancel requests): filled "
        f"{section['filled']:,}, cancelled {section['cancelled']:,}, rejected {section['rejected']:,}; "
        f"{section['filled_qty']:,} shares traded; {kinds}"
    )
