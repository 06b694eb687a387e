"""The channel between the bank and one broker: the transport seam.

The bank sends a broker whole messages (``messages.encode``: a batch of order records, WATCH,
RESTORE, STOP) and receives whole messages back (event batches, heartbeats, logs, the final
report). How they travel is the channel's business; who runs the broker is the supervisor's.
``PipeChannel`` is the first transport; a channel to brokers on other machines (AMQP) fits
beside it by offering the same operations and raising the same two errors.

The rules, for every channel:

``send(payload, *, credit=True)``
    Hands one message over and returns at once; it never blocks. A message is sent only while
    the broker has room for it by the channel's credit (see below); otherwise ``ChannelFull``
    is raised and nothing was sent: try again after ``receive`` brought credit back. When the
    broker is gone (its end closed, its process dead, the channel closed), ``ChannelGone`` is
    raised and nothing more will ever be sent. ``credit=False`` skips the credit check, for
    the one message a restarted broker must read first (RESTORE); that one may wait until the
    broker reads it.
``max_bytes``
    The largest message ``send`` takes with credit (a pipe: what it holds, less the length
    header): a caller splits its batches to fit; a larger one is a ValueError, never a write
    that blocks.
``receive(budget)``
    The messages waiting, at most ``budget`` of them, in the order the broker sent them;
    an empty list when none is waiting. Once the broker has gone and everything it sent was
    received, it raises ``ChannelGone``.
``consumed(count)``
    The broker's own count of messages it has read (every reply carries it): gives back the
    credit of the messages it has read.
``unread``
    Messages sent that the broker has not read yet (the inbox depth the dashboard shows).
``close()``
    Closes this end; idempotent; after it ``send`` raises ChannelGone.
``fileno()``
    A descriptor that is readable when ``receive`` has something (or the peer went): the bank
    waits on all its channels and its brokers' process sentinels with one ``select``.

The bank reaches the channels through its set of brokers (``Brokers`` below; ``pool.BrokerPool``
spawns them on this machine): ``channel(k)`` is broker k's current channel (a new one after a
restart), ``poll(timeout)`` waits on all of them at once and hands every message on. Another
transport brings its own ``Brokers``; the bank does not change.

Credit: a channel holds at most ``max_unread`` unread messages, and (pipe only) no more unread
bytes than the pipe holds, so a write always fits and never blocks; a slow broker therefore
slows the bank instead of growing memory, and the backlog a stop must drain stays short.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

_LENGTH_HEADER = 4  # bytes multiprocess's Connection writes before each message


class ChannelFull(Exception):
    """The broker has no credit left for this message: nothing was sent (trio's WouldBlock)."""


class ChannelGone(Exception):
    """The broker's end is gone: nothing was or will be sent (trio's BrokenResourceError)."""


class Channel(Protocol):
    max_bytes: int

    def send(self, payload: bytes, *, credit: bool = True) -> None: ...

    def receive(self, budget: int) -> list[bytes]: ...

    def consumed(self, count: int) -> None: ...

    @property
    def unread(self) -> int: ...

    def close(self) -> None: ...

    def fileno(self) -> int: ...


class BrokerView(Protocol):
    """One broker as the bank's stop protocol sees it."""

    index: int
    name: str
    stop_sent: bool  # STOP is on its inbox, behind its last order
    given_up: bool  # died once too often: waited for no more
    final: Any  # its FinalReport, once it sent it

    @property
    def live(self) -> bool: ...

    @property
    def restoring(self) -> bool: ...  # dead, or restarted and not answering yet


class Brokers(Protocol):
    """What the bank needs of its brokers, wherever they run."""

    failed: str | None  # why the brokers cannot go on (e.g. failed to start)
    bad_messages: int

    @property
    def brokers(self) -> Sequence[BrokerView]: ...

    def channel(self, index: int) -> Channel: ...

    def poll(self, timeout: float) -> int: ...


class PipeChannel:
    """Two one-way pipes: the bank's writing end of the broker's inbox and its reading end of
    the broker's results. The broker holds the only other ends, so its death reads as EOF on
    ``results`` and as EPIPE on ``inbox``: never a stuck lock or a torn message."""

    def __init__(self, inbox: Any, results: Any, *, max_unread: int, capacity: int) -> None:
        self._inbox = inbox
        self._results = results
        self.max_unread = max_unread
        self.capacity = capacity  # bytes the inbox pipe holds
        self.max_bytes = capacity - _LENGTH_HEADER
        self.sent = 0  # messages written to the inbox
        self.read = 0  # messages the broker says it has read
        self._unread_sizes: deque[int] = deque()  # sizes of messages sent, not yet read
        self._unread_bytes = 0
        self._closed = False
        self._eof = False

    # -- bank -> broker ---------------------------------------------------------------------

    def send(self, payload: bytes, *, credit: bool = True) -> None:
        if self._closed:
            raise ChannelGone("channel closed")
        if credit:
            if len(payload) > self.max_bytes:
                raise ValueError(f"a message of {len(payload)} bytes does not fit a pipe of {self.capacity}")
            if self.sent - self.read >= self.max_unread or self._unread_bytes + len(payload) > self.max_bytes:
                raise ChannelFull
        try:
            self._inbox.send_bytes(payload)
        except OSError as exc:  # BrokenPipeError: the broker is gone
            raise ChannelGone(str(exc)) from None
        self.sent += 1
        self._unread_sizes.append(len(payload))
        self._unread_bytes += len(payload)

    def consumed(self, count: int) -> None:
        sizes = self._unread_sizes
        while self.read < count and sizes:
            self._unread_bytes -= sizes.popleft()
            self.read += 1

    @property
    def unread(self) -> int:
        return self.sent - self.read

    # -- broker -> bank ---------------------------------------------------------------------

    def receive(self, budget: int) -> list[bytes]:
        if self._eof or self._closed:
            raise ChannelGone("the broker closed its end")
        conn = self._results
        out: list[bytes] = []
        try:
            while len(out) < budget and conn.poll():
                out.append(conn.recv_bytes())
        except (EOFError, OSError):
            self._eof = True
            if not out:
                raise ChannelGone("the broker closed its end") from None
        return out

    def fileno(self) -> int:
        return self._results.fileno()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for conn in (self._inbox, self._results):
                try:
                    conn.close()
                except OSError:
                    pass


class NoChannel:
    """The channel of a broker that never started (a stop before start-up): always gone."""

    unread = 0
    max_bytes = 0

    def send(self, payload: bytes, *, credit: bool = True) -> None:
        raise ChannelGone("the broker never started")

    def receive(self, budget: int) -> list[bytes]:
        raise ChannelGone("the broker never started")

    def consumed(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass

    def fileno(self) -> int:
        raise ChannelGone("the broker never started")
