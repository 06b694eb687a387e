"""An AMQP broker frozen at each tick leaks no cycle, however long it runs.

A broker freezes what survives each tick (``processes.freeze_heap_each_tick``), so the collector
never walks its books again; a cycle frozen that way is never freed. Over pipes the steady state
makes none (tests/unit/test_broker_collector.py). Over AMQP pika makes one with every channel it
opens and closes: claiming a shard does, once; the look each second at the bank's queue keeps
one channel for it (amqp_link), and the bank's queue is one it consumes, not an exclusive one a
passive declare would be refused. Here this test's process is the one broker of a real run over
a real RabbitMQ (the bank a subprocess with ``--external-brokers``), freezing as a broker does;
afterwards its heap is unfrozen and a full collection counts what had been frozen in cycles. A
run four times as long (8 s against 2 s) must leave no more than a short one, but for what
setting up a connection leaves (a first run makes the imports and caches).
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from simulator.amqp_broker import run_broker
from simulator.testing.procs import SimProcess, assert_reconciled

pytestmark = pytest.mark.timeout(240)


def frozen_in_cycles(url: str, orders: int, report: Path) -> tuple[int, dict]:
    """Objects in cycles among what this process froze while serving a run of ``orders`` at
    10,000 a second (pika's cycles come with time: the bank's queue is looked at each second)."""
    flags = ("--orders", str(orders), "--seed", "3", "--rate", "10000", "--brokers", "1", "--symbols", "40")
    thresholds = gc.get_threshold()
    gc.collect()
    try:
        amqp = ("--transport", "amqp", "--amqp-url", url, "--external-brokers")
        with SimProcess(*flags, *amqp, report=report) as sim:
            assert run_broker(url, offer=None, stay=False) == 0
            assert sim.wait_exit(60) == 0, sim.output()
            result = sim.report()
        gc.collect()  # what was never frozen
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    return gc.collect(), result


def test_an_amqp_broker_frozen_each_tick_leaks_no_cycle(amqp_url: str, tmp_path: Path) -> None:
    frozen_in_cycles(amqp_url, 5_000, tmp_path / "first.json")  # first uses (imports, caches) aside
    short, r_short = frozen_in_cycles(amqp_url, 20_000, tmp_path / "short.json")
    long, r_long = frozen_in_cycles(amqp_url, 80_000, tmp_path / "long.json")
    for r in (r_short, r_long):
        assert_reconciled(r)
    assert r_long["orders"]["placed"] == 80_000 and r_long["fills"]["count"] > 20_000
    print(f"objects frozen in cycles: {short} after 20,000 orders, {long} after 80,000")
    # a connection's set-up leaves about 30 (pika makes a class for it) and may come once more in
    # either run; the look each second at the bank's queue, when it made a cycle, left 150 more
    assert long - short < 40, f"{long - short} more objects frozen in cycles after 6 s more"
