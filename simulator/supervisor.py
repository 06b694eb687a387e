"""The supervisor: dead and hung brokers, restarts with their books restored, fault drills.

A bus plugin of the bank process. On every 'main' tick (after the bank read what was waiting,
so a bank that was itself stalled judges fresh heartbeats, not stale ones) and every 'drain'
round of the stop protocol it:

* restarts every broker found dead -- its process gone, its channel at end of file -- with its
  books rebuilt exactly from the ledger (RESTORE, the new broker's first message) and every
  order of its shard not answered yet sent again (published on the bus as 'restarted', for the
  bank to queue); after ``--max-restarts`` restarts of one broker it gives up on it and stops
  the run as failed, and the orders it held are reported lost;
* kills a broker that sent nothing (no heartbeat, no events) for ``--hang-timeout`` seconds,
  after reading what waits in its pipe, and restarts it as dead.

On 'main' only: the fault drills (``--kill-broker-every``) and the dashboard's kill requests.
The dashboard's HUNG state comes from the same ``--hang-timeout`` (``hang_timeout_s``).
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from cherrypy.process.plugins import SimplePlugin

from simulator import messages as msg
from simulator.bank import StopRequest
from simulator.bus import ORDER
from simulator.config import SimConfig
from simulator.ledger import Ledger
from simulator.routing import Routing

log = logging.getLogger("supervisor")

_LIVENESS_EVERY_S = 0.2


class Supervisor(SimplePlugin):
    def __init__(
        self, bus: Any, config: SimConfig, stop: StopRequest, brokers: Any, ledger: Ledger, routing: Routing
    ) -> None:
        super().__init__(bus)
        self.config = config
        self.stop_request = stop
        self.brokers = brokers  # the BrokerPool
        self.ledger = ledger
        self.routing = routing
        self.hang_timeout_s = config.hang_timeout
        self.restarts = 0  # of all brokers, over the run
        self._kill_requests: list[str] = []
        self._drill_rng = random.Random(config.seed ^ 0x5EED)
        self._next_drill = float("inf")
        self._next_liveness = 0.0

    def subscribe(self) -> None:
        self.bus.subscribe("start", self.start, priority=ORDER["start", "supervisor"])
        self.bus.subscribe("main", self.main, priority=ORDER["main", "supervisor"])
        self.bus.subscribe("drain", self.drain, priority=ORDER["drain", "supervisor"])

    def start(self) -> None:
        if self.config.kill_broker_every:
            self._next_drill = time.monotonic() + self.config.kill_broker_every

    def main(self) -> None:
        if self.stop_request:
            return  # the stop protocol's 'drain' supervises from here on
        self._restart_dead()
        self.brokers.keep_standby()  # after a takeover, the next standby (once the shard answers)
        now = time.monotonic()
        if now >= self._next_liveness:
            self._next_liveness = now + _LIVENESS_EVERY_S
            self._kill_hung(now)
            self._fault_drills(now)

    def drain(self, now: float) -> None:
        self._restart_dead()
        self._kill_hung(now)

    # -- requests (any thread; a plain list append) -------------------------------------------

    def kill_broker(self, name: str) -> None:
        """Ask for a broker to be killed with SIGKILL on the next tick (a fault drill)."""
        self._kill_requests.append(name)
        self._next_liveness = 0.0

    # -- dead and hung -------------------------------------------------------------------------

    def _restart_dead(self) -> None:
        for b in self.brokers.dead():
            if not b.given_up:
                self._restart(b)

    def _restart(self, b: Any) -> None:
        limit = self.config.max_restarts
        if b.restarts >= limit:
            b.given_up = True
            reason = f"{b.name} died {b.restarts + 1} times; --max-restarts {limit} reached"
            log.error("%s: stopping; the orders it held are lost", reason)
            self.stop_request.request(f"fatal: {reason}", fatal=True)
            return
        if getattr(self.brokers, "redelivers", False):
            # AMQP: the new broker asks for its books itself, and its shard's queue still holds
            # every unanswered order, in order: nothing to send again
            handle = self.brokers.respawn(b.index)
            self.restarts += 1
            log.warning(
                "%s restarted as pid %s (restart %d of %d)", b.name, handle.pid, handle.restarts, limit
            )
            return
        t0 = time.monotonic()
        states = {
            symbol: msg.BookState(*state) for symbol, state in self.ledger.book_states(b.spec.symbols).items()
        }
        unanswered = self.ledger.unanswered(self.routing.wire_syms(b.index))
        handle = self.brokers.respawn(b.index, msg.encode(msg.RESTORE, states))
        self.restarts += 1
        self.bus.publish("restarted", b.index, unanswered)
        log.warning(
            "%s restarted as pid %s (restart %d of %d): %d resting orders restored, "
            "%d unanswered orders sent again (%.1f ms)",
            b.name,
            handle.pid,
            handle.restarts,
            limit,
            sum(len(st.resting) for st in states.values()),
            len(unanswered),
            (time.monotonic() - t0) * 1e3,
        )

    def _kill_hung(self, now: float) -> None:
        for b in self.brokers.hung(now, self.hang_timeout_s):
            # what waits in its pipe was said before now: read it before judging (a bank that
            # was itself stalled -- SIGSTOP, swap -- would otherwise find every broker silent)
            self.brokers.read_waiting(b.index)
            if b not in self.brokers.hung(time.monotonic(), self.hang_timeout_s):
                continue
            log.error(
                "%s (pid %s) sent no heartbeat nor any other message for %.1f s: treating it as dead",
                b.name,
                b.pid,
                now - max(b.last_heard, b.started_at),
            )
            self.brokers.kill(b.index)

    # -- drills -------------------------------------------------------------------------------

    def _fault_drills(self, now: float) -> None:
        while self._kill_requests:
            name = self._kill_requests.pop()
            for b in self.brokers.brokers:
                if b.name == name:
                    log.warning("fault drill: killing %s on request", name)
                    self.brokers.kill(b.index)
        every = self.config.kill_broker_every
        if every and now >= self._next_drill:
            self._next_drill = now + every
            index = self._drill_rng.randrange(len(self.brokers.brokers))
            log.warning("fault drill: kill -9 %s", self.brokers.brokers[index].name)
            self.brokers.kill(index)
