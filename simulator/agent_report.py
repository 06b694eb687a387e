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


def agent_figures(ledger: Any) -> dict[str, Any]:
    """The section for ``ledger`` (its ``agents`` say who they are; ``types.agent_counts`` what
    each kind placed and traded)."""
    p = ledger.agents
    counts = ledger.types.agent_counts.tolist()
    _value, pnl = mark(ledger.positions_held, ledger.cash_array, last_prices(ledger.traded))
    kinds = {}
    first = p.first_account
    for k, (kind, n) in enumerate(zip(KINDS, (p.makers, p.momentum, p.mean_reversion))):
        accounts = list(range(first, first + n))
        first += n
        held = ledger.positions_held.of_accounts(accounts) if n else {}
        orders, cancels, trades, shares = counts[k]
        kinds[kind] = {
            "agents": n,
            "accounts": accounts,
            "orders": orders,
            "cancel_requests": cancels,
            "trades": trades,
            "filled_qty": shares,
            "position": sum(sum(held.get(a, {}).values()) for a in accounts),
            "pnl": int(np.sum(pnl[accounts])) if n else 0,
        }
    return {
        "count": p.count,
        "placed": sum(c[0] for c in counts),
        "cancel_requests": sum(c[1] for c in counts),
        "trades": sum(c[2] for c in counts),
        "filled_qty": sum(c[3] for c in counts),
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
        f"agents   placed {section['placed']:,} ({section['cancel_requests']:,} cancel requests), in "
        f"{section['trades']:,} fills, {section['filled_qty']:,} shares traded; {kinds}"
    )
