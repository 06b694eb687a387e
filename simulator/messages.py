"""The few records that cross a process boundary, and their byte encoding.

Every message on a pipe is one ``bytes`` object: a one-byte kind, then its body. Orders and
events, the bulk of the traffic, are int64 records (see ``wire.py``) after 7 bytes of padding,
so the records start 8-aligned and decode without a copy; every other body is stdlib-pickled.
The sender encodes a whole batch once, so multiprocess's slow (dill) pickler only ever sees
bytes, which cost it almost nothing. Anything that arrives and is not such a message raises
``BadMessage``; the receiver counts it, logs it and carries on. The same framing carries the
dashboard's pipe to the bank process (``remote.py``).

    bank -> broker inbox:   ORDERS  order records (bytes); decoded: a flat int64 memoryview
                            WATCH   symbol whose book depth heartbeats should carry and
                                    whose tape to record ("": none); or (symbol, budget):
                                    that depth, and the tape of every book of the broker,
                                    ``budget`` orders a second in all (the all-symbols tape)
                            ASSIGN  BrokerSpec: a warm standby takes over this shard (then RESTORE)
                            RESTORE books of a restarted broker: {symbol: BookState}
                            CANCEL_ALL  (account, upto): the kill switch: cancel every order
                                    of ``account`` (-1: of every account) with an id up to
                                    ``upto`` resting on this broker; each ends CANCELLED
                            STOP    sentinel: answer everything before it, report, exit
    broker -> bank results: EVENTS  (broker index, messages read so far, event records);
                                    decoded, the records are a flat int64 memoryview
                            HEARTBEAT  Heartbeat
                            FINAL   FinalReport (what rests as int64 records: ``resting.py``)
                            LOG     LogLine
                            TAPE    (symbol, events skipped, orders taken): the watched
                                    symbol's tape (``simulator.tape``); symbol "*": of every
                                    book (each order record names its symbol)
    over AMQP only (``amqp_broker``, ``amqp_pool``):
    broker -> bank results: HELLO   Hello: a broker took a shard over and waits for its books
    bank -> that broker:    TAKEOVER  Takeover: the shard's books and how much of it is answered
    dashboard -> bank:      COMMAND (name, argument): one of ``control.COMMANDS``
    bank -> dashboard:      SNAPSHOT  Snapshot
                            DONE    (report dict, error lines), or None: the run is over
"""

from __future__ import annotations

import io
import pickle
import struct
from dataclasses import dataclass, field
from typing import Any

from simulator import resting
from simulator.stats import Snapshot
from simulator.wire import EVENT_SIZE, ORDER_SIZE

ORDERS = b"O"
WATCH = b"W"
ASSIGN = b"A"
RESTORE = b"R"
STOP = b"S"
EVENTS = b"E"
HEARTBEAT = b"H"
FINAL = b"F"
LOG = b"L"
COMMAND = b"C"
SNAPSHOT = b"N"
DONE = b"D"
TAPE = b"T"
HELLO = b"Y"  # "A" is ASSIGN
TAKEOVER = b"K"  # "T" is TAPE
CANCEL_ALL = b"X"  # "C" is COMMAND, "K" TAKEOVER

_BODY_KINDS = frozenset({ORDERS, WATCH, ASSIGN, RESTORE, EVENTS, HEARTBEAT, FINAL, LOG, COMMAND, SNAPSHOT})
_BODY_KINDS |= {DONE, TAPE, HELLO, TAKEOVER, CANCEL_ALL}
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_PAD = bytes(7)  # kind byte + padding = 8: records after it are 8-aligned
RECORDS_OFFSET = 1 + len(_PAD)  # where an ORDERS message's records start
_EVENTS_HEADER = struct.Struct("=qq")  # broker index, inbox messages read so far


class BadMessage(ValueError):
    """Bytes that are not a message of ours; the text says why."""


# A pickle names the classes it rebuilds, and rebuilding one can run any code: a message from a
# queue on another machine must only ever make our records, enums and plain containers.
_RECORD_MODULES = frozenset(("simulator.messages", "simulator.stats", "simulator.amqp_topology"))
_ELSEWHERE = frozenset({("simulator.agents", "AgentParams")})  # records of the pure model
_PLAIN = frozenset(("set", "frozenset", "tuple", "list", "dict", "int", "float", "str", "bytes", "bool"))


