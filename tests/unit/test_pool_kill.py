"""A broker is killed once: while it is dying it is neither killed again nor judged hung."""

from __future__ import annotations

import logging

from simulator import messages as msg
from simulator.bus import new_bus
from simulator.pool import RUNNING, BrokerHandle, BrokerPool


class SlowToDie:
    """A process that stays alive after SIGKILL, as one freeing gigabytes does for a while."""

    pid = 4242

    def __init__(self):
        self.kills = 0

    def is_alive(self):
        return True

    def kill(self):
        self.kills += 1


def test_a_broker_slow_to_die_is_killed_and_logged_once_and_not_judged_hung_meanwhile(caplog):
    spec = msg.BrokerSpec(index=0, name="broker-1", symbols=("AAPL",), symbol_ids=(0,))
    pool = BrokerPool(new_bus("test"), [spec], inbox_batches=4, on_message=lambda *a: None)
    process = SlowToDie()
    pool.brokers = [BrokerHandle(spec=spec, process=process, channel=None, state=RUNNING, pid=4242)]
    assert [b.name for b in pool.hung(now=100.0, after_s=1.0)] == ["broker-1"]
    with caplog.at_level(logging.WARNING, logger="pool"):
        for _ in range(50):  # the supervisor's ticks until the death is seen
            pool.kill(0)
    assert process.kills == 1
    assert [r.getMessage() for r in caplog.records].count("killing broker-1 (pid 4242)") == 1
    assert pool.hung(now=100.0, after_s=1.0) == []
