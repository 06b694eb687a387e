"""The accounts view from a real ledger: P&L marked to the last price, top accounts, open orders."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import accounts
from simulator.ledger import Ledger
from simulator.orders import Event, OrderType, Side, TimeInForce

LIMIT, DAY = int(OrderType.LIMIT), int(TimeInForce.DAY)
BUY, SELL = int(Side.BUY), int(Side.SELL)


def booked_ledger(accounts: int = 4) -> Ledger:
    ledger = Ledger(("AAPL", "MSFT"), accounts)
    orders = [
        (1, 1, 0, BUY, LIMIT, DAY, 10_000, 100, 0),  # account 1 buys 100 AAPL at 100.00 from 2
        (2, 2, 0, SELL, LIMIT, DAY, 10_000, 100, 0),
        (3, 3, 1, BUY, LIMIT, DAY, 5_000, 10, 0),  # resting: account 3's open order
        (4, 1, 0, SELL, LIMIT, DAY, 11_000, 1, 0),  # account 1 sells 1 AAPL at 110.00 to 0
        (5, 0, 0, BUY, LIMIT, DAY, 11_000, 1, 0),
    ]
    ledger.place(np.array(orders, np.int64), 0)
    trade = int(Event.TRADE)
    events = [
        (int(Event.ACK), 1), (int(Event.ACK), 2), (trade, "AAPL", 1, 1, 2, 10_000, 100),
        (int(Event.ACK), 3), (int(Event.ACK), 4), (int(Event.ACK), 5), (trade, "AAPL", 2, 5, 4, 11_000, 1),
    ]  # fmt: skip
    ledger.apply(events, 1, type("H", (), {"record": lambda *a: None})())
    return ledger


@pytest.mark.parametrize("many", [4, 1_000_000], ids=["dense", "sparse-positions"])
def test_pnl_is_cash_plus_positions_at_the_last_price(many):
    ledger = booked_ledger(many)
    last = accounts.last_prices(ledger.traded)
    assert last.tolist() == [11_000, 0]
    top, value, pnl, _held = accounts.top_accounts(ledger.symbols, ledger._positions, ledger._cash, last, 3)
    # account 1: paid 1,000,000, got 11,000, holds 99 at 110.00 = 1,089,000: +100,000
    assert [(r.account, r.pnl) for r in top] == [(1, 100_000), (0, 0), (3, 0)]
    assert top[0].positions == (("AAPL", 99),) and top[0].cash == -989_000
    assert int(pnl.sum()) == 0  # what one gains another loses, at any price
    worst = accounts.account_row(2, ledger.symbols, ledger._positions, ledger._cash, value, pnl)
    assert worst.pnl == -100_000 and worst.positions == (("AAPL", -100),)


def test_open_orders_are_the_accounts_orders_not_final():
    ledger = booked_ledger()
    (order,) = accounts.open_orders(ledger._window, 3, ledger.symbols, 20)
    assert (order.oid, order.symbol, order.qty, order.leaves, order.state) == (3, "MSFT", 10, 10, "resting")
    assert accounts.open_orders(ledger._window, 2, ledger.symbols, 20) == []


def test_the_best_accounts_are_those_a_full_sort_ranks_first_ties_to_the_lower_account():
    rng = np.random.default_rng(5)
    for pnl in (rng.integers(-5, 5, 10_000), np.zeros(1000, np.int64), rng.integers(-(10**9), 10**9, 5000)):
        for most in (1, 10, 37, len(pnl), len(pnl) + 3):
            full = np.lexsort((np.arange(len(pnl)), -pnl))[:most]
            assert accounts.best(pnl, most).tolist() == full.tolist()
