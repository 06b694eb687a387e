"""One process's AMQP connection (RabbitMQ, via pika), owned by a bus plugin and one thread.

    any thread                          link thread (owns the pika BlockingConnection)
    link.publish(queue, body) --deque-->  basic_publish, in the order handed over
    link.ack(delivery)        --deque-->  basic_ack(multiple) on the delivery's channel
    link.run(fn)              --------->  fn(link) on the link thread; its result comes back
    link.deliveries  <--SimpleQueue----   every message of every queue it consumes

pika's connection is not thread-safe: only ``add_callback_threadsafe`` may be called from
another thread, and a BlockingConnection answers the server's heartbeats only while its thread
is inside pika. So the thread does nothing but pump pika (``process_data_events`` with a short
time limit) and run what other threads hand it; the bus's own thread never touches pika and
never waits on the network. Work handed over wakes the thread at once (one
``add_callback_threadsafe`` per burst, not per message).

The plugin starts with the bus ('start') and stops with it ('stop'): ``stop`` closes the
connection (the server requeues whatever was delivered and not acknowledged), joins the thread
with a deadline and never raises. When the connection is lost (the server stopped, the network
went, heartbeats missed) ``failed`` says why, a ``None`` on ``deliveries`` wakes the reader, and
everything handed over afterwards is dropped: the owner stops on ``failed``.

``watch_gone(queue)`` looks once a second whether a queue still exists (a passive declare: an
exclusive queue of another connection answers 405, a deleted one 404): brokers watch the bank's
exclusive queue this way, which the server deletes the moment the bank's connection closes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from cherrypy.process.plugins import SimplePlugin

from simulator import amqp_url
from simulator.amqp_url import LinkFailed
from simulator.bus import ORDER, never_raises

log = logging.getLogger("amqp")
# pika logs every channel the server closes at WARNING (the link expects some: a passive declare
# of a queue that is gone or exclusive) and a lost connection as several tracebacks at ERROR;
# the link says what matters itself, in one line
logging.getLogger("pika").setLevel(logging.CRITICAL)

_PUMP_S = 0.05  # longest the thread sits in pika between looks at its stop flag
_WATCH_EVERY_S = 1.0
_JOIN_S = 3.0
_NOT_FOUND, _LOCKED = 404, 405


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message consumed from a queue, as the link thread received it."""

    queue: str
    tag: int
    redelivered: bool
    headers: dict
    app_id: str | None  # who sent it (a broker's incarnation)
    message_id: str | None  # the bank's sequence number of a shard message
    body: bytes
    channel: Any  # the pika channel it came on: acks go back there (link thread only)


def _channel_errors() -> tuple[type[BaseException], ...]:
    pika = amqp_url.pika()
    return (pika.exceptions.AMQPChannelError, pika.exceptions.ChannelWrongStateError)


