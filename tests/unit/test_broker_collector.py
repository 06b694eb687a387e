"""The broker's steady state makes no reference cycle: what lets it freeze its heap at every tick.

A broker moves what survives each tick out of the collector's reach (``processes.freeze_heap_each_tick``),
so a cycle made in the steady state would never be freed. These tests run the pump over the
seeded flow (every order type, self-trade prevention, agents, the tapes, heartbeats every tick)
with the collector off, then ask a full collection how many unreachable objects it found: none.
"""

from __future__ import annotations

import gc

import pytest

from simulator import agent_flags
from simulator import messages as msg
from simulator.broker import Broker, InboxPump
from simulator.bus import new_bus
from simulator.config import config_from_args
from simulator.flow import OrderFlow
from simulator.order_types import stp_index
from simulator.processes import OrphanWatch, freeze_heap_each_tick
from simulator.testing.pipe_ends import FakeInbox

pytestmark = pytest.mark.timeout(120)


class CountingResults:
    """A results end that decodes what is sent (as the bank would) and keeps only a count."""

    def __init__(self) -> None:
        self.sent = 0

    def send_bytes(self, data: bytes) -> None:
        msg.decode(data)
        self.sent += 1


def flowing_pump(flags: list[str]):
    """A pump of a broker holding every symbol, and a tick of the seeded flow to run it."""
    config = config_from_args(["--headless", "--seed", "5", *flags])
    symbols = tuple(config.symbols)
    agents = agent_flags.params(config, config.accounts + 1) if agent_flags.any_agents(config) else None
    spec = msg.BrokerSpec(
        0, "b", symbols, tuple(range(len(symbols))), heartbeat_s=0.0, stp=stp_index(config.stp), agents=agents
    )
    flow = OrderFlow.from_config(config)
    inbox = FakeInbox([msg.encode(msg.WATCH, (symbols[0], 1e6))])  # and every book's tape
    pump = InboxPump(new_bus("test"), Broker(spec), inbox, CountingResults(), OrphanWatch())
    pump.start()

    def tick() -> None:
        for _ in range(4):
            inbox.payloads.append(msg.encode(msg.ORDERS, flow.generate(256).tobytes()))
        pump.main()

    return pump, tick


@pytest.mark.parametrize(
    "flags",
    [
        ["--symbols", "40", "--stp", "cancel-both", "--iceberg-ratio", "0.2"],
        ["--preset", "market", "--symbols", "4", "--headless"],
    ],
    ids=["order types and self-trade prevention", "agents"],
)
def test_the_pump_makes_no_reference_cycle(flags):
    pump, tick = flowing_pump(flags)
    tick()  # first uses (imports, caches) aside
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(60):
            tick()
        found = gc.collect()
    finally:
        if was:
            gc.enable()
    assert pump.broker.orders > 50_000 and pump.results.sent > 60
    assert found == 0, f"{found} objects in reference cycles"


def test_a_broker_s_heap_is_frozen_at_the_end_of_each_tick():
    bus = new_bus("test")
    thresholds = gc.get_threshold()
    try:
        freeze_heap_each_tick(bus)
        kept = [[i] for i in range(1000)]  # survivors of a tick
        bus.publish("main")
        assert gc.get_count()[0] < 100
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