class _RecordsOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (
            module in _RECORD_MODULES
            or (module == "builtins" and name in _PLAIN)
            or (module, name) in _ELSEWHERE
        ):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a record of ours")


def loads(data: bytes | bytearray) -> Any:
    """``pickle.loads`` that rebuilds only the simulator's records (see ``_RecordsOnly``)."""
    return _RecordsOnly(io.BytesIO(data)).load()


@dataclass(frozen=True, slots=True)
class BrokerSpec:
    """What a broker process needs to know to start: given once, at spawn."""

    index: int
    name: str
    symbols: tuple[str, ...]
    symbol_ids: tuple[int, ...] = ()  # each symbol's index in the run's list: its wire ``sym``
    heartbeat_s: float = 0.25
    log_level: int = 20
    stp: int = 0  # self-trade prevention: an index of order_types.STP_MODES (0: none)
    agents: Any = None  # agents.AgentParams of the run's agents, None for none

    def symbols_text(self, shown: int = 8) -> str:
        """The shard for a log line: its first ``shown`` symbols and how many in all (at 100,000
        symbols the whole list made a line of 250 KB a broker)."""
        if not self.symbols:
            return "none yet"
        more = f",... ({len(self.symbols):,} in all)" if len(self.symbols) > shown else ""
        return ",".join(self.symbols[:shown]) + more


@dataclass(frozen=True, slots=True)
class BookState:
    """What a restarted broker needs to rebuild one book exactly as its predecessor left it."""

    # (oid, account, side, price, leaves[, display, visible]) in priority order: as tuples, or
    # as int64 records (``wire.RESTORE_WIDTH``), as the bank sends them
    resting: tuple[tuple[int, ...], ...] | bytes
    match_seq: int  # trades so far on this book
    last_price: int | None
    max_oid: int  # highest order id this book has answered
    # stops not triggered: (oid, account, side, otype, tif, price, qty, trigger), as tuples or
    # int64 records (``wire.HELD_WIDTH``)
    held: tuple[tuple[int, ...], ...] | bytes = ()
    agents: tuple[tuple[int, int], ...] = ()  # (account, position in this symbol) of each agent


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
    tops: tuple = ()  # (symbol, best bid, best ask) of each book with orders, 0 for none


@dataclass(frozen=True, slots=True)
class FinalReport:
    """A broker's last word after the STOP sentinel: counters and every order still resting."""

    index: int
    pid: int
    orders: int
    trades: int
    bad_messages: int
    # every order resting, as int64 records and (sym, count) per book: see ``simulator.resting``
    resting: bytes = b""
    resting_books: bytes = b""
    held: dict[str, list[tuple[int, ...]]] = field(
        default_factory=dict
    )  # stops never triggered, as BookState's


@dataclass(frozen=True, slots=True)
class LogLine:
    """A log record from a broker, re-emitted by the bank (children never write to the terminal)."""

    index: int
    level: int
    logger: str
    text: str


@dataclass(frozen=True, slots=True)
class Hello:
    """A broker's first word on a shard it has just taken over (AMQP): who it is, and where the
    bank sends its books. Published behind everything the shard's previous broker published."""

    index: int
    host: str
    pid: int
    incarnation: str  # unique per broker process and claim: the bank ignores older ones
    reply_to: str  # the broker's own queue, for the TAKEOVER


@dataclass(frozen=True, slots=True)
class Takeover:
    """The bank's answer to a HELLO: the shard's books as its ledger has them, and how many of
    the shard's messages are answered already (the broker skips those when they come again)."""

    books: dict  # {symbol: BookState}
    answered: int


def encode(kind: bytes, body: Any = None) -> bytes:
    """One message: ORDERS takes record bytes, EVENTS (index, consumed, record bytes), the
    rest any picklable body."""
    if kind == STOP:
        return STOP
    if kind == ORDERS:
        return ORDERS + _PAD + body
    if kind == EVENTS:
        index, consumed, records = body
        return EVENTS + _PAD + _EVENTS_HEADER.pack(index, consumed) + records
    return kind + pickle.dumps(body, _PROTOCOL)


