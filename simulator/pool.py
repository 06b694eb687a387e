"""Broker subprocesses: start, watch, stop. The only module that imports ``multiprocess``.

    bank process                                        broker-k process
    BrokerPool.send(k, bytes) --inbox k (bounded)-->    InboxPump -> OrderBooks
    BrokerPool.poll() <------- results (shared) -----   events, heartbeats, logs, final report

Processes come from an explicit ``spawn`` context, never the fork default, so a broker inherits
none of the bank's threads or signal handlers. They are started with SIGINT, SIGHUP and SIGTERM
blocked, so a Ctrl-C during start-up cannot kill one before it has set its signals to ignore.

Stopping (``stop``, a bus 'stop' listener that never raises) follows the protocol that loses
nothing: STOP behind every order already sent, read results until every broker's final report
is in (with a deadline), join, and only then terminate, then kill, whoever did not answer.
Results are always drained before joining: joining a child that still writes would deadlock.
"""
from __future__ import annotations

import logging
import os
import queue
import signal
import time
from dataclasses import dataclass
from typing import Callable

import multiprocess
from cherrypy.process.plugins import SimplePlugin

from simulator import messages as msg
from simulator.broker import broker_main
from simulator.bus import never_raises

log = logging.getLogger("pool")

_START_TIMEOUT_S = 60.0
_JOIN_GRACE_S = 2.0
_POLL_BUDGET = 256  # most result messages read per poll, so the bank keeps placing orders
_SPAWN_SIGNALS = {signal.SIGINT, signal.SIGHUP, signal.SIGTERM}


@dataclass
class BrokerHandle:
    spec: msg.BrokerSpec
    process: object
    inbox: object
    state: str = "STARTING"  # STARTING RUNNING STOPPING EXITED DEAD
    pid: int | None = None
    last_heartbeat: float = 0.0
    heartbeat: msg.Heartbeat | None = None
    final: msg.FinalReport | None = None
    exit_code: int | None = None
    restarts: int = 0

    @property
    def name(self) -> str:
        return self.spec.name

    def inbox_depth(self) -> int:
        try:
            return self.inbox.qsize()
        except (NotImplementedError, OSError):
            return 0


