"""The bank's brokers over AMQP (``--transport amqp``): the ``channel.Brokers`` of a RabbitMQ run.

    bank process                                         broker processes (here or anywhere)
    channel(k).send --> sim.<run>.shard.<k> (credit) -->  amqp_broker: InboxPump -> OrderBooks
    poll()  <---------- sim.<run>.results  <----------   events, heartbeats, logs, final, HELLO
    TAKEOVER ---------> the HELLO's reply queue

It stands beside ``pool.BrokerPool`` and offers the bank the same: a channel per shard with
credit (``--amqp-credit`` batches unanswered per shard at most, counted by the bank, so a slow
or absent broker slows the bank instead of filling the server), ``poll`` handing every result
on, and the stop protocol's view of each broker. The queues and the offers are
``amqp_topology``'s.

A broker that takes a shard says HELLO; the bank answers, on its next poll (so every event read
before the HELLO is booked), with the shard's books from the ledger and the count of the
shard's messages answered so far: the new broker skips those when the server redelivers them.
Results of a broker that is no longer the shard's (a HELLO from its successor came first) are
dropped, so nothing is booked twice. Unanswered orders are not sent again: they are still in
the shard's queue (unacknowledged), in order.

Local brokers (no ``--external-brokers``) are forked by the fork server as pipe brokers are, each handed its
offer; a dead one is restarted by the supervisor (``respawn``) and restored the same way. With
``--external-brokers`` the bank publishes one offer per shard on ``sim.offers`` and waits for
brokers to take them; a standby takes a dead broker's shard over by itself.

When the connection to the server is lost, ``failed`` says so: the bank stops at once, waits
for no broker (none can answer), and reports what was not answered as lost.
"""

from __future__ import annotations

import logging
import queue
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cherrypy.process.plugins import SimplePlugin

from simulator import amqp_topology as topo
from simulator import messages as msg
from simulator import processes
from simulator.amqp_channel import AmqpChannel
from simulator.amqp_link import AmqpLink, Delivery, LinkFailed
from simulator.bus import ORDER, never_raises
from simulator.pool import DEAD, EXITED, LIVE_STATES, RUNNING, STARTING

log = logging.getLogger("pool")

START_TIMEOUT_S = 60.0
_JOIN_GRACE_S = 5.0  # a broker closes its AMQP connection before it exits: a round trip or two
_POLL_BUDGET = 256
_LOCAL_HOST = socket.gethostname()


@dataclass
class Shard:
    """One shard and the broker serving it now, as the bank knows them."""

    spec: msg.BrokerSpec
    channel: AmqpChannel
    state: str = STARTING
    host: str = ""
    pid: int | None = None
    incarnation: str = ""  # the current broker's; results of any other are dropped
    base: int = 0  # messages answered before the current broker took the shard
    process: Any = None  # a broker this bank spawned
    started_at: float = 0.0
    last_heard: float = 0.0
    heartbeat: msg.Heartbeat | None = None
    final: msg.FinalReport | None = None
    exit_code: int | None = None
    restarts: int = 0
    stop_sent: bool = False
    given_up: bool = False
    restart_gaps_ms: list[float] = field(default_factory=list)  # not measured over AMQP (yet)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def index(self) -> int:
        return self.spec.index

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def restoring(self) -> bool:
        """Dead, or taken over and not answering yet: the bank queues its orders meanwhile."""
        return self.final is None and (self.state == DEAD or (self.state == STARTING and self.restarts > 0))


