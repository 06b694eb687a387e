"""Step mode on the real bank and brokers: while paused, each step places the flow's next order,
watches its symbol, and the tape shows all it did; stepping changes timing, never the fills."""

from __future__ import annotations

import threading

import pytest

from simulator.config import SimConfig
from simulator.runner import Simulation
from simulator.stats import RunState
from simulator.testing.waiting import deadline_wait
from tui.tape_format import step_summary

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

FLAGS = dict(brokers=2, symbols=("AAPL", "MSFT", "NVDA"), rate=400, orders=3_000, seed=21, headless=True)


def run(sim: Simulation, steer=None):
    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(sim.run()))
    runner.start()
    try:
        if steer is not None:
            steer(sim)
    except BaseException:
        sim.request_stop("test failed")  # a paused run would otherwise never end
        raise
    finally:
        runner.join(90)
        if runner.is_alive():
            sim.request_stop("test over")
            runner.join(30)
    assert outcome, "the run did not end"
    return outcome[0]


def test_a_stepped_run_trades_exactly_as_an_unstepped_one():
    # the rate changes the timing, never the fills: the unstepped run goes at full speed
    plain = run(Simulation(SimConfig(**{**FLAGS, "rate": 0.0})))
    summaries = []

    def steer(sim: Simulation) -> None:
        deadline_wait(lambda: sim.bank.ledger.placed > 500)
        sim.command("pause")
        deadline_wait(lambda: sim.snapshot() is not None and sim.snapshot().state is RunState.PAUSED)
        deadline_wait(lambda: sim.bank.ledger.in_flight == 0)
        for _ in range(5):
            placed, before = sim.bank.ledger.placed, sim.snapshots.stepped
            sim.command("step")
            # the bus thread books the order before it names it: wait for the name
            oid = deadline_wait(
                lambda b=before: sim.snapshots.stepped if sim.snapshots.stepped != b else 0,
                what="the step to place an order",
            )
            assert sim.bank.ledger.placed > placed

            def told(oid: int = oid) -> bool:
                snapshot = sim.snapshot()
                if snapshot is None or snapshot.stepped != oid:
                    return False
                summary = step_summary(snapshot.tape_events, oid)
                if summary is not None:
                    summaries.append((snapshot.selected_symbol, summary))
                return summary is not None

            deadline_wait(told, what="the stepped order's events on the tape")
        sim.command("resume")
        sim.command("rate", 0.0)  # the rest at full speed: one more change of timing

    stepped = run(Simulation(SimConfig(**FLAGS)), steer)
    assert stepped.exit_code == plain.exit_code == 0
    assert stepped.fills_digest == plain.fills_digest
    assert len(summaries) == 5
    for symbol, summary in summaries:
        assert f" {symbol} @ " in summary  # the step watched the order's own symbol


def test_a_step_while_running_places_nothing():
    sim = Simulation(SimConfig(**{**FLAGS, "rate": 5.0, "orders": 20}))

    def steer(sim: Simulation) -> None:
        deadline_wait(lambda: sim.bank.ledger.placed >= 1)
        assert not len(sim.bank.step())

    assert run(sim, steer).exit_code == 0
