"""Commands a dashboard sends to a live run, on the real bank and broker processes."""

from __future__ import annotations

import threading

import pytest

from simulator.config import SimConfig
from simulator.runner import Simulation
from simulator.testing.waiting import deadline_wait

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def snapshots_pass(sim: Simulation, n: int) -> None:
    """Wait until the bank has published ``n`` more snapshots (10 a second): ticks in which
    it would have placed orders."""
    seen = {sim.snapshot().elapsed_s}
    deadline_wait(lambda: seen.add(sim.snapshot().elapsed_s) or len(seen) > n)


@pytest.mark.parametrize("rate", [0, 20_000], ids=["full-speed", "set-rate"])
def test_a_paused_run_places_no_order_until_it_is_resumed(rate):
    sim = Simulation(
        SimConfig(
            brokers=2, symbols=("AAPL", "MSFT", "NVDA"), rate=rate, seed=3, headless=True, stop_timeout=20
        )
    )
    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(sim.run()))
    runner.start()
    try:
        deadline_wait(lambda: sim.bank.ledger.placed > 5_000)
        sim.command("pause")
        deadline_wait(lambda: sim.bank.ledger.in_flight == 0)  # what was sent before gets answered
        placed = sim.bank.ledger.placed
        snapshots_pass(sim, 5)
        assert sim.bank.ledger.placed == placed, "orders were placed while paused"
        deadline_wait(lambda: sim.snapshot() and sim.snapshot().state.name == "PAUSED")
        sim.command("resume")
        deadline_wait(lambda: sim.bank.ledger.placed > placed + 1_000)
    finally:
        sim.request_stop("test over")
        runner.join(60)
    assert outcome and outcome[0].exit_code == 0
    assert outcome[0].reconciliation.ok