class AmqpBrokers(SimplePlugin):
    """Bus plugin: the run's queues, its brokers (spawned or external) and their results."""

    redelivers = True  # the supervisor sends nothing again after a restart: the queue has it
    transport = "amqp"

    def __init__(
        self,
        bus: Any,
        link: AmqpLink,
        specs: list[msg.BrokerSpec],
        *,
        url: str,
        credit: int,
        external: bool,
        on_message: Callable[[int, bytes, Any], None],
        book_states: Callable[[int], dict],
        should_abort: Callable[[], bool] = lambda: False,
        max_restarts: int = 0,
        target: Callable | None = None,
    ) -> None:
        super().__init__(bus)
        self.link = link
        self.url = url
        self.run_id = topo.new_run_id()
        self.external = external
        self.on_message = on_message
        self.book_states = book_states
        self.should_abort = should_abort
        self.max_restarts = max_restarts
        self.target = target
        self.ctx: Any = None  # the fork server's context, made when the first broker starts here
        self.prefetch = credit + 8  # WATCH and STOP ride with credit too; room for all of it
        self.brokers: list[Shard] = [
            Shard(spec, AmqpChannel(link, topo.shard_queue(self.run_id, spec.index), max_unread=credit))
            for spec in specs
        ]
        self.bad_messages = 0
        self.stale_messages = 0  # results of a broker whose shard another took over
        self.failed: str | None = None
        self.stopped = False
        self._hellos: list[msg.Hello] = []
        self._next_declare = 0.0
        self._next_sentinels = 0.0

    def subscribe(self) -> None:
        self.bus.subscribe("start", self.start, priority=ORDER["start", "brokers"])
        self.bus.subscribe("stop", self.stop, priority=ORDER["stop", "brokers"])

    # -- start ------------------------------------------------------------------------------

    def start(self) -> None:
        """Declare the run's queues, offer or spawn its brokers, wait for each to be ready."""
        if self.link.failed:
            self.failed = f"fatal: {self.link.failed}"
            return
        if self.should_abort():
            log.info("stop requested before the brokers started: starting none")
            return
        try:
            self.link.run(self._declare)
            log.info("run %s on %s: %d shard queues", self.run_id, self.link.name, len(self.brokers))
            if self.external:
                for b in self.brokers:
                    offer = topo.Offer(self.run_id, b.spec, self.prefetch)
                    self.link.publish(topo.SHARED_OFFERS, topo.encode_offer(offer))
                    b.started_at = time.monotonic()
            else:
                for b in self.brokers:
                    self._spawn(b)
            self._wait_ready()
        except (LinkFailed, RuntimeError, TimeoutError) as exc:
            log.error("brokers failed to start: %s", exc)
            self.failed = f"brokers failed to start: {exc}"
        except Exception as exc:  # a bug, or the server refused a declaration
            log.exception("brokers failed to start")
            self.failed = f"brokers failed to start: {exc}"

    def _declare(self, link: AmqpLink, *, first: bool = True) -> None:
        ch = link.channel
        if first:  # deleted when its one consumer, this connection, goes (kill -9 included)
            bank = topo.bank_queue(self.run_id)
            ch.queue_declare(bank, durable=True, auto_delete=True, arguments=topo.QUEUE_ARGS)
            link.consume(ch, bank, auto_ack=True)  # nothing is ever sent to it
        ch.queue_declare(topo.results_queue(self.run_id), durable=True, arguments=topo.QUEUE_ARGS)
        for b in self.brokers:
            ch.queue_declare(b.channel.queue, durable=True, arguments=topo.QUEUE_ARGS)
        if self.external:
            ch.queue_declare(topo.SHARED_OFFERS, durable=True, arguments=topo.QUEUE_ARGS)
        if first:
            link.consume(ch, topo.results_queue(self.run_id), auto_ack=True)

    def _spawn(self, b: Shard) -> None:
        from simulator.amqp_broker import spawned_broker_main

        offer = topo.Offer(self.run_id, b.spec, self.prefetch)
        if self.ctx is None:  # the first start: the fork server imports pika too, once
            self.ctx = processes.fork_server_context(processes.AMQP_PRELOAD)
        b.process = processes.start_process(
            self.target or spawned_broker_main, (offer, self.url), b.spec.name, context=self.ctx
        )
        b.pid, b.host, b.state = b.process.pid, _LOCAL_HOST, STARTING
        b.started_at = time.monotonic()
        log.info("%s started, pid %d, symbols %s", b.name, b.pid, b.spec.symbols_text())

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        next_say = time.monotonic() + 5.0
        while any(b.state == STARTING for b in self.brokers):
            if self.should_abort():
                log.info("stop requested while brokers were starting")
                return
            self.poll(0.05)
            if self.failed:
                raise RuntimeError(self.failed)
            for b in self.dead():
                if b.restarts >= self.max_restarts:
                    raise RuntimeError(
                        f"{b.name} died during start-up (exit code {b.exit_code}) "
                        f"{b.restarts + 1} times; --max-restarts {self.max_restarts} reached"
                    )
                self.respawn(b.index)
            now = time.monotonic()
            if now > deadline:
                waiting = [b.name for b in self.brokers if b.state == STARTING]
                raise TimeoutError(f"no broker took {', '.join(waiting)} within {START_TIMEOUT_S:.0f} s")
            if self.external and now > next_say:
                next_say = now + 5.0
                free = sum(b.state == STARTING for b in self.brokers)
                log.warning("waiting for %d more brokers: start `simulate.py broker --amqp-url ...`", free)

    # -- running ----------------------------------------------------------------------------

    def channel(self, index: int) -> AmqpChannel:
        return self.brokers[index].channel

    def poll(self, timeout: float) -> int:
        """Answer the HELLOs of the last poll, then hand on what arrived (waiting up to
        ``timeout`` for the first); stops early after a HELLO, so its answer sees everything
        read before it booked."""
        while self._hellos:
            self._answer(self._hellos.pop(0))
        now = time.monotonic()
        if now >= self._next_declare:
            self._next_declare = now + topo.REDECLARE_EVERY_S
            if self.link.alive:
                try:  # declared again, its expiry timer starts again (publishing does not)
                    self.link.run(lambda link: self._declare(link, first=False))
                except Exception as exc:  # the link's failure is seen below
                    log.debug("declaring the queues again: %s", exc)
        if not self.external and now >= self._next_sentinels:
            self._next_sentinels = now + 0.1
            self._look_at_processes()
        get = self.link.deliveries.get
        n = 0
        try:
            d = get(timeout=timeout if self.link.failed is None else 0) if timeout > 0 else get(block=False)
        except queue.Empty:
            # what arrived before the connection went was handed on first: only then give up
            if self.link.failed is not None:
                self._lost_link()
            return 0
        while True:
            if d is not None:
                n += 1
                if self._dispatch(d):
                    break  # a HELLO: answered next poll, after this one's events are booked
            if n >= _POLL_BUDGET:
                break
            try:
                d = get(block=False)
            except queue.Empty:
                break
        return n

    def _dispatch(self, d: Delivery) -> bool:
        try:
            kind, body = msg.decode(d.body)
        except msg.BadMessage as exc:
            self.bad_messages += 1
            log.warning("bad message on the results queue ignored: %s", exc)
            return False
        if kind == msg.HELLO:
            if 0 <= body.index < len(self.brokers):
                self._hellos.append(body)
                return True
            self.bad_messages += 1
            return False
        if kind == msg.TAPE:  # (symbol, skipped, orders): whose it is, its sender says
            index = next((b.index for b in self.brokers if b.incarnation and b.incarnation == d.app_id), -1)
        else:
            index = body[0] if kind == msg.EVENTS else getattr(body, "index", -1)
        if not isinstance(index, int) or not 0 <= index < len(self.brokers):
            self.bad_messages += 1
            log.warning("a %r message for shard %r ignored", kind, index)
            return False
        b = self.brokers[index]
        if kind != msg.LOG and d.app_id != b.incarnation:
            self.stale_messages += 1  # its shard was taken over: its successor answers for it
            return False
        b.last_heard = time.monotonic()
        if kind == msg.EVENTS:
            b.channel.consumed(b.base + body[1])
        elif kind == msg.HEARTBEAT:
            b.heartbeat = body
            b.channel.consumed(b.base + body.consumed)
            if b.state == STARTING:
                b.state = RUNNING
        elif kind == msg.FINAL:
            b.final = body
            b.state = EXITED
        self.on_message(index, kind, body)
        return False

    def _answer(self, hello: msg.Hello) -> None:
        b = self.brokers[hello.index]
        took_over = bool(b.incarnation)
        b.incarnation, b.host, b.pid = hello.incarnation, hello.host, hello.pid
        b.base = b.channel.read
        b.last_heard = time.monotonic()
        if b.state not in (STARTING, DEAD) and took_over:
            b.restarts += 1
        if b.final is None:
            b.state = STARTING
        books = {}
        if b.channel.sent:
            books = {symbol: msg.BookState(*state) for symbol, state in self.book_states(hello.index).items()}
        self.link.publish(hello.reply_to, msg.encode(msg.TAKEOVER, msg.Takeover(books, b.base)))
        how = "took over" if took_over else "took"
        log.log(
            logging.WARNING if took_over else logging.INFO,
            "%s: %s pid %s on %s %s it, %d messages answered, %d resting orders restored",
            b.name,
            "broker" if self.external else "process",
            hello.pid,
            hello.host,
            how,
            b.base,
            sum(len(s.resting) for s in books.values()),
        )

    def _look_at_processes(self) -> None:
        for b in self.brokers:
            if b.process is not None and b.live and not b.process.is_alive():
                b.process.join(0.1)
                b.exit_code = b.process.exitcode
                if b.final is None:
                    b.state = DEAD
                    log.error("%s (pid %s) died, exit code %s", b.name, b.pid, b.exit_code)

    def _lost_link(self) -> None:
        if self.failed is None:
            self.failed = f"fatal: {self.link.failed}"
            for b in self.brokers:
                if b.final is None:
                    b.given_up = True  # no broker can answer any more: wait for none

    def keep_standby(self) -> None:
        """Warm standby processes are the pipes' (--no-standby); over AMQP a standby is any
        `simulate.py broker` waiting on the offers, or a restart from the queue."""

    def read_waiting(self, index: int, most: int = 4096) -> int:
        return self.poll(0)

    def dead(self) -> list[Shard]:
        return [b for b in self.brokers if b.state == DEAD and b.final is None]

    def hung(self, now: float, after_s: float) -> list[Shard]:
        """Spawned brokers silent for ``after_s`` (an external one cannot be killed from here:
        the dashboard shows it HUNG, and a standby takes over when it dies)."""
        return [
            b
            for b in self.brokers
            if b.process is not None
            and b.state in (RUNNING, "STOPPING")
            and b.final is None
            and now - max(b.last_heard, b.started_at) > after_s
        ]

    def respawn(self, index: int, first: bytes | None = None) -> Shard:
        """A new process for a dead spawned broker. ``first`` (a RESTORE) is not sent: the new
        broker asks for its books itself (HELLO), and the queue redelivers the rest."""
        b = self.brokers[index]
        if b.process is not None:
            processes.kill_process(b.process)
            b.process.join(_JOIN_GRACE_S)
        b.restarts += 1
        b.heartbeat = None
        self._spawn(b)
        return b

    def kill(self, index: int) -> None:
        b = self.brokers[index]
        if b.process is not None and b.live and b.process.is_alive():
            log.warning("killing %s (pid %s)", b.name, b.pid)
            processes.kill_process(b.process)
        elif b.process is None:
            log.warning(
                "%s runs elsewhere (pid %s on %s): it cannot be killed from here", b.name, b.pid, b.host
            )

    # -- stop -------------------------------------------------------------------------------

    @never_raises
    def stop(self) -> None:
        """Join the spawned brokers (kill those that did not answer), delete the run's queues."""
        if self.stopped:
            return
        self.stopped = True
        for b in self.brokers:
            if b.process is not None:
                # a broker that lost the server too exits by itself (it has nothing to answer with)
                grace = _JOIN_GRACE_S if b.final is not None or self.link.failed else 0.1
                b.exit_code = processes.end_process(
                    b.process, b.name, grace_s=grace, escalate_s=_JOIN_GRACE_S, terminate=False
                )
            elif b.final is not None:
                b.exit_code = 0
            b.state = EXITED if b.final is not None and b.exit_code == 0 else DEAD
            if b.final is None:
                log.error("%s sent no final report", b.name)
            elif b.process is not None:
                log.info("%s exited with %s", b.name, b.exit_code)
            b.channel.close()
        if self.link.alive:
            try:
                self.link.run(self._delete)
            except Exception as exc:  # the server went: its queues expire by themselves
                log.warning(
                    "the run's queues were not deleted (%s): they expire in %d s", exc, topo.EXPIRES_S
                )
        if self.ctx is not None:
            processes.stop_fork_server(_JOIN_GRACE_S)  # every fork of it is gone now

    def _delete(self, link: AmqpLink) -> None:
        ch = link.channel
        for b in self.brokers:
            ch.queue_delete(b.channel.queue)
        ch.queue_delete(topo.results_queue(self.run_id))
        ch.queue_delete(topo.bank_queue(self.run_id))

    @property
    def all_clean(self) -> bool:
        return all(b.final is not None and b.exit_code == 0 for b in self.brokers)

    def pids(self) -> list[int]:
        """The spawned brokers' pids (those elsewhere are not this machine's to sample)."""
        return [b.pid for b in self.brokers if b.pid and b.process is not None]
