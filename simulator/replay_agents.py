"""The agents in a replay: desks beside the replayed books, and what they made against the journal.

A run's agents (``agents.py``) placed orders nobody sent: the brokers made them, reacting to
each order of a book's inbox. A replay makes them again the same way, with a desk beside each
replayed book built from the journal's config, so it needs no agent order from the journal;
it checks each one it makes (its AGENT_ORDER: account, side, type, price, quantity) against the
journal's ``orders`` row of that id, and the results of those orders the way it checks any
(``expected`` holds them until the replay makes them). What the journal has and the replay did
not make is reported by ``leftover``.
"""

from __future__ import annotations

import sqlite3
import types
from typing import Any

from simulator import agent_flags
from simulator.agent_records import expanded, unpack_kind
from simulator.agents import AGENT_BASE, Desk
from simulator.orders import OrderType, TimeInForce
from simulator.replay_check import Verdict

_TYPES = {int(t): t.name for t in OrderType}
_TIFS = {int(t): t.name for t in TimeInForce}
_CANCEL = int(OrderType.CANCEL)
_ORDERS_SQL = (
    f"SELECT id, symbol, account, side, type, tif, price, qty, target FROM orders WHERE id > {AGENT_BASE}"
)
_RESULTS_SQL = f"SELECT order_id, event, detail FROM results WHERE order_id > {AGENT_BASE}"


class AgentReplay:
    """The run's agents for one replay (none when its config had none)."""

    def __init__(self, con: sqlite3.Connection, config: Any) -> None:
        given = config if isinstance(config, dict) else {}
        defaults = agent_flags.AgentSettings()
        settings = {f: given.get(f, getattr(defaults, f)) for f in agent_flags.FIELDS}
        settings["seed"] = given.get("seed", 0)
        ns = types.SimpleNamespace(**settings)
        self.on = agent_flags.any_agents(ns)
        self.params = agent_flags.params(ns, int(given.get("accounts", 100)) + 1)
        self.made = 0  # agent orders the replay made
        self.orders: dict[int, tuple] = {}
        self.expected: dict[tuple[int, str], object] = {}  # (id, event) -> detail, until made
        if self.on:
            for oid, *row in con.execute(_ORDERS_SQL):
                self.orders[oid] = tuple(row)
            for oid, name, detail in con.execute(_RESULTS_SQL):
                self.expected[(oid, name)] = detail

    def desk(self, book: Any) -> Desk | None:
        return Desk(self.params, book) if self.on and book is not None else None

    @staticmethod
    def react(desk: Desk, oid: int, out: list, book: Any) -> list:
        """The desk's reaction to order ``oid`` (whose events are ``out``), as its broker's: the
        events with the answers the agents' records stand for (``agent_records.expanded``), which the
        journal's results list."""
        start = len(out)
        desk.react(oid, out, 0, book.submit_into, book.cancel_into)
        return expanded(out) if len(out) > start else out

    def check(
        self, symbol: str, oid: int, account: int, packed: int, price: int, qty: int, last: int, v: Verdict
    ) -> None:
        """One AGENT_ORDER the replay made, against the journal's row of that id."""
        self.made += 1
        _sym, side, otype, tif = unpack_kind(packed)
        made = (
            symbol,
            account,
            side,
            _TYPES[otype],
            _TIFS[tif],
            price,
            qty,
            last if otype == _CANCEL else None,
        )
        journalled = self.orders.pop(oid, None)
        if journalled != made:
            v.differ(f"{symbol} agent order {oid}: journal {journalled} vs replay {made}")

    def leftover(self, v: Verdict) -> None:
        """What the journal holds of agents that the replay never made."""
        if self.orders:
            oid = min(self.orders)
            v.differ(f"{self.orders[oid][0]} agent order {oid} is in the journal, the replay did not make it")
