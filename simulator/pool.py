"""Broker subprocesses: start, watch, restart, stop. The only module that imports ``multiprocess``.

    bank process                                          broker-k process
    BrokerPool.send(k, bytes) --- inbox k (one-way Pipe) -->  InboxPump -> OrderBooks
    BrokerPool.poll()  <------- results k (one-way Pipe) ---  events, heartbeats, logs, report

Both directions are plain pipes carrying whole byte messages: no feeder thread, no dill, no
shared lock. The inbox is bounded by credit: the bank sends a message only while fewer than
``inbox_batches`` messages (and less than the pipe's capacity in bytes) are unread, and every
broker reply says how many it has read. So a send never blocks, a slow broker slows the bank
instead of growing memory, and the backlog a stop must drain stays short.

Processes come from an explicit ``spawn`` context, never the fork default, so a broker inherits
none of the bank's threads or signal handlers. They are started with SIGINT, SIGHUP and SIGTERM
blocked, so a Ctrl-C during start-up cannot kill one before it has set them to ignore.

Each broker has its own pipes, and after the spawn the bank keeps only its own ends: a broker
killed in the middle of a message shows up as end-of-file on its own results pipe (never as a
stuck lock or a torn message that the other brokers' results would wait behind), and a write
to a dead broker's inbox fails at once instead of filling a buffer nobody reads. ``poll`` waits on every results pipe and every process sentinel at once, so a
death is seen the moment it happens.

The pool only offers mechanisms: the bank decides when to restart a broker and what to send it.
``stop`` (a bus 'stop' listener that runs after the bank's drain) joins every broker and
escalates -- terminate, then kill -- for any still alive, saying so in the log.
"""
from __future__ import annotations

import fcntl
import logging
import select
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import multiprocess
from cherrypy.process.plugins import SimplePlugin

from simulator import messages as msg
from simulator.broker import broker_main
from simulator.bus import never_raises

log = logging.getLogger("pool")

START_TIMEOUT_S = 60.0
_JOIN_GRACE_S = 2.0
_POLL_BUDGET = 64  # most messages read from one broker per poll, so the bank keeps placing
_SPAWN_SIGNALS = {signal.SIGINT, signal.SIGHUP, signal.SIGTERM}
_PIPE_BYTES = 1 << 20  # asked of the kernel for each inbox (Linux's default cap for a pipe)
_F_SETPIPE_SZ, _F_GETPIPE_SZ = 1031, 1032

# broker states, as the dashboard shows them
STARTING, RUNNING, STOPPING, EXITED, DEAD = "STARTING", "RUNNING", "STOPPING", "EXITED", "DEAD"
LIVE_STATES = (STARTING, RUNNING, STOPPING)


@dataclass
class BrokerHandle:
    spec: msg.BrokerSpec
    process: object
    inbox: object  # the bank's writing end of this broker's inbox pipe
    results: object  # the bank's reading end of this broker's results pipe
    capacity: int = 65536  # bytes the inbox pipe holds
    sent: int = 0  # messages put on the inbox
    consumed: int = 0  # messages the broker says it has read
    unread_sizes: deque = field(default_factory=deque)  # sizes of messages sent, not yet read
    unread_bytes: int = 0
    state: str = STARTING
    pid: int | None = None
    started_at: float = 0.0
    last_heartbeat: float = 0.0
    heartbeat: msg.Heartbeat | None = None
    final: msg.FinalReport | None = None
    exit_code: int | None = None
    restarts: int = 0
    stop_sent: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def index(self) -> int:
        return self.spec.index

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def inbox_depth(self) -> int:
        """Messages on the inbox the broker has not read yet."""
        return self.sent - self.consumed

    def note_consumed(self, consumed: int) -> None:
        while self.consumed < consumed and self.unread_sizes:
            self.unread_bytes -= self.unread_sizes.popleft()
            self.consumed += 1


