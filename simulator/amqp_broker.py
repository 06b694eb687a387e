"""A broker over AMQP: takes a shard, gets its books from the bank, then matches as over pipes.

    STANDBY    wait for an offer (``sim.offers``); a broker the bank spawned has its offer already
    CLAIM      consume the shard's queue exclusively (retrying while a dead predecessor's
               connection is still being closed), open a reply queue, publish HELLO
    RESTORE    buffer the shard's deliveries until the bank's TAKEOVER arrives: the books as the
               bank's ledger has them, and how many of the shard's messages are answered. The
               HELLO went onto the results queue behind everything the previous broker
               published, so the bank had booked all of it when it answered.
    RUN        ``broker.InboxPump`` over the queue, unchanged: deliveries whose sequence number
               is answered already (redelivered after a predecessor died) are skipped, so no
               order trades twice; every result published acknowledges what it answers
    DONE       after the final report (or when the bank is gone): exit, or with ``--stay``
               wait for the next offer

Both sides of the pump's interface are here: ``ShardInbox`` (poll/recv_bytes) and
``ShardResults`` (send_bytes). The pump's orphan watch is ``BankWatch``: the bank's exclusive
queue gone (its connection closed: kill -9 of the bank is seen within about a second) or the
link lost.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from cherrypy.process.plugins import SimplePlugin

from simulator import amqp_topology as topo
from simulator import amqp_url
from simulator import messages as msg
from simulator.amqp_link import AmqpLink, Delivery, LinkFailed
from simulator.broker import Broker, InboxPump
from simulator.bus import ORDER, drive, never_raises, new_bus

log = logging.getLogger("broker")

_CLAIM_RETRY_S = 0.2
_CLAIM_PATIENCE_S = 30.0  # a dead broker's connection is closed by the server within its heartbeats
_ACCESS_REFUSED = 403
STANDBY, CLAIM, RESTORE, RUN, DONE = "STANDBY", "CLAIM", "RESTORE", "RUN", "DONE"


class BankWatch:
    """The pump's orphan watch over AMQP: the bank is gone when its exclusive queue is."""

    parent_pid = 0

    def __init__(self, link: AmqpLink, bank_queue: str) -> None:
        self.link = link
        self.bank_queue = bank_queue

    @property
    def orphaned(self) -> bool:
        return self.link.failed is not None or self.bank_queue in self.link.gone


class ShardInbox:
    """The shard queue as ``InboxPump`` reads a pipe: ``poll(timeout)`` and ``recv_bytes()``."""

    def __init__(self, link: AmqpLink, offer: topo.Offer, answered: int, early: list[Delivery]) -> None:
        self.link = link
        self.queue = offer.shard_queue
        self.answered = answered  # messages of the shard answered before this broker took it
        self.skipped = 0
        self._ready: deque[Delivery] = deque()
        self.handled: Delivery | None = None  # the latest delivery read or skipped: acked with results
        for d in early:
            self._accept(d)

    def _accept(self, d: Delivery | None) -> None:
        if d is None or d.queue != self.queue:
            return  # a wake-up (link failed, bank gone: the watch sees it) or a stray
        try:
            seq = int(d.message_id or 0)
        except ValueError:
            seq = 0
        if 0 < seq <= self.answered:
            self.skipped += 1  # answered by the broker before us: never trade it twice
            self.handled = d
        else:
            self._ready.append(d)

    def poll(self, timeout: float = 0.0) -> bool:
        if self._ready:
            return True
        get = self.link.deliveries.get
        try:
            self._accept(get(timeout=timeout) if timeout > 0 else get_nowait(self.link))
            while len(self._ready) < 64:
                self._accept(get_nowait(self.link))
        except queue.Empty:
            pass
        if self.link.failed is not None and not self._ready:
            raise EOFError(self.link.failed)
        return bool(self._ready)

    def recv_bytes(self) -> bytes:
        d = self._ready.popleft()
        self.handled = d
        return d.body


