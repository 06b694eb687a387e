"""Broker subprocesses on this machine: spawn, wait for ready, read, notice deaths, end.

    bank process                                           broker-k process
    pool.channel(k).send(bytes) --- inbox k (one-way pipe) -->  InboxPump -> OrderBooks
    pool.poll()  <----------------- results k (one-way pipe) --  events, heartbeats, logs, report

What travels is the channel's business (``simulator.channel``); the pool owns the processes
and offers mechanisms: the supervisor decides when a broker is dead or hung and restarts it,
the bank what to send. ``poll`` waits on every results pipe and every process sentinel at
once, so a death is seen at once, after what the broker sent before dying was read.

Brokers are forked by a fork server (``processes.fork_server_context``) that has imported the
broker's code already, so a new process answers in milliseconds, not the second or more a
spawn's imports take under load; the pool ends the server at its stop.

Warm standbys (``standby=N``; ``standbys.STANDBYS`` by default when restarts are allowed)
are broker processes spawned ahead with no shard (``broker.standby_spec``, ``standbys.py``),
ready to take one over: ``respawn`` hands one the dead broker's spec (ASSIGN) and books
(RESTORE) instead of spawning a process and waiting for its imports, and ``keep_standby``
spawns the next once the restored shard answers again. With none (``--no-standby``, or every
one used) a process is spawned as before. Each restart's gap (death seen -> first answer) is
kept in ``restart_gaps_ms``.

``stop`` (a bus 'stop' listener, after the bank's drain) joins every broker and kills any still
alive after a grace, saying so (brokers ignore SIGTERM: ``processes.enter_child``).
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import select
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cherrypy.process.plugins import SimplePlugin

from simulator import messages as msg
from simulator import processes
from simulator.broker import STANDBY_INDEX, broker_main, standby_spec
from simulator.bus import ORDER, never_raises
from simulator.channel import Channel, ChannelGone, NoChannel, PipeChannel
from simulator.standbys import Standbys

log = logging.getLogger("pool")

START_TIMEOUT_S = 60.0
_JOIN_GRACE_S = 2.0
_POLL_BUDGET = 64  # most messages read from one broker per poll, so the bank keeps placing

# broker states, as the dashboard shows them
STARTING, RUNNING, STOPPING, EXITED, DEAD = "STARTING", "RUNNING", "STOPPING", "EXITED", "DEAD"
LIVE_STATES = (STARTING, RUNNING, STOPPING)


@dataclass
class BrokerHandle:
    """One broker process as the bank knows it: its channel, state and last words."""

    spec: msg.BrokerSpec
    process: Any
    channel: PipeChannel
    state: str = STARTING
    pid: int | None = None
    started_at: float = 0.0
    last_heard: float = 0.0  # when the bank last read a message of it, of any kind
    heartbeat: msg.Heartbeat | None = None
    final: msg.FinalReport | None = None
    exit_code: int | None = None
    restarts: int = 0
    stop_sent: bool = False
    given_up: bool = False  # died once too often: the supervisor restarts it no more
    died_at: float | None = None  # when the bank saw its process die (or its predecessor's)
    restore_mark: int = 0  # inbox messages up to RESTORE: read them all, and it is restored
    restart_gaps_ms: list[float] = field(default_factory=list)  # death seen -> answering again
    kill_sent: bool = False  # SIGKILL sent: it is dying, not hung (a big process takes a while)

    @property
    def restoring(self) -> bool:
        """Dead, or restarted and not answering yet: the bank queues its orders meanwhile."""
        return self.state == DEAD and self.final is None or self.died_at is not None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def index(self) -> int:
        return self.spec.index

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES


def _run_broker(target: Callable, spec: bytes, inbox: Any, results: Any) -> None:
    """A broker process's entry point: its spec comes stdlib-pickled, as bytes (multiprocess's
    pure-Python pickler took 0.24 s for the 50,000 names of a broker of 100,000 symbols, at
    every start and every restart without a standby)."""
    target(pickle.loads(spec), inbox, results)


class StartFailed(RuntimeError):
    """The brokers could not be made ready; the text says why, for the user."""


class BrokerPool(SimplePlugin):
    """Bus plugin owning the broker processes and their channels.

    ``on_message(index, kind, body)`` receives every decoded result message; ``should_abort()``
    is asked while waiting for brokers to start, so a stop request during start-up is honoured.
    """

    def __init__(
        self,
        bus: Any,
        specs: list[msg.BrokerSpec],
        *,
        inbox_batches: int,
        on_message: Callable[[int, bytes, Any], None],
        should_abort: Callable[[], bool] = lambda: False,
        max_restarts: int = 0,
        standby: int = 0,
        target: Callable = broker_main,
    ) -> None:
        super().__init__(bus)
        self.specs = specs
        self.inbox_batches = inbox_batches
        self.on_message = on_message
        self.should_abort = should_abort
        self.max_restarts = max_restarts  # also for a death during start-up
        self.ctx = processes.fork_server_context()  # a broker is a fork: milliseconds
        self.target = target  # the broker's entry point (a benchmark injects an echo)
        self.brokers: list[BrokerHandle] = []
        # warm processes with no shard yet; only to replace the dead
        self.standbys = Standbys(standby if max_restarts > 0 else 0)
        self.bad_messages = 0
        self.failed: str | None = None  # why the pool cannot go on, for the bank to stop on
        self.stopped = False

    def subscribe(self) -> None:
        self.bus.subscribe("start", self.start, priority=ORDER["start", "brokers"])
        self.bus.subscribe("stop", self.stop, priority=ORDER["stop", "brokers"])

    # -- start ------------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn every broker and wait for its first heartbeat. Never raises (see bus.py)."""
        if self.should_abort():
            log.info("stop requested before the brokers started: starting none")
            return
        try:
            for spec in self.specs:
                self.brokers.append(self._spawn(spec))
            for _ in range(self.standbys.count):
                self.keep_standby()
            self._wait_ready()
        except StartFailed as exc:
            log.error("brokers failed to start: %s", exc)
            self.failed = f"brokers failed to start: {exc}"
        except Exception as exc:  # a bug, or the machine refused (no memory, no processes)
            log.exception("brokers failed to start")
            self.failed = f"brokers failed to start: {exc}"

    def _spawn(self, spec: msg.BrokerSpec, restarts: int = 0) -> BrokerHandle:
        inbox_reader, inbox, capacity = processes.one_way_pipe(self.ctx)
        # a broker's answer to a full inbox is several hundred KB of event records: room for it
        # lets the broker go on matching instead of waiting for the bank to read
        reader, writer, _ = processes.one_way_pipe(self.ctx)
        process = processes.start_process(
            _run_broker,
            (self.target, pickle.dumps(spec, pickle.HIGHEST_PROTOCOL), inbox_reader, writer),
            spec.name,
            hand_over=(inbox_reader, writer),
            context=self.ctx,
        )
        log.info("%s started, pid %d, symbols %s", spec.name, process.pid, spec.symbols_text())
        channel = PipeChannel(inbox, reader, max_unread=self.inbox_batches, capacity=capacity)
        return BrokerHandle(
            spec=spec,
            process=process,
            channel=channel,
            pid=process.pid,
            started_at=time.monotonic(),
            restarts=restarts,
        )

    def _wait_ready(self) -> None:
        """Until every broker sent its first heartbeat. One that dies meanwhile (killed, or it
        failed) is started again, as a restart, up to ``max_restarts`` times: no order has been
        placed yet, so there is nothing to restore."""
        deadline = time.monotonic() + START_TIMEOUT_S
        # the standby too, so that once orders flow every process has its title and imports
        while any(b.state == STARTING for b in self.brokers) or self.standbys.starting:
            if self.should_abort():
                log.info("stop requested while brokers were starting")
                return
            self.poll(0.05)
            for b in self.brokers:
                if b.state != DEAD:
                    continue
                if b.restarts >= self.max_restarts:
                    raise StartFailed(
                        f"{b.name} died during start-up (exit code {b.exit_code}) "
                        f"{b.restarts + 1} times; --max-restarts {self.max_restarts} reached"
                    )
                log.warning("%s died during start-up (exit code %s): starting it again (restart %d of %d)",
                            b.name, b.exit_code, b.restarts + 1, self.max_restarts)  # fmt: skip
                self.respawn(b.index)
            if time.monotonic() > deadline:
                raise StartFailed(f"brokers not ready after {START_TIMEOUT_S:.0f} s")

    def respawn(self, index: int, first: bytes | None = None) -> BrokerHandle:
        """A process for a dead broker's symbols, with its own channel: the warm standby if
        one is ready, else a new one. ``first`` is sent before anything else, whatever the
        credit (the RESTORE message)."""
        old = self.brokers[index]
        self._bury(old)
        # a standby still starting is further on than a process spawned now: ASSIGN waits for it
        standby, dead = self.standbys.take(lambda h: h.process.is_alive())
        for h in dead:
            self._bury(h)
        if standby is not None:
            handle = standby
            handle.spec = old.spec
            handle.restarts = old.restarts + 1
            handle.heartbeat = None
            self._send_first(handle, msg.encode(msg.ASSIGN, old.spec))
            log.info("%s: the standby (pid %s) takes over", old.name, handle.pid)
        else:
            handle = self._spawn(old.spec, restarts=old.restarts + 1)
        handle.died_at = old.died_at if old.died_at is not None else time.monotonic()
        handle.restart_gaps_ms = old.restart_gaps_ms
        if first is not None:
            self._send_first(handle, first)
        handle.restore_mark = handle.channel.sent
        self.brokers[index] = handle
        return handle

    def _send_first(self, handle: BrokerHandle, payload: bytes) -> None:
        with contextlib.suppress(ChannelGone):  # died already: the next poll sees it
            handle.channel.send(payload, credit=False)

    def keep_standby(self) -> None:
        """Spawn a warm standby if fewer are there than wanted (at start, and once the shard
        one last took over answers again: a spawn costs the bank milliseconds, which would
        otherwise lengthen that shard's gap). One per call: the bank places between spawns."""
        if self.stopped or not self.standbys.short():
            return
        if any(b.died_at is not None for b in self.brokers):
            return  # a shard is being restored: after it
        spec = self.specs[0]
        self.standbys.add(self._spawn(standby_spec(spec.heartbeat_s, spec.log_level)))

    def _bury(self, b: BrokerHandle) -> None:
        """Make sure a broker's process is gone and its channel closed."""
        processes.kill_process(b.process)
        b.process.join(_JOIN_GRACE_S)
        b.exit_code = b.process.exitcode
        b.state = DEAD
        b.channel.close()

    # -- running ----------------------------------------------------------------------------

    def channel(self, index: int) -> Channel:
        """The channel to broker ``index`` (its current process's, after a restart)."""
        if index < len(self.brokers):
            return self.brokers[index].channel
        return NoChannel()  # not started: a stop came during start-up

    def poll(self, timeout: float) -> int:
        """Read result messages, waiting up to ``timeout`` for the first; returns how many.

        Also notices deaths: a broker whose process sentinel fires or whose pipe reaches EOF
        is marked DEAD (after what it sent before dying has been read)."""
        watched = {}
        for b in self.brokers:
            if b.live:
                watched[b.channel.fileno()] = b
                watched[b.process.sentinel] = b
        standbys = {id(h) for h in self.standbys}
        for standby in self.standbys:
            watched[standby.channel.fileno()] = standby
            watched[standby.process.sentinel] = standby
        if not watched:
            return 0
        # select() waits to the microsecond; poll-based waits round up to whole milliseconds,
        # which made orders at a set rate leave half a millisecond late on average
        ready, _, _ = select.select(list(watched), (), (), timeout)
        n = 0
        for fd in ready:
            b = watched[fd]
            if id(b) in standbys:
                if any(h is b for h in self.standbys):  # both its fds may be ready: once
                    self._read_standby(b)
            elif b.live:
                n += self._read(b)
        return n

    def _read_standby(self, b: BrokerHandle) -> None:
        try:
            payloads = b.channel.receive(_POLL_BUDGET)
        except ChannelGone:
            payloads = []
        if payloads:
            b.last_heard = time.monotonic()
        self.standbys.heard(b, payloads, lambda kind, body: self.on_message(STANDBY_INDEX, kind, body))
        if not payloads and not b.process.is_alive():
            self.standbys.died(b)
            self._bury(b)

    def _read(self, b: BrokerHandle) -> int:
        try:
            payloads = b.channel.receive(_POLL_BUDGET)
        except ChannelGone:
            self._mark_dead(b)
            return 0
        for payload in payloads:
            self._dispatch(b, payload)
        if not payloads and not b.process.is_alive():
            self._mark_dead(b)
        return len(payloads)

    def _mark_dead(self, b: BrokerHandle) -> None:
        if b.died_at is None:
            b.died_at = time.monotonic()
        b.process.join(0.5)
        b.exit_code = b.process.exitcode
        if b.final is not None:
            b.state = EXITED if b.exit_code == 0 else DEAD
        elif b.state != DEAD:
            b.state = DEAD
            log.error("%s (pid %s) died, exit code %s", b.name, b.pid, b.exit_code)

    def _dispatch(self, b: BrokerHandle, payload: bytes) -> None:
        # any message is a sign of life, not only a heartbeat: a broker whose results pipe is
        # full waits in a send and writes no heartbeat, yet it is working
        b.last_heard = time.monotonic()
        try:
            kind, body = msg.decode(payload)
        except msg.BadMessage as exc:
            self.bad_messages += 1
            log.warning("bad message from %s ignored: %s", b.name, exc)
            return
        if kind == msg.EVENTS:
            if body[0] != b.index:
                self.bad_messages += 1
                log.warning("events from %s claim broker index %r: ignored", b.name, body[0])
                return
            b.channel.consumed(body[1])
            if b.died_at is not None and body[1] >= b.restore_mark:
                self._answering_again(b)
        elif kind == msg.HEARTBEAT:
            b.heartbeat = body
            b.channel.consumed(body.consumed)
            if b.state == STARTING:
                b.state = RUNNING
            # it read everything sent, and answered it (events go before a heartbeat)
            if b.died_at is not None and body.consumed >= max(b.restore_mark, b.channel.sent):
                self._answering_again(b)
        elif kind == msg.FINAL:
            b.final = body
        self.on_message(b.index, kind, body)

    def _answering_again(self, b: BrokerHandle) -> None:
        """A restarted broker read its RESTORE and answered what followed: the gap is over."""
        if b.died_at is None or b.state == DEAD:
            return
        gap_ms = (time.monotonic() - b.died_at) * 1e3
        b.died_at = None
        b.restart_gaps_ms.append(round(gap_ms, 2))
        log.info("%s answers again, %.1f ms after its predecessor died", b.name, gap_ms)

    def read_waiting(self, index: int, most: int = 4096) -> int:
        """Read what broker ``index`` has sent and the bank not yet read (at most ``most``
        messages), without waiting: before judging it silent, hear what it said."""
        b = self.brokers[index]
        n = 0
        while b.live and n < most:
            got = self._read(b)
            if not got:
                break
            n += got
        return n

    def dead(self) -> list[BrokerHandle]:
        return [b for b in self.brokers if b.state == DEAD and b.final is None]

    def hung(self, now: float, after_s: float) -> list[BrokerHandle]:
        """Live brokers silent for ``after_s`` seconds (nothing read from them since)."""
        return [
            b
            for b in self.brokers
            if b.state in (RUNNING, STOPPING)
            and b.final is None
            and not b.kill_sent
            and now - max(b.last_heard, b.started_at) > after_s
        ]

    def kill(self, index: int) -> None:
        """SIGKILL a broker (fault drills, a hung one) once: a big one takes a while to die."""
        b = self.brokers[index]
        if b.live and not b.kill_sent and b.process.is_alive():
            b.kill_sent = True
            log.warning("killing %s (pid %s)", b.name, b.pid)
            processes.kill_process(b.process)

    # -- stop -------------------------------------------------------------------------------

    @never_raises
    def stop(self) -> None:
        """Join every broker; kill any that did not exit (after the bank drained)."""
        if self.stopped:
            return
        self.stopped = True
        for b in self.brokers:
            grace = _JOIN_GRACE_S if b.final is not None else 0.1
            # brokers ignore SIGTERM (a service manager sends it to the whole group): kill at once
            b.exit_code = processes.end_process(
                b.process, b.name, grace_s=grace, escalate_s=_JOIN_GRACE_S, terminate=False
            )
            b.state = EXITED if b.final is not None and b.exit_code == 0 else DEAD
            if b.final is None:
                log.error("%s sent no final report", b.name)
            else:
                log.info("%s exited with %s", b.name, b.exit_code)
            b.channel.close()
        standbys = self.standbys.drop_all()
        for standby in standbys:
            self._send_first(standby, msg.STOP)  # all at once: they leave together
        for standby in standbys:
            grace = _JOIN_GRACE_S if standby.state == RUNNING else 0.1  # still importing: kill it
            processes.end_process(
                standby.process, "standby", grace_s=grace, escalate_s=_JOIN_GRACE_S, terminate=False
            )
            standby.channel.close()
        processes.stop_fork_server(_JOIN_GRACE_S)  # every fork of it is gone now

    @property
    def all_clean(self) -> bool:
        return all(b.final is not None and b.exit_code == 0 for b in self.brokers)

    def pids(self) -> list[int]:
        return [b.pid for b in self.brokers if b.pid]
