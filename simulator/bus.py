"""A fresh CherryPy process bus per process, and the loop that drives it.

Never ``cherrypy.engine``: its start channel would start an HTTP server. Each process builds its
own ``wspbus.Bus`` here, whose 'log' channel feeds Python logging (a fresh Bus has no log
listener, and listener errors would otherwise vanish).

``drive`` starts the bus and publishes 'main' back to back until asked to stop, then calls
``exit()``, which publishes 'stop' and 'exit'. Each 'main' listener does a bounded slice of work
and blocks at most a few milliseconds (on a queue, with a timeout) when idle: this is how a
broker answers in microseconds instead of once per fixed ``block()`` tick.

wspbus turns an exception escaping a stop or exit listener into ``os._exit(70)``, and ``exit()``
while STARTING into the same; ``never_raises`` guards every such listener, and nothing here calls
``exit()`` before ``start()`` returned.
"""
from __future__ import annotations

import functools
import logging
from typing import Callable

from cherrypy.process import wspbus

states = wspbus.states


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
