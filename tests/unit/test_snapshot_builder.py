"""What the Snapshot says about the brokers: HUNG after the same --hang-timeout supervision uses."""

from __future__ import annotations

import os
import time

import pytest

from simulator import messages as msg
from simulator.channel import NoChannel
from simulator.config import SimConfig
from simulator.pool import RUNNING, BrokerHandle
from simulator.runner import Simulation


def simulation_with_a_silent_broker(hang_timeout: float, silent_for: float) -> tuple[Simulation, float]:
    """A Simulation (not started: no process) whose one broker's last heartbeat is old."""
    sim = Simulation(SimConfig(brokers=1, symbols=("AAPL",), hang_timeout=hang_timeout, headless=True))
    now = time.monotonic()
    sim.pool.brokers.append(
        BrokerHandle(
            spec=sim.pool.specs[0],
            process=None,
            channel=NoChannel(),  # type: ignore[arg-type]
            state=RUNNING,
            pid=os.getpid(),
            started_at=now - 60,
            last_heard=now - silent_for,
            heartbeat=msg.Heartbeat(0, os.getpid(), 10, 2, 1, 0),
        )
    )
    return sim, now


@pytest.mark.parametrize(
    ("hang_timeout", "silent_for", "shown"),
    [(5.0, 3.0, "RUNNING"), (5.0, 5.5, "HUNG"), (2.0, 3.0, "HUNG"), (10.0, 9.0, "RUNNING")],
)
def test_a_broker_shows_hung_exactly_when_supervision_would_treat_it_as_dead(hang_timeout, silent_for, shown):
    sim, now = simulation_with_a_silent_broker(hang_timeout, silent_for)
    row = sim.snapshots.make(now).processes[1]
    assert row.name == "broker-1"
    assert row.state == shown
    assert row.heartbeat_age_s == pytest.approx(silent_for)
    hung = sim.pool.hung(now, sim.supervisor.hang_timeout_s)
    assert bool(hung) == (shown == "HUNG")