def _records(payload, start: int, size: int, kind: bytes) -> memoryview:
    if payload[1:8] != _PAD:
        raise BadMessage(f"{kind!r} without its zero padding")
    view = memoryview(payload)[start:]
    if len(view) % size:
        raise BadMessage(f"{kind!r} body of {len(view)} bytes is not whole records of {size}")
    return view.cast("B").cast("q")


def decode(payload: object) -> tuple[bytes, Any]:
    """(kind, body) of one message read from a pipe, or BadMessage."""
    if not isinstance(payload, (bytes, bytearray)) or not payload:
        raise BadMessage(f"not a message: {type(payload).__name__} {payload!r:.60}")
    kind = bytes(payload[:1])
    if kind == STOP:
        if len(payload) != 1:
            raise BadMessage("STOP with a body")
        return STOP, None
    if kind == ORDERS:
        if len(payload) < 8:
            raise BadMessage("ORDERS without its padding")
        return ORDERS, _records(payload, 8, ORDER_SIZE, kind)
    if kind == EVENTS:
        if len(payload) < 8 + _EVENTS_HEADER.size:
            raise BadMessage("EVENTS without its header")
        index, consumed = _EVENTS_HEADER.unpack_from(payload, 8)
        return EVENTS, (index, consumed, _records(payload, 8 + _EVENTS_HEADER.size, EVENT_SIZE, kind))
    if kind not in _BODY_KINDS:
        raise BadMessage(f"unknown kind {kind!r}")
    try:
        body = loads(payload[1:])
    except Exception as exc:  # any decoding failure is a bad message, never a crash
        raise BadMessage(f"undecodable {kind!r} body: {exc.__class__.__name__}: {exc}") from None
    if kind == HEARTBEAT and not isinstance(body, Heartbeat):
        raise BadMessage("HEARTBEAT body is not a Heartbeat")
    if kind == FINAL and not isinstance(body, FinalReport):
        raise BadMessage("FINAL body is not a FinalReport")
    if kind == FINAL and (why := _resting_error(body)):
        raise BadMessage(f"FINAL body: {why}")
    if kind == LOG and not isinstance(body, LogLine):
        raise BadMessage("LOG body is not a LogLine")
    if kind == RESTORE and not isinstance(body, dict):
        raise BadMessage("RESTORE body is not a dict of book states")
    if kind == ASSIGN and not isinstance(body, BrokerSpec):
        raise BadMessage("ASSIGN body is not a BrokerSpec")
    if kind == WATCH and not (isinstance(body, str) or _is_watch_all(body)):
        raise BadMessage("WATCH body is not a symbol, nor (symbol, budget)")
    if kind == TAPE and not (isinstance(body, tuple) and len(body) == 3 and isinstance(body[2], list)):
        raise BadMessage("TAPE body is not (symbol, skipped, orders)")
    if kind == HELLO and not isinstance(body, Hello):
        raise BadMessage("HELLO body is not a Hello")
    if kind == TAKEOVER and not isinstance(body, Takeover):
        raise BadMessage("TAKEOVER body is not a Takeover")
    if kind == CANCEL_ALL and not (
        isinstance(body, tuple) and len(body) == 2 and all(type(x) is int for x in body) and body[0] >= -1
    ):
        raise BadMessage("CANCEL_ALL body is not (account, upto)")
    if kind == COMMAND and not (isinstance(body, tuple) and len(body) == 2):
        raise BadMessage("COMMAND body is not (name, argument)")
    if kind == SNAPSHOT and not isinstance(body, Snapshot):
        raise BadMessage("SNAPSHOT body is not a Snapshot")
    return kind, body


def _resting_error(report: FinalReport) -> str | None:
    if not (isinstance(report.resting, bytes) and isinstance(report.resting_books, bytes)):
        return "resting orders are not bytes"
    return resting.shape_error(report.resting, report.resting_books)


def _is_watch_all(body: object) -> bool:
    """(symbol, budget): a WATCH of every book's tape, ``budget`` orders/s, finite and > 0."""
    return (
        isinstance(body, tuple)
        and len(body) == 2
        and isinstance(body[0], str)
        and type(body[1]) is float
        and 0.0 < body[1] < float("inf")
    )