class BrokerPool(SimplePlugin):
    """Bus plugin owning the broker processes and their queues.

    ``on_message(kind, body)`` receives every decoded result message; ``should_abort()`` is
    asked while waiting for brokers to start, so a stop request during start-up is honoured.
    """

    def __init__(
        self,
        bus,
        specs: list[msg.BrokerSpec],
        *,
        inbox_batches: int,
        on_message: Callable[[bytes, object], None],
        should_abort: Callable[[], bool] = lambda: False,
        context: str = "spawn",
        target: Callable = broker_main,
    ) -> None:
        super().__init__(bus)
        self.specs = specs
        self.inbox_batches = inbox_batches
        self.on_message = on_message
        self.should_abort = should_abort
        self.ctx = multiprocess.get_context(context)
        self.target = target  # the broker's entry point (a benchmark injects an echo)
        self.brokers: list[BrokerHandle] = []
        self.bad_messages = 0
        self.failed: str | None = None  # why the pool cannot go on, for the bank to stop on
        self.stopped = False

    # -- start ------------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn every broker and wait for its first heartbeat. Never raises (see bus.py)."""
        if self.should_abort():
            log.info("stop requested before the brokers started: starting none")
            return
        try:
            for spec in self.specs:
                self.brokers.append(self._spawn(spec))
            self._wait_ready()
        except Exception as exc:
            log.exception("brokers failed to start")
            self.failed = f"brokers failed to start: {exc}"

    start.priority = 20  # type: ignore[attr-defined]

    def _spawn(self, spec: msg.BrokerSpec, restarts: int = 0) -> BrokerHandle:
        inbox_reader, inbox = self.ctx.Pipe(duplex=False)
        reader, writer = self.ctx.Pipe(duplex=False)
        capacity = _grow_pipe(inbox)
        # a broker's answer to a full inbox is several hundred KB of event records: room for it
        # lets the broker go on matching instead of waiting for the bank to read
        _grow_pipe(reader)
        # the broker holds the only other ends: its death reads as EOF / EPIPE here
        process = start_process(self.ctx, self.target, (spec, inbox_reader, writer), spec.name,
                                hand_over=(inbox_reader, writer))
        log.info("%s started, pid %d, symbols %s", spec.name, process.pid, ",".join(spec.symbols))
        return BrokerHandle(
            spec=spec,
            process=process,
            inbox=inbox,
            results=reader,
            capacity=capacity,
            pid=process.pid,
            started_at=time.monotonic(),
            restarts=restarts,
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while any(b.state == STARTING for b in self.brokers):
            if self.should_abort():
                log.info("stop requested while brokers were starting")
                return
            self.poll(0.05)
            for b in self.brokers:
                if b.state == DEAD:
                    raise RuntimeError(f"{b.name} exited with {b.exit_code} during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError(f"brokers not ready after {START_TIMEOUT_S:.0f} s")

    def respawn(self, index: int, first: bytes | None = None) -> BrokerHandle:
        """A new process for a dead broker's symbols, with fresh queues; ``first`` is put on its
        inbox before anything else (the bank's RESTORE message)."""
        old = self.brokers[index]
        self._bury(old)
        handle = self._spawn(old.spec, restarts=old.restarts + 1)
        if first is not None:
            self._write(handle, first)
        self.brokers[index] = handle
        return handle

    def _bury(self, b: BrokerHandle) -> None:
        """Make sure a broker's process is gone and its queues released."""
        p = b.process
        if p.is_alive():
            p.kill()
        p.join(_JOIN_GRACE_S)
        b.exit_code = p.exitcode
        b.state = DEAD
        b.inbox.close()
        b.results.close()

    # -- running ----------------------------------------------------------------------------

    def send(self, index: int, payload: bytes) -> bool:
        """Put one encoded message on a live broker's inbox; False if it is full or gone.

        Never blocks: a message goes only while the broker has room for it (by its own count
        of what it has read), so the write fits in the pipe."""
        b = self.brokers[index]
        if not b.live:
            return False
        unread = b.sent - b.consumed
        if unread >= self.inbox_batches or (unread and b.unread_bytes + len(payload) > b.capacity):
            return False
        return self._write(b, payload)

    def _write(self, b: BrokerHandle, payload: bytes) -> bool:
        try:
            b.inbox.send_bytes(payload)
        except OSError:  # BrokenPipeError: the broker is gone; poll will see it
            return False
        b.sent += 1
        b.unread_sizes.append(len(payload))
        b.unread_bytes += len(payload)
        return True

    def poll(self, timeout: float) -> int:
        """Read result messages, waiting up to ``timeout`` for the first; returns how many.

        Also notices deaths: a broker whose process sentinel fires or whose pipe reaches EOF
        is marked DEAD (after what it sent before dying has been read)."""
        watched = {}
        for b in self.brokers:
            if b.live:
                watched[b.results.fileno()] = b
                watched[b.process.sentinel] = b
        if not watched:
            return 0
        # select() waits to the microsecond; poll-based waits round up to whole milliseconds,
        # which made orders at a set rate leave half a millisecond late on average
        ready, _, _ = select.select(list(watched), (), (), timeout)
        n = 0
        for fd in ready:
            b = watched[fd]
            if b.live:
                n += self._read(b)
        return n

    def _read(self, b: BrokerHandle) -> int:
        conn = b.results
        n = 0
        try:
            while n < _POLL_BUDGET and conn.poll():
                payload = conn.recv_bytes()
                n += 1
                self._dispatch(b, payload)
        except (EOFError, OSError):
            self._mark_dead(b)
            return n
        if n == 0 and not b.process.is_alive():
            self._mark_dead(b)
        return n

    def _mark_dead(self, b: BrokerHandle) -> None:
        b.process.join(0.5)
        b.exit_code = b.process.exitcode
        if b.final is not None:
            b.state = EXITED if b.exit_code == 0 else DEAD
        elif b.state != DEAD:
            b.state = DEAD
            log.error("%s (pid %s) died, exit code %s", b.name, b.pid, b.exit_code)

    def _dispatch(self, b: BrokerHandle, payload: bytes) -> None:
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
            b.note_consumed(body[1])
        elif kind == msg.HEARTBEAT:
            b.heartbeat, b.last_heartbeat = body, time.monotonic()
            b.note_consumed(body.consumed)
            if b.state == STARTING:
                b.state = RUNNING
        elif kind == msg.FINAL:
            b.final = body
        self.on_message(kind, body)

    def dead(self) -> list[BrokerHandle]:
        return [b for b in self.brokers if b.state == DEAD and b.final is None]

    def hung(self, now: float, after_s: float) -> list[BrokerHandle]:
        """Live brokers silent for ``after_s`` seconds (no heartbeat since)."""
        return [
            b
            for b in self.brokers
            if b.state in (RUNNING, STOPPING)
            and b.final is None
            and now - max(b.last_heartbeat, b.started_at) > after_s
        ]

    def kill(self, index: int) -> None:
        """SIGKILL a broker (fault drills, a hung broker); the next poll sees it dead."""
        b = self.brokers[index]
        if b.live and b.process.is_alive():
            log.warning("killing %s (pid %s)", b.name, b.pid)
            b.process.kill()

    # -- stop -------------------------------------------------------------------------------

    @never_raises
    def stop(self) -> None:
        """Join every broker; terminate, then kill, any that did not exit (after the bank drained)."""
        if self.stopped:
            return
        self.stopped = True
        for b in self.brokers:
            p = b.process
            p.join(_JOIN_GRACE_S if b.final is not None else 0.1)
            if p.is_alive():
                log.error("%s (pid %s) did not exit: terminating", b.name, p.pid)
                p.terminate()
                p.join(_JOIN_GRACE_S)
            if p.is_alive():
                log.error("%s (pid %s) ignored SIGTERM: killing", b.name, p.pid)
                p.kill()
                p.join(_JOIN_GRACE_S)
            b.exit_code = p.exitcode
            b.state = EXITED if b.final is not None and b.exit_code == 0 else DEAD
            if b.final is None:
                log.error("%s sent no final report", b.name)
            else:
                log.info("%s exited with %s", b.name, b.exit_code)
            b.inbox.close()

    stop.priority = 60  # type: ignore[attr-defined]

    @property
    def all_clean(self) -> bool:
        return all(b.final is not None and b.exit_code == 0 for b in self.brokers)

    def pids(self) -> list[int]:
        return [b.pid for b in self.brokers if b.pid]


def start_process(ctx, target, args: tuple, name: str, hand_over: tuple = ()):
    """Start ``target(*args)`` in a new process with SIGINT, SIGHUP and SIGTERM blocked until it
    sets its own dispositions; then close our copies of the ``hand_over`` pipe ends."""
    process = ctx.Process(target=target, args=args, name=name, daemon=False)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SPAWN_SIGNALS)
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        for conn in hand_over:
            conn.close()
    return process


def spawn_context(name: str = "spawn"):
    return multiprocess.get_context(name)


def _grow_pipe(conn) -> int:
    """Ask for a larger pipe (Linux); the capacity in bytes we got."""
    try:
        fcntl.fcntl(conn.fileno(), _F_SETPIPE_SZ, _PIPE_BYTES)
        return fcntl.fcntl(conn.fileno(), _F_GETPIPE_SZ)
    except OSError:
        return 65536