class BrokerPool(SimplePlugin):
    """Bus plugin owning the broker processes and their queues.

    ``on_message(kind, body)`` receives every decoded result message, during the run and
    during the stop drain alike. ``should_abort()`` is asked while waiting for brokers to
    start, so a stop request during start-up is honoured promptly.
    """

    def __init__(
        self,
        bus,
        specs: list[msg.BrokerSpec],
        *,
        inbox_batches: int,
        stop_timeout: float,
        on_message: Callable[[bytes, object], None],
        should_abort: Callable[[], bool] = lambda: False,
        context: str = "spawn",
    ) -> None:
        super().__init__(bus)
        self.specs = specs
        self.inbox_batches = inbox_batches
        self.stop_timeout = stop_timeout
        self.on_message = on_message
        self.should_abort = should_abort
        self.ctx = multiprocess.get_context(context)
        self.brokers: list[BrokerHandle] = []
        self.results = None
        self.bad_messages = 0
        self.lost_brokers: list[str] = []
        self.failed: str | None = None  # why the pool cannot go on, for the bank to stop on
        self.stopped = False

    # -- start ------------------------------------------------------------------------------

    def start(self) -> None:
        """Spawn every broker and wait for its first heartbeat. Never raises (see bus.py)."""
        try:
            self.results = self.ctx.Queue()
            for spec in self.specs:
                self.brokers.append(self._spawn(spec))
            self._wait_ready()
        except Exception as exc:
            log.exception("brokers failed to start")
            self.failed = f"brokers failed to start: {exc}"

    start.priority = 20  # type: ignore[attr-defined]

    def _spawn(self, spec: msg.BrokerSpec) -> BrokerHandle:
        inbox = self.ctx.Queue(maxsize=self.inbox_batches)
        process = self.ctx.Process(
            target=broker_main, args=(spec, inbox, self.results), name=spec.name, daemon=False
        )
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SPAWN_SIGNALS)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        log.info("%s started, pid %d, symbols %s", spec.name, process.pid, ",".join(spec.symbols))
        return BrokerHandle(spec=spec, process=process, inbox=inbox, pid=process.pid)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while any(b.state == "STARTING" for b in self.brokers):
            if self.should_abort():
                log.info("stop requested while brokers were starting")
                return
            self.poll(0.05)
            for b in self.brokers:
                if b.state == "STARTING" and not b.process.is_alive():
                    b.state, b.exit_code = "DEAD", b.process.exitcode
                    raise RuntimeError(f"{b.name} exited with {b.exit_code} during start-up")
            if time.monotonic() > deadline:
                raise RuntimeError(f"brokers not ready after {_START_TIMEOUT_S:.0f} s")

    # -- running ----------------------------------------------------------------------------

    def send(self, index: int, payload: bytes, timeout: float = 0.0) -> bool:
        """Put one encoded message on a broker's inbox; False if it stayed full."""
        handle = self.brokers[index]
        try:
            if timeout > 0:
                handle.inbox.put(payload, timeout=timeout)
            else:
                handle.inbox.put_nowait(payload)
            return True
        except queue.Full:
            return False

    def poll(self, timeout: float) -> int:
        """Read result messages (waiting up to ``timeout`` for the first); returns how many."""
        results = self.results
        if results is None:
            return 0
        n = 0
        try:
            item = results.get(timeout=timeout) if timeout > 0 else results.get_nowait()
        except queue.Empty:
            return 0
        while True:
            n += 1
            self._dispatch(item)
            if n >= _POLL_BUDGET:
                return n
            try:
                item = results.get_nowait()
            except queue.Empty:
                return n

    def _dispatch(self, item) -> None:
        try:
            kind, body = msg.decode(item)
        except msg.BadMessage as exc:
            self.bad_messages += 1
            log.warning("bad message on the results queue ignored: %s", exc)
            return
        if kind == msg.HEARTBEAT:
            b = self._handle_of(body.index)
            if b is not None:
                b.heartbeat, b.last_heartbeat = body, time.monotonic()
                if b.state == "STARTING":
                    b.state = "RUNNING"
        elif kind == msg.FINAL:
            b = self._handle_of(body.index)
            if b is not None:
                b.final = body
        self.on_message(kind, body)

    def _handle_of(self, index) -> BrokerHandle | None:
        if isinstance(index, int) and 0 <= index < len(self.brokers):
            return self.brokers[index]
        self.bad_messages += 1
        log.warning("message from unknown broker index %r ignored", index)
        return None

    def check_alive(self) -> list[BrokerHandle]:
        """Brokers found dead since the last check (their exit code is recorded)."""
        dead = []
        for b in self.brokers:
            if b.state in ("RUNNING", "STARTING", "STOPPING") and not b.process.is_alive():
                b.exit_code = b.process.exitcode
                b.state = "DEAD"
                dead.append(b)
        return dead

    # -- stop -------------------------------------------------------------------------------

    @never_raises
    def stop(self) -> None:
        """STOP behind every order; drain to every final report; join; escalate the silent."""
        if self.stopped or not self.brokers:
            return
        self.stopped = True
        deadline = time.monotonic() + self.stop_timeout
        self._send_stops(deadline)
        self._drain_until_final(deadline)
        self._join_or_kill()

    stop.priority = 60  # type: ignore[attr-defined]

    def _send_stops(self, deadline: float) -> None:
        pending = [b for b in self.brokers if b.state in ("RUNNING", "STARTING")]
        for b in pending:
            b.state = "STOPPING"
        while pending and time.monotonic() < deadline:
            for b in list(pending):
                if not b.process.is_alive():
                    pending.remove(b)
                elif self.send(b.spec.index, msg.STOP):
                    pending.remove(b)
            if pending:
                self.poll(0.01)  # the inbox is full: let the broker answer, then retry
        for b in pending:
            log.error("%s: could not queue STOP before the deadline", b.name)

    def _drain_until_final(self, deadline: float) -> None:
        def waiting():
            return [b for b in self.brokers if b.final is None and b.process.is_alive()]

        while waiting() and time.monotonic() < deadline:
            self.poll(0.05)
        # a broker may have sent its report and exited between two polls: read what is left
        while self.poll(0.0):
            pass

    def _join_or_kill(self) -> None:
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
            b.state = "EXITED" if b.final is not None and b.exit_code == 0 else "DEAD"
            if b.final is None:
                self.lost_brokers.append(b.name)
                log.error("%s sent no final report: the orders it held are lost", b.name)
            else:
                log.info("%s exited with %s", b.name, b.exit_code)
        # the results queue's reader side: nothing more will be read
        while self.poll(0.0):
            pass

    @property
    def all_clean(self) -> bool:
        return bool(self.brokers) and all(
            b.final is not None and b.exit_code == 0 for b in self.brokers
        )

    def pids(self) -> list[int]:
        return [b.pid for b in self.brokers if b.pid]


def current_pid() -> int:
    return os.getpid()