def get_nowait(link: AmqpLink) -> Delivery | None:
    return link.deliveries.get_nowait()


class ShardResults:
    """The results queue as ``InboxPump`` writes a pipe: ``send_bytes``. Everything but a log
    line answers what was read before it, so it acknowledges that too (after publishing it)."""

    def __init__(self, link: AmqpLink, offer: topo.Offer, incarnation: str, inbox: ShardInbox | None) -> None:
        self.link = link
        self.queue = offer.results_queue
        self.incarnation = incarnation
        self.inbox = inbox
        self._acked: Delivery | None = None

    def send_bytes(self, payload: bytes) -> None:
        if self.link.failed is not None:
            raise BrokenPipeError(self.link.failed)
        self.link.publish(self.queue, payload, app_id=self.incarnation)
        inbox = self.inbox
        if inbox is not None and payload[:1] != msg.LOG and inbox.handled is not self._acked:
            self._acked = inbox.handled
            if self._acked is not None:
                self.link.ack(self._acked)

    def close(self) -> None:
        pass


class ShardTaker(SimplePlugin):
    """Bus plugin of an AMQP broker process: the states of the module docstring, one step per
    'main' tick."""

    def __init__(
        self,
        bus: Any,
        link: AmqpLink,
        *,
        offer: topo.Offer | None,
        stay: bool,
        stop_flag: Any = None,
        make_broker: Callable[[msg.BrokerSpec], Broker] = Broker,
    ) -> None:
        super().__init__(bus)
        self.link = link
        self.make_broker = make_broker  # the matching side (a benchmark's echo only acknowledges)
        self.fixed_offer = offer  # spawned by the bank: this shard, no offers queue
        self.stay = stay
        self.stop_flag = stop_flag  # a signal asked this broker to leave (external brokers)
        self.state = STANDBY
        self.done = False
        self.exit_code = 0
        self.runs = 0
        self._reset()

    def _reset(self) -> None:
        self.offer: topo.Offer | None = None
        self.offer_delivery: Delivery | None = None
        self.channel: Any = None
        self.reply_queue = ""
        self.early: list[Delivery] = []
        self.pump: InboxPump | None = None
        self.claim_since = 0.0
        self.incarnation = ""

    def subscribe(self) -> None:
        self.bus.subscribe("start", self.start, priority=ORDER["start", "taker"])
        self.bus.subscribe("main", self.main)
        self.bus.subscribe("stop", self.stop, priority=ORDER["stop", "taker"])

    def start(self) -> None:
        if self.link.failed:
            return
        if self.fixed_offer is None:
            self.link.run(_consume_offers)
            log.info("waiting for a shard on %s", topo.SHARED_OFFERS)

    def main(self) -> None:
        if self.link.failed is not None:
            log.error("%s", self.link.failed)
            self._finish(1)
            return
        if self.stop_flag and self.state in (STANDBY, CLAIM, RESTORE):
            self._finish(0)
            return
        step = {STANDBY: self._standby, CLAIM: self._claim, RESTORE: self._restore, RUN: self._run}
        step.get(self.state, lambda: None)()

    # -- the states -------------------------------------------------------------------------------

    def _standby(self) -> None:
        if self.fixed_offer is not None:
            self.offer = self.fixed_offer
        else:
            try:
                d = self.link.deliveries.get(timeout=0.2)
            except queue.Empty:
                return
            if d is None or d.queue != topo.SHARED_OFFERS:
                return
            try:
                offer = topo.decode_offer(d.body)
            except msg.BadMessage as exc:
                log.warning("offer ignored: %s", exc)
                self.link.ack(d)
                return
            if not self.link.run(lambda link: _exists(link, offer.bank_queue)):
                log.info("offer of run %s dropped: that bank is gone", offer.run_id)
                self.link.ack(d)
                return
            self.offer, self.offer_delivery = offer, d
        self.state, self.claim_since = CLAIM, time.monotonic()

    def _claim(self) -> None:
        offer = self.offer
        assert offer is not None
        try:
            claimed = self.link.run(lambda link: _claim(link, offer))
        except LinkFailed:
            return  # main sees link.failed next tick
        if claimed is None:
            if time.monotonic() - self.claim_since > _CLAIM_PATIENCE_S:
                log.error(
                    "%s is still held by another broker after %.0f s", offer.shard_queue, _CLAIM_PATIENCE_S
                )
                self._finish(1)
                return
            try:
                self.early.append(self.link.deliveries.get(timeout=_CLAIM_RETRY_S))  # type: ignore[arg-type]
            except queue.Empty:
                pass
            return
        self.channel, self.reply_queue = claimed
        self.incarnation = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        hello = msg.Hello(
            offer.spec.index, socket.gethostname(), os.getpid(), self.incarnation, self.reply_queue
        )
        self.link.publish(offer.results_queue, msg.encode(msg.HELLO, hello), app_id=self.incarnation)
        self.link.watch_gone(offer.bank_queue)
        log.info("took %s (run %s): waiting for its books", offer.spec.name, offer.run_id)
        self.state = RESTORE

    def _restore(self) -> None:
        offer = self.offer
        assert offer is not None
        if offer.bank_queue in self.link.gone:
            log.error("the bank of run %s is gone", offer.run_id)
            self._leave_shard(orphaned=True)
            return
        try:
            d = self.link.deliveries.get(timeout=0.05)
        except queue.Empty:
            return
        if d is None:
            return
        if d.queue != self.reply_queue:
            self.early.append(d)  # the shard's messages wait for the books
            return
        try:
            kind, body = msg.decode(d.body)
        except msg.BadMessage as exc:
            log.warning("bad message on the reply queue ignored: %s", exc)
            return
        if kind != msg.TAKEOVER:
            return
        broker = self.make_broker(offer.spec)
        if body.books:
            broker.restore(body.books)
        inbox = ShardInbox(self.link, offer, body.answered, [e for e in self.early if e is not None])
        self.early = []
        results = ShardResults(self.link, offer, self.incarnation, inbox)
        self.pump = InboxPump(self.bus, broker, inbox, results, BankWatch(self.link, offer.bank_queue))
        self.pump.start()
        self.state = RUN

    def _run(self) -> None:
        pump = self.pump
        assert pump is not None
        pump.main()
        if pump.done:
            skipped = pump.inbox.skipped
            if skipped:
                log.info("%d messages answered by the previous broker were skipped", skipped)
            self._leave_shard(orphaned=pump.orphaned)
        elif self.stop_flag:
            log.warning("asked to stop: leaving %s to a standby", self.offer.spec.name if self.offer else "?")
            self._leave_shard(orphaned=True)

    def _leave_shard(self, *, orphaned: bool) -> None:
        """Close the shard's channel (what is unacknowledged goes back to the queue), give the
        offer back (orphaned: for a standby) or take it off the queue (the run is over)."""
        offer_delivery, channel = self.offer_delivery, self.channel
        self.runs += 1

        def leave(link: AmqpLink) -> None:
            if channel is not None and channel.is_open:
                channel.close()
            if link.channel is channel:
                link.channel = link.connection.channel()  # for the next shard's HELLO
            if offer_delivery is not None and offer_delivery.channel.is_open:
                if orphaned:
                    offer_delivery.channel.basic_nack(offer_delivery.tag, requeue=True)
                else:
                    offer_delivery.channel.basic_ack(offer_delivery.tag)

        try:
            self.link.run(leave)
        except Exception as exc:  # the link is going: the server requeues all the same
            log.debug("leaving the shard: %s", exc)
        if self.stay and self.fixed_offer is None and not self.stop_flag and self.link.failed is None:
            self._reset()
            self.state = STANDBY
            log.info("run over; waiting for the next shard")
        else:
            self._finish(1 if orphaned and not self.stop_flag else 0)

    def _finish(self, code: int) -> None:
        self.exit_code = max(self.exit_code, code)
        self.state, self.done = DONE, True

    @never_raises
    def stop(self) -> None:
        self.done = True


