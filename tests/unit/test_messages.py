"""Unit tests for simulator.messages: the records that cross a process boundary and their bytes."""
from __future__ import annotations

import dataclasses
import pickle

import pytest

from simulator import messages as msg
from simulator.messages import (
    BadMessage,
    BrokerSpec,
    FinalReport,
    Heartbeat,
    LogLine,
    decode,
    encode,
)
from simulator.orders import Event

pytestmark = pytest.mark.timeout(60)

ORDERS_BODY = [(1, 3, "AAPL", 1, 0, 0, 15_000, 100, 0), (2, 4, "AAPL", 0, 2, 0, 0, 0, 1)]
EVENTS_BODY = (1, 5, [(int(Event.ACK), 1), (int(Event.TRADE), "AAPL", 1, 1, 7, 15_000, 100)])
HEARTBEAT = Heartbeat(
    index=1, pid=4242, orders=10, trades=3, consumed=2, bad_messages=0,
    book=("AAPL", ((15_000, 300, 2),), ((15_010, 100, 1),), 15_005),
)  # fmt: skip
FINAL = FinalReport(
    index=0, pid=4243, orders=10, trades=3, bad_messages=1,
    resting={"AAPL": [(5, 2, 1, 14_990, 100)], "MSFT": []},
)  # fmt: skip
LOG_LINE = LogLine(index=1, level=30, logger="broker.1", text="inbox full: wait")
SPEC = BrokerSpec(index=2, name="broker-2", symbols=("AAPL", "MSFT"))
RECORDS = [HEARTBEAT, FINAL, LOG_LINE, SPEC]

ROUND_TRIPS = [
    (msg.ORDERS, ORDERS_BODY),
    (msg.ORDERS, []),
    (msg.WATCH, "AAPL"),
    (msg.EVENTS, EVENTS_BODY),
    (msg.EVENTS, (0, 0, [])),
    (msg.HEARTBEAT, HEARTBEAT),
    (msg.HEARTBEAT, Heartbeat(index=0, pid=1, orders=0, trades=0, consumed=0, bad_messages=0)),
    (msg.FINAL, FINAL),
    (msg.FINAL, FinalReport(index=0, pid=1, orders=0, trades=0, bad_messages=0)),
    (msg.LOG, LOG_LINE),
    (msg.RESTORE, {"AAPL": msg.BookState(((3, 7, 1, 15_000, 200),), 12, 15_001, 40)}),
]


@pytest.mark.parametrize(("kind", "body"), ROUND_TRIPS, ids=lambda x: repr(x)[:20])
def test_every_kind_of_message_decodes_to_what_was_encoded(kind, body):
    payload = encode(kind, body)
    assert isinstance(payload, bytes)
    assert payload[:1] == kind
    assert decode(payload) == (kind, body)


def test_stop_is_a_single_byte_and_decodes_without_a_body():
    assert encode(msg.STOP) == msg.STOP
    assert len(msg.STOP) == 1
    assert decode(encode(msg.STOP)) == (msg.STOP, None)


def test_a_bytearray_message_decodes_too():
    assert decode(bytearray(encode(msg.WATCH, "MSFT"))) == (msg.WATCH, "MSFT")


def test_kinds_are_distinct_single_bytes():
    kinds = [msg.ORDERS, msg.WATCH, msg.RESTORE, msg.STOP, msg.EVENTS, msg.HEARTBEAT, msg.FINAL, msg.LOG]
    assert all(isinstance(k, bytes) and len(k) == 1 for k in kinds)
    assert len(set(kinds)) == len(kinds)


GARBAGE = [
    ("str", "O"),
    ("none", None),
    ("int", 7),
    ("list", [b"O"]),
    ("tuple", (msg.ORDERS, [])),
    ("memoryview", memoryview(b"S")),
    ("empty", b""),
    ("empty bytearray", bytearray()),
    ("unknown kind", b"Z" + pickle.dumps([])),
    ("lowercase kind", b"o" + pickle.dumps([])),
    ("kind without body", msg.ORDERS),
    ("garbage body", msg.ORDERS + b"\x80\x05not a pickle"),
    ("truncated body", encode(msg.ORDERS, ORDERS_BODY)[:-3]),
    ("ORDERS of a tuple", encode(msg.ORDERS, tuple(ORDERS_BODY))),
    ("ORDERS of None", encode(msg.ORDERS, None)),
    ("WATCH of bytes", encode(msg.WATCH, b"AAPL")),
    ("WATCH of None", encode(msg.WATCH, None)),
    ("EVENTS of a list", encode(msg.EVENTS, list(EVENTS_BODY))),
    ("EVENTS of a 2-tuple", encode(msg.EVENTS, (1, []))),
    ("HEARTBEAT of a FinalReport", encode(msg.HEARTBEAT, FINAL)),
    ("HEARTBEAT of a dict", encode(msg.HEARTBEAT, {"index": 1})),
    ("FINAL of a Heartbeat", encode(msg.FINAL, HEARTBEAT)),
    ("LOG of a str", encode(msg.LOG, "hello")),
    ("STOP with a body", msg.STOP + pickle.dumps(None)),
    ("STOP twice", msg.STOP + msg.STOP),
]


@pytest.mark.parametrize("payload", [g[1] for g in GARBAGE], ids=[g[0] for g in GARBAGE])
def test_anything_not_a_message_raises_bad_message(payload):
    with pytest.raises(BadMessage):
        decode(payload)


def test_bad_message_is_a_value_error_with_a_reason():
    with pytest.raises(ValueError, match="unknown kind"):
        decode(b"Z")


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_records_are_frozen(record):
    field = dataclasses.fields(record)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(record, field, 99)


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_records_survive_stdlib_pickle(record):
    for protocol in (2, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL):
        copy = pickle.loads(pickle.dumps(record, protocol))
        assert copy == record and type(copy) is type(record)


def test_broker_spec_defaults():
    assert SPEC.heartbeat_s > 0
    assert SPEC.log_level == 20
