"""The order counts a Snapshot carries add up, mid-run and at the end, whatever was lost:
cancel requests are counted apart from orders (the dashboard, the progress line and the
report all read these counts)."""

from __future__ import annotations

import time

import pytest

from simulator.config import SimConfig
from simulator.orders import Event, OrderType, Side, TimeInForce
from simulator.runner import Simulation

pytestmark = pytest.mark.timeout(60)

BUY, SELL = int(Side.BUY), int(Side.SELL)
LIMIT, CANCEL, DAY = int(OrderType.LIMIT), int(OrderType.CANCEL), int(TimeInForce.DAY)
ACK, TRADE, CANCEL_DONE = int(Event.ACK), int(Event.TRADE), int(Event.CANCEL_DONE)


def limit(oid: int, side: int, price: int = 1000) -> tuple:
    return (oid, 0, "AAPL", side, LIMIT, DAY, price, 100, 0)


def cancel(oid: int, target: int) -> tuple:
    return (oid, 0, "AAPL", 0, CANCEL, DAY, 0, 0, target)


def simulation_with_orders_half_answered() -> Simulation:
    """A Simulation (not started: no process) whose ledger holds orders and cancel requests,
    some answered, some not."""
    sim = Simulation(SimConfig(brokers=1, symbols=("AAPL",), headless=True))
    ledger = sim.bank.ledger
    ledger.place(
        [limit(1, BUY), limit(2, SELL), limit(3, BUY, 900), cancel(4, 3), limit(5, BUY, 800), cancel(6, 5)], 0
    )
    ledger.apply(
        [(ACK, 1), (ACK, 2), (TRADE, "AAPL", 1, 1, 2, 1000, 100), (ACK, 3), (CANCEL_DONE, 4)],
        0,
        sim.bank.ack_latency,
    )
    return sim


def test_mid_run_the_orders_in_flight_complete_the_identity_and_cancels_are_apart():
    sim = simulation_with_orders_half_answered()
    o = sim.snapshots.make(time.monotonic()).orders
    assert o.placed == o.filled + o.cancelled + o.rejected + o.resting + o.in_flight
    assert (o.placed, o.filled, o.resting, o.in_flight) == (4, 2, 1, 1)  # order 5 unanswered
    assert o.cancels_in_flight == 1  # cancel 6: not an order in flight


def test_at_the_end_lost_orders_and_lost_cancel_requests_are_counted_apart():
    sim = simulation_with_orders_half_answered()
    sim.bank.reconciliation = sim.bank.ledger.reconcile({3: 100})  # order 3 rests; 5 and 6 never came back
    o = sim.snapshots.make(time.monotonic()).orders
    assert (o.lost, o.cancels_lost, o.in_flight, o.cancels_in_flight) == (1, 1, 0, 0)
    assert o.placed == o.filled + o.cancelled + o.rejected + o.resting + o.lost