# -- run on the link thread ---------------------------------------------------------------------


def _consume_offers(link: AmqpLink) -> None:
    link.channel.queue_declare(topo.SHARED_OFFERS, durable=True, arguments=topo.QUEUE_ARGS)
    offers = link.connection.channel()
    offers.basic_qos(prefetch_count=1)  # one shard per broker: one unacknowledged offer
    link.consume(offers, topo.SHARED_OFFERS)


def _exists(link: AmqpLink, name: str) -> bool:
    """Whether queue ``name`` exists (an exclusive queue of another connection answers 405)."""
    pika = amqp_url.pika()
    ch = link.connection.channel()
    try:
        ch.queue_declare(name, passive=True)
        ch.close()
        return True
    except pika.exceptions.ChannelClosedByBroker as exc:
        return exc.reply_code != 404


def _claim(link: AmqpLink, offer: topo.Offer) -> tuple[Any, str] | None:
    """Consume the shard queue exclusively on a new channel: (channel, reply queue), or None
    while another consumer still holds it."""
    pika = amqp_url.pika()
    ch = link.connection.channel()
    ch.basic_qos(prefetch_count=offer.prefetch)
    try:
        link.consume(ch, offer.shard_queue, exclusive=True)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == _ACCESS_REFUSED:
            return None
        raise
    reply = ch.queue_declare("", exclusive=True, auto_delete=True).method.queue
    link.consume(ch, reply, auto_ack=True)
    link.channel = ch  # results go out on the channel whose deliveries they acknowledge
    return ch, reply