class AmqpLink(SimplePlugin):
    """Bus plugin owning one process's connection to RabbitMQ (see the module docstring)."""

    def __init__(self, bus: Any, url: str, *, name: str, heartbeat_s: int = 5) -> None:
        super().__init__(bus)
        self.url = url
        self.name = name
        self.heartbeat_s = heartbeat_s
        self.deliveries: queue.SimpleQueue[Delivery | None] = queue.SimpleQueue()
        self.failed: str | None = None
        self.gone: set[str] = set()  # watched queues found deleted
        self.connection: Any = None
        self.channel: Any = None  # publishing (and, in a broker, its shard's consumer)
        self._out: deque[Callable[[], None]] = deque()
        self._wake_pending = False
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._watched: list[str] = []
        self._watch_channel: Any = None
        self._next_watch = 0.0
        self._lock = threading.Lock()  # only around connection.add_callback_threadsafe

    def subscribe(self) -> None:
        self.bus.subscribe("start", self.start, priority=ORDER["start", "amqp"])
        self.bus.subscribe("stop", self.stop, priority=ORDER["stop", "amqp"])

    # -- start / stop (bus thread) ----------------------------------------------------------------

    def start(self) -> None:
        """Connect (on the link thread) and wait for it; ``failed`` says why it could not."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=f"amqp-{self.name}", daemon=True)
        self._thread.start()
        self._ready.wait(amqp_url.CONNECT_TIMEOUT_S * 3)
        if not self._ready.is_set() and self.failed is None:
            self.failed = "RabbitMQ did not answer in time"

    @never_raises
    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(_JOIN_S)
            if self._thread.is_alive():
                log.error("the AMQP connection thread did not end within %.0f s", _JOIN_S)

    @property
    def alive(self) -> bool:
        return self._ready.is_set() and self.failed is None and not self._stop.is_set()

    # -- hand-offs (any thread) -----------------------------------------------------------------

    def publish(self, queue_name: str, body: bytes, *, headers: dict | None = None, **props: Any) -> None:
        """Publish ``body`` to ``queue_name`` (through the default exchange), in hand-over order."""
        pika = amqp_url.pika()
        properties = pika.BasicProperties(headers=headers, **props)
        self._hand(lambda: self.channel.basic_publish("", queue_name, body, properties))

    def ack(self, delivery: Delivery) -> None:
        """Acknowledge ``delivery`` and every earlier one of its channel."""
        self._hand(lambda: delivery.channel.basic_ack(delivery.tag, multiple=True))

    def run(self, fn: Callable[[AmqpLink], Any], timeout: float = 10.0) -> Any:
        """``fn(self)`` on the link thread; its result, or its exception raised here."""
        if threading.current_thread() is self._thread:
            return fn(self)
        future: Future = Future()

        def call() -> None:
            try:
                future.set_result(fn(self))
            except BaseException as exc:  # handed back to the caller, who decides
                future.set_exception(exc)

        self._hand(call)
        if self.failed is not None and not future.done():
            raise LinkFailed(self.failed)
        return future.result(timeout)

    def watch_gone(self, queue_name: str) -> None:
        """From now on, look once a second whether ``queue_name`` still exists (``gone``)."""
        self._hand(lambda: self._watched.append(queue_name))

    def _hand(self, op: Callable[[], None]) -> None:
        if self.failed is not None or self._stop.is_set():
            return  # the connection is gone or going: the owner stops on ``failed``
        self._out.append(op)
        if not self._wake_pending:
            self._wake_pending = True
            self._wake()

    def _wake(self) -> None:
        conn = self.connection
        if conn is None:
            return
        try:
            with self._lock:
                conn.add_callback_threadsafe(self._drain)
        except Exception:  # closed meanwhile: the thread is ending anyway
            pass

    # -- the link thread ------------------------------------------------------------------------

    def _drain(self) -> None:
        self._wake_pending = False
        out = self._out
        channel_errors = _channel_errors()
        while out:
            try:
                out.popleft()()
            except channel_errors as exc:  # one channel closed (a shard left): not the connection
                log.warning("%s: %s", self.name, amqp_url.describe_error(exc))

    def _run(self) -> None:
        from simulator import processes

        processes.set_thread_title(f"amqp-{self.name}"[:15])
        try:
            self.connection = amqp_url.connect(self.url, heartbeat_s=self.heartbeat_s)
            self.channel = self.connection.channel()
        except LinkFailed as exc:
            self.failed = str(exc)
            self._ready.set()
            self.deliveries.put(None)
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                self.connection.process_data_events(time_limit=_PUMP_S)
                self._drain()
                if self._watched and time.monotonic() >= self._next_watch:
                    self._next_watch = time.monotonic() + _WATCH_EVERY_S
                    self._look_at_watched()
        except Exception as exc:  # the connection broke: say why, once, without the URL
            if not self._stop.is_set():
                self.failed = f"the connection to RabbitMQ was lost ({amqp_url.describe_error(exc)})"
                log.error("%s: %s", self.name, self.failed)
        finally:
            self.deliveries.put(None)
            try:
                if self.connection.is_open:
                    self._drain()  # what was handed over before the stop (final report, acks)
                    self.connection.close()
            except Exception as exc:  # closing a broken connection: nothing more to save
                log.debug("closing the AMQP connection: %s", exc)

    def _look_at_watched(self) -> None:
        """Declare each watched queue passively, on one channel kept for it: a queue that is
        there answers, one that is gone closes the channel (404), opened again for the next."""
        pika = amqp_url.pika()
        for name in list(self._watched):
            if self._watch_channel is None or not self._watch_channel.is_open:
                self._watch_channel = self.connection.channel()
            try:
                self._watch_channel.queue_declare(name, passive=True)
            except pika.exceptions.ChannelClosedByBroker as exc:
                self._watch_channel = None
                if exc.reply_code == _NOT_FOUND:
                    self.gone.add(name)
                    self._watched.remove(name)
                    self.deliveries.put(None)  # wake the reader: it looks at ``gone``

    # -- helpers for fns run on the link thread ---------------------------------------------------

    def consume(
        self, channel: Any, queue_name: str, *, exclusive: bool = False, auto_ack: bool = False
    ) -> str:
        """Start consuming ``queue_name`` on ``channel`` into ``deliveries`` (link thread only)."""
        put = self.deliveries.put

        def on_message(ch: Any, method: Any, props: Any, body: bytes) -> None:
            put(
                Delivery(
                    queue_name,
                    method.delivery_tag,
                    method.redelivered,
                    props.headers or {},
                    props.app_id,
                    props.message_id,
                    body,
                    ch,
                )
            )

        return channel.basic_consume(queue_name, on_message, auto_ack=auto_ack, exclusive=exclusive)
