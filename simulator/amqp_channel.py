"""The bank's channel to one shard queue over AMQP (``channel.Channel``'s rules, RabbitMQ's way).

``send`` publishes one message to the shard's queue, numbered (``message_id``: 1, 2, ...
for the shard's whole run, whichever broker serves it), and never blocks: the link thread
writes it. Credit is the bank's own count, messages published minus those the shard's brokers
said they answered (``consumed``, with the count each broker reports added to what was
answered before it took the shard): at most ``--amqp-credit`` unanswered, so a slow or absent
broker slows the bank instead of filling the server's memory. Results do not come back on
the channel but on the run's one results queue (``amqp_pool.AmqpBrokers.poll``). Gone: the
connection to the server is lost, or the channel was closed.
"""

from __future__ import annotations

from simulator.amqp_link import AmqpLink
from simulator.channel import ChannelFull, ChannelGone

_MAX_BYTES = 8 << 20  # RabbitMQ takes far larger messages; a batch of 65,536 orders is 4.5 MiB


class AmqpChannel:
    """Bank -> one shard queue. Credit is the bank's own count: messages published minus those
    the shard's brokers said they answered (``consumed``)."""

    def __init__(self, link: AmqpLink, queue_name: str, *, max_unread: int) -> None:
        self.link = link
        self.queue = queue_name
        self.max_unread = max_unread
        self.max_bytes = _MAX_BYTES
        self.sent = 0  # the last sequence number published (message_id)
        self.read = 0  # messages of the shard answered, by any of its brokers
        self._closed = False

    def send(self, payload: bytes, *, credit: bool = True) -> None:
        if self._closed or self.link.failed is not None:
            raise ChannelGone(self.link.failed or "channel closed")
        if credit:
            if len(payload) > self.max_bytes:
                raise ValueError(f"a message of {len(payload)} bytes is over {self.max_bytes}")
            if self.sent - self.read >= self.max_unread:
                raise ChannelFull
        self.sent += 1
        self.link.publish(self.queue, payload, message_id=str(self.sent))

    def consumed(self, count: int) -> None:
        self.read = max(self.read, min(count, self.sent))

    @property
    def unread(self) -> int:
        return self.sent - self.read

    def receive(self, budget: int) -> list[bytes]:
        raise ChannelGone("results arrive on the run's results queue (AmqpBrokers.poll)")

    def close(self) -> None:
        self._closed = True

    def fileno(self) -> int:
        raise ChannelGone("an AMQP channel has no descriptor")