# -- entry points -------------------------------------------------------------------------------


def spawned_broker_main(
    offer: topo.Offer, url: str, make_broker: Callable[[msg.BrokerSpec], Broker] = Broker
) -> None:
    """Entry point of a broker the bank spawns (``amqp_pool``): its shard is given."""
    from simulator import processes

    processes.enter_child(title=offer.spec.name)
    root = logging.getLogger()
    root.handlers[:] = [logging.NullHandler()]  # until it has a shard, then its results queue
    root.setLevel(offer.spec.log_level)
    logging.getLogger("bus").setLevel(max(offer.spec.log_level, logging.WARNING))
    code = run_broker(url, offer=offer, stay=False, log_to_bank=True, make_broker=make_broker)
    sys.exit(code)


def run_broker(
    url: str,
    *,
    offer: topo.Offer | None,
    stay: bool,
    log_to_bank: bool = False,
    stop_flag: Any = None,
    make_broker: Callable[[msg.BrokerSpec], Broker] = Broker,
) -> int:
    """One broker process's bus, link and shard taker; its exit status."""
    name = offer.spec.name if offer else "broker"
    bus = new_bus(name)
    link = AmqpLink(bus, url, name=name)
    link.subscribe()
    taker = ShardTaker(bus, link, offer=offer, stay=stay, stop_flag=stop_flag, make_broker=make_broker)
    taker.subscribe()
    from simulator import processes

    # as over pipes: the steady state makes no cycle (tests/integration/test_amqp_collector.py)
    processes.freeze_heap_each_tick(bus)
    if log_to_bank and offer is not None:
        from simulator.broker import ResultsLogHandler

        handler = ResultsLogHandler(ShardResults(link, offer, "log", None), offer.spec.index)
        logging.getLogger().handlers[:] = [handler]
    try:
        drive(bus, lambda: taker.done)
    except Exception:
        log.exception("broker loop failed")
        return 1
    if link.failed is not None and taker.exit_code == 0 and taker.state != DONE:
        return 1
    return taker.exit_code
