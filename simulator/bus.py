"""A fresh CherryPy process bus per process, and the loop that drives it.

Never ``cherrypy.engine``: its start channel would start an HTTP server. Each process builds its
own ``wspbus.Bus`` here, whose 'log' channel feeds Python logging (a fresh Bus has no log
listener, and listener errors would otherwise vanish).

``drive`` starts the bus and publishes 'main' back to back until asked to stop, then calls
``exit()``, which publishes 'stop' and 'exit'. Each 'main' listener does a bounded slice of work
and blocks at most a few milliseconds (on a pipe, with a timeout) when idle: this is how a
broker answers in microseconds instead of once per fixed ``block()`` tick.

wspbus turns an exception escaping a stop or exit listener into ``os._exit(70)``, and ``exit()``
while STARTING into the same; ``never_raises`` guards every such listener, and nothing here calls
``exit()`` before ``start()`` returned.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from cherrypy.process import wspbus

states = wspbus.states

# When each plugin answers a bus channel: lower numbers first (wspbus's ``priority``). The whole
# start-up and stop order of a bank process reads here, with the reason for each place; plugins
# subscribe with ``priority=ORDER[channel, role]``. Besides wspbus's own channels the bank process
# publishes 'drain' (each round of the stop protocol: supervise and show it), 'restarted' (a
# broker's new process and the orders it must be sent again) and 'stopped' (reconciled).
ORDER: dict[tuple[str, str], int] = {
    # a STARTING Snapshot before anything slow, so a dashboard shows the run coming up
    ("start", "snapshots"): 5,
    # the journal file exists (or the run fails) before any broker is spawned or order made
    ("start", "journal"): 10,
    # the AMQP connection (--transport amqp), before anything declares or publishes on it
    ("start", "amqp"): 15,
    # spawn every broker and wait for its first heartbeat
    ("start", "brokers"): 20,
    # an AMQP broker process: looks for its shard once its connection is up
    ("start", "taker"): 20,
    # the HTTP API (--http) binds and serves once every broker is ready, before orders begin:
    # the first Snapshots it serves are of a run whose processes all exist, and the first
    # tick's orders are not held back by its start-up
    ("start", "http"): 30,
    # place orders only once every broker is ready
    ("start", "bank"): 70,
    # the fault drills' clock starts with the orders
    ("start", "supervisor"): 71,
    # commands from a dashboard (or POST /api/control) are applied before the tick they change
    ("main", "commands"): 10,
    # place and send what is due, then read what came back (waiting a little when idle)
    ("main", "bank"): 50,
    # judge liveness after the bank read what was waiting (a stalled bank sees stale heartbeats
    # otherwise), then restart what died
    ("main", "supervisor"): 60,
    # the Snapshot shows this tick's work
    ("main", "snapshots"): 70,
    # every few seconds, after the tick's work: the heap's free pages back to the kernel
    ("main", "trim"): 80,
    # the stop protocol: flush, STOP behind the last order, read every final report
    ("stop", "bank"): 40,
    # each round of it: restart what died first, then show the round
    ("drain", "supervisor"): 10,
    ("drain", "snapshots"): 70,
    # join the brokers; kill only those that did not answer
    ("stop", "brokers"): 60,
    # an AMQP broker process: leaves its shard before its connection closes
    ("stop", "taker"): 40,
    # the AMQP connection closes after the brokers' queues were deleted (or, in a broker,
    # after its shard was left): the server requeues what is unacknowledged
    ("stop", "amqp"): 65,
    # reconcile once every broker's final report is in, and publish the last Snapshot
    ("stop", "ledger"): 90,
    # the journal closes after the reconciliation it records
    ("stop", "journal"): 95,
    # the HTTP API closes last: it serves the whole stop protocol, then hands the report to
    # its event streams (the journal's failure, if any, is in it) and stops serving
    ("stop", "http"): 97,
}


def new_bus(name: str) -> wspbus.Bus:
    bus = wspbus.Bus()
    log = logging.getLogger(f"bus.{name}")

    def to_logging(msg: str, level: int = logging.INFO) -> None:
        log.log(level, "%s", msg)

    bus.subscribe("log", to_logging)
    return bus


def never_raises(listener: Callable) -> Callable:
    """Log instead of raising: an exception out of a stop listener would kill the process."""

    @functools.wraps(listener)
    def guarded(*args, **kwargs):
        try:
            return listener(*args, **kwargs)
        except Exception:
            logging.getLogger(listener.__module__).exception("%s failed", listener.__qualname__)
            return None

    return guarded


def drive(bus: wspbus.Bus, should_stop: Callable[[], bool], *, start: bool = True) -> None:
    """Start ``bus`` (unless already started), publish 'main' until ``should_stop()`` or the
    bus leaves STARTED, then exit it."""
    if start:
        bus.start()
    try:
        while bus.state == states.STARTED and not should_stop():
            bus.publish("main")
    finally:
        if bus.state != states.EXITING:
            bus.exit()
