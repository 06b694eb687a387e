"""The figures of a finished run that only the bank has, gathered once for its report.

The snapshot builder's ``outcome()`` calls ``run_figures`` after the stop protocol: the
per-second series (``simulator.series``), each symbol's trading (``symbol_stats``) and final
book (what the brokers reported resting), each account's cash, positions and P&L marked to the
last prices, each broker's orders and cancel requests as routed and its restarts, the
rejects of orders and of cancel requests apart, the ack latency of the orders a restart held up
and of the others apart, and the pre-trade risk: the limits on, the
orders the bank refused per reason, and each use of the kill switch. All of it plain JSON
types, built at the end from state the run keeps anyway.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.agent_report import agent_figures
from simulator.outside_ids import YOU
from simulator.rejects import reasons_by_name
from simulator.risk import refusal_counts
from simulator.risk_flags import limits_given
from simulator.series import Series
from simulator.symbol_stats import account_table, busiest, final_books

ALL_ACCOUNTS_UP_TO = 100  # the report lists every account up to this many; above, top and bottom


def series_inputs(bank: Any) -> tuple[dict[str, int], dict[str, int]]:
    """The running totals and levels ``Series.sample`` reads (without memory: the caller adds it)."""
    led = bank.ledger
    totals = {
        "placed": led.placed,
        "finished": led.filled + led.cancelled + led.rejected,
        "fills": led.trades,
        "rejects": led.rejected,
        "cancel_rejects": led.cancels_rejected,
        "restarts": sum(b.restarts for b in bank.brokers.brokers),
        "acks": bank.ack_latency.count,
    }
    rec = bank.reconciliation
    return totals, {"resting": rec.resting if rec else led.working}


def run_figures(bank: Any, series: Series) -> dict[str, Any]:
    led = bank.ledger
    symbols, traded = led.symbols, led.traded
    most = bank.config.report_symbols
    listed = busiest(traded.volume, most)  # the symbols the report names (--report-symbols)
    names = {symbols[i] for i in listed.tolist()}
    resting: dict[str, list] = {s: [] for s in names}
    for b in bank.brokers.brokers:
        if b.final is not None:
            for symbol, orders in b.final.resting.items():
                if symbol in names:
                    resting[symbol].extend(orders)
    books = final_books(resting)
    per_symbol = traded.symbol_table(listed)
    for symbol, row in per_symbol.items():
        row["final_book"] = books.get(symbol)
    # the flow's accounts, and yours (one beyond them) once you placed an order
    count = bank.you_account + (1 if led.outside.counts[YOU].placed else 0)
    marks = traded.last_prices()
    cut = {"most": most, "listed": listed.tolist()} if most < len(symbols) else {}
    held, cash = led.positions_held, led.cash_array
    accounts = account_table(held, cash, marks, symbols, count=count, **cut)
    if bank.you_account <= ALL_ACCOUNTS_UP_TO:
        everyone = account_table(held, cash, marks, symbols, top=count, count=count, **cut)
        accounts["all"] = sorted(everyone["top"], key=lambda a: a["account"])
        accounts["marked_to"] = everyone["marked_to"]  # every row's symbols, top and bottom's too
    routed = bank.routed
    brokers = [
        {
            "orders": routed.orders[i],
            "cancel_requests": routed.cancels[i],
            "fills": int(traded.trades[list(b.spec.symbol_ids)].sum()),
            "restarts": b.restarts,
        }
        for i, b in enumerate(bank.brokers.brokers)
    ]
    return {
        "series": series.to_dict(),
        "symbols": per_symbol,
        "symbols_listed": {
            "count": len(symbols),
            "traded": int(np.count_nonzero(traded.traded)),
            "listed": len(per_symbol),
        },
        "accounts": accounts,
        "brokers": brokers,
        "order_rejects": led.reject_counts(cancels=False),
        "cancel_rejects": led.reject_counts(cancels=True),
        "risk": {
            "limits": limits_given(bank.config),
            "refused": refusal_counts(bank.risk.refusals),
            "kill_switch": [{"t_s": round(t, 3), "action": a, "account": n} for t, a, n in bank.kill_log],
        },
        "order_types": order_type_figures(bank),
        "agents": agent_figures(led),
        # the acks of orders a broker's restart held up, and of the others (report: latency_us)
        "ack_held": bank.held_latency.summary(),
        "ack_not_held": bank.ack_latency.minus(bank.held_latency).summary(),
    }


def order_type_figures(bank: Any) -> dict[str, Any]:
    """What the order types beyond LIMIT/MARKET did (ledger_types.py): the report's order_types."""
    types = bank.ledger.types
    held = sum(
        len(stops) for b in bank.brokers.brokers if b.final is not None for stops in b.final.held.values()
    )
    return {
        "amends_done": types.amends_done,
        "stops_triggered": types.triggers,
        "stops_held_at_end": held,  # counted in orders.resting too: they rest, off the book
        "iceberg_refills": types.refills,
        "cancel_reasons": reasons_by_name(types.cancel_reasons),
    }
