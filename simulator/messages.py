"""The few records that cross a process boundary, and their byte encoding.

Every message on a queue is one ``bytes`` object: a one-byte kind, then a stdlib-pickled body.
The sender encodes a whole batch once, so multiprocess's slow (dill) pickler only ever sees
bytes, which cost it almost nothing. Anything that arrives and is not such a message raises
``BadMessage``; the receiver counts it, logs it and carries on.

    bank -> broker inbox:   ORDERS  list of order tuples (see orders.py)
                            WATCH   symbol whose book depth heartbeats should carry
                            RESTORE books of a restarted broker: {symbol: BookState}
                            STOP    sentinel: answer everything before it, report, exit
    broker -> bank results: EVENTS  (broker index, messages read so far, list of event tuples)
                            HEARTBEAT  Heartbeat
                            FINAL   FinalReport
                            LOG     LogLine
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass, field

ORDERS = b"O"
WATCH = b"W"
RESTORE = b"R"
STOP = b"S"
EVENTS = b"E"
HEARTBEAT = b"H"
FINAL = b"F"
LOG = b"L"

_BODY_KINDS = frozenset((ORDERS, WATCH, RESTORE, EVENTS, HEARTBEAT, FINAL, LOG))
_PROTOCOL = pickle.HIGHEST_PROTOCOL


class BadMessage(ValueError):
    """A queue item that is not a message of ours; the text says why."""


@dataclass(frozen=True, slots=True)
class BrokerSpec:
    """What a broker process needs to know to start: given once, at spawn."""

    index: int
    name: str
    symbols: tuple[str, ...]
    heartbeat_s: float = 0.25
    log_level: int = 20


@dataclass(frozen=True, slots=True)
class BookState:
    """What a restarted broker needs to rebuild one book exactly as its predecessor left it."""

    resting: tuple[tuple[int, int, int, int, int], ...]  # (oid, account, side, price, leaves)
    match_seq: int  # trades so far on this book
    last_price: int | None
    max_oid: int  # highest order id this book has answered


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A broker's periodic sign of life with its counters; the first one means 'ready'."""

    index: int
    pid: int
    orders: int  # orders and cancels handled
    trades: int
    consumed: int  # inbox messages read so far (the bank's credit count)
    bad_messages: int
    book: tuple | None = None  # (symbol, bids, asks, last_price) of the watched symbol


@dataclass(frozen=True, slots=True)
class FinalReport:
    """A broker's last word after the STOP sentinel: counters and every order still resting."""

    index: int
    pid: int
    orders: int
    trades: int
    bad_messages: int
    resting: dict[str, list[tuple[int, int, int, int, int]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogLine:
    """A log record from a broker, re-emitted by the bank (children never write to the terminal)."""

    index: int
    level: int
    logger: str
    text: str


def encode(kind: bytes, body: object = None) -> bytes:
    if kind == STOP:
        return STOP
    return kind + pickle.dumps(body, _PROTOCOL)


def decode(payload: object) -> tuple[bytes, object]:
    """(kind, body) of a queue item, or BadMessage."""
    if not isinstance(payload, (bytes, bytearray)) or not payload:
        raise BadMessage(f"not a message: {type(payload).__name__} {payload!r:.60}")
    kind = bytes(payload[:1])
    if kind == STOP:
        if len(payload) != 1:
            raise BadMessage("STOP with a body")
        return STOP, None
    if kind not in _BODY_KINDS:
        raise BadMessage(f"unknown kind {kind!r}")
    try:
        body = pickle.loads(payload[1:])
    except Exception as exc:  # any decoding failure is a bad message, never a crash
        raise BadMessage(f"undecodable {kind!r} body: {exc.__class__.__name__}: {exc}") from None
    if kind == ORDERS and not isinstance(body, list):
        raise BadMessage(f"ORDERS body is {type(body).__name__}, not list")
    if kind == EVENTS and not (isinstance(body, tuple) and len(body) == 3):
        raise BadMessage("EVENTS body is not (index, consumed, events)")
    if kind == HEARTBEAT and not isinstance(body, Heartbeat):
        raise BadMessage("HEARTBEAT body is not a Heartbeat")
    if kind == FINAL and not isinstance(body, FinalReport):
        raise BadMessage("FINAL body is not a FinalReport")
    if kind == LOG and not isinstance(body, LogLine):
        raise BadMessage("LOG body is not a LogLine")
    if kind == RESTORE and not isinstance(body, dict):
        raise BadMessage("RESTORE body is not a dict of book states")
    if kind == WATCH and not isinstance(body, str):
        raise BadMessage("WATCH body is not a symbol")
    return kind, body
