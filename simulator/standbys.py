"""Warm standby brokers: processes spawned ahead with no shard, ready to take a dead one's over.

A standby is a broker process started with ``broker.standby_spec`` (no symbols): it has done
its imports and sends heartbeats, so a restart hands it a shard (ASSIGN, then RESTORE) instead
of spawning a process and waiting the half second or more its imports take. The pool keeps
``STANDBYS`` of them, not one: a standby is spawned again only once the shard it took over
answers, and spawning takes a second or more on a loaded machine, so with one standby a second
death within that second found it still importing (a restart gap of 1.5 s where a ready one
answers in about 20 ms). Two cover deaths a second apart; each idle one costs a process's memory
(about 30 MiB).

The pool owns the processes (it spawns and buries them); this module keeps the set: which to
hand over (a ready one first, else the one furthest on), when to spawn the next, what their
messages say, and how to stop them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from simulator import messages as msg

log = logging.getLogger("pool")

STANDBYS = 2  # kept ready when restarts are allowed and --no-standby is not given
_FAILURES = 3  # standbys dying in a row before ready: spawn no more (restarts go cold)
_READY, _STARTING = "RUNNING", "STARTING"  # the pool's broker states a standby goes through


class Standbys:
    """Up to ``count`` warm standby handles (the pool's ``BrokerHandle``), oldest first."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.handles: list[Any] = []
        self._failures = 0

    def __iter__(self):
        return iter(list(self.handles))

    @property
    def starting(self) -> bool:
        return any(h.state == _STARTING for h in self.handles)

    def short(self) -> bool:
        """Whether another should be spawned now (fewer than wanted, and they did not keep dying)."""
        return len(self.handles) < self.count and self._failures < _FAILURES

    def add(self, handle: Any) -> None:
        self.handles.append(handle)

    def take(self, alive: Callable[[Any], bool]) -> tuple[Any | None, list[Any]]:
        """The one to hand a shard: ready first, else the oldest still starting (it is further
        on than a process spawned now); and the dead ones found on the way, for burial."""
        dead = [h for h in self.handles if not alive(h)]
        live = [h for h in self.handles if alive(h)]
        ready = [h for h in live if h.state == _READY]
        chosen = (ready or live or [None])[0]
        self.handles = [h for h in live if h is not chosen]
        return chosen, dead

    def heard(self, handle: Any, payloads: list[bytes], on_log: Callable[[bytes, Any], None]) -> None:
        """A standby says only that it is ready (heartbeats) and, if it fails, why (logs)."""
        for payload in payloads:
            try:
                kind, body = msg.decode(payload)
            except msg.BadMessage as exc:
                log.warning("bad message from the standby ignored: %s", exc)
                continue
            if kind == msg.HEARTBEAT:
                handle.channel.consumed(body.consumed)
                if handle.state == _STARTING:
                    handle.state = _READY
                    self._failures = 0
            elif kind == msg.LOG:
                on_log(kind, body)

    def died(self, handle: Any) -> None:
        """A standby died before taking anything over: forget it, and count it."""
        log.warning("the standby broker (pid %s) died, exit code %s", handle.pid, handle.process.exitcode)
        self.handles.remove(handle)
        self._failures += 1

    def drop_all(self) -> list[Any]:
        """Every standby, forgotten (at stop: the pool ends them)."""
        handles, self.handles = self.handles, []
        return handles
