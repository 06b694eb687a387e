"""Unit tests for simulator.messages: the records that cross a process boundary and their bytes."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from simulator import messages as msg
from simulator import wire
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

ORDER_RECORDS = [(1, 3, 0, 1, 0, 0, 15_000, 100, 0), (2, 4, 0, 0, 2, 0, 0, 0, 1)]
EVENT_RECORDS = [(int(Event.ACK), 1), (int(Event.TRADE), 0, 1, 1, 7, 15_000, 100)]
ORDERS_BODY = wire.pack(ORDER_RECORDS, wire.ORDER_WIDTH)
EVENTS_BODY = (1, 5, wire.pack(EVENT_RECORDS, wire.EVENT_WIDTH))
HEARTBEAT = Heartbeat(
    index=1, pid=4242, orders=10, trades=3, consumed=2, bad_messages=0,
    book=("AAPL", ((15_000, 300, 2),), ((15_010, 100, 1),), 15_005),
)  # fmt: skip
FINAL = FinalReport(
    index=0, pid=4243, orders=10, trades=3, bad_messages=1,
    resting=wire.pack([(5, 100, 2, 14_990, 1)], 5), resting_books=wire.pack([(0, 1)], 2),
)  # fmt: skip
LOG_LINE = LogLine(index=1, level=30, logger="broker.1", text="inbox full: wait")
SPEC = BrokerSpec(index=2, name="broker-2", symbols=("AAPL", "MSFT"))
RECORDS = [HEARTBEAT, FINAL, LOG_LINE, SPEC]

ROUND_TRIPS = [
    (msg.WATCH, "AAPL"),
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


def test_orders_decode_to_a_flat_int64_view_of_whole_records():
    kind, body = decode(encode(msg.ORDERS, ORDERS_BODY))
    assert kind == msg.ORDERS
    assert body.format == "q" and len(body) == 2 * wire.ORDER_WIDTH
    assert wire.unpack(body, wire.ORDER_WIDTH) == ORDER_RECORDS
    assert decode(encode(msg.ORDERS, b""))[1].tolist() == []


def test_events_decode_to_their_header_and_a_flat_int64_view():
    kind, (index, consumed, records) = decode(encode(msg.EVENTS, EVENTS_BODY))
    assert (kind, index, consumed) == (msg.EVENTS, 1, 5)
    padded = [r + (0,) * (wire.EVENT_WIDTH - len(r)) for r in EVENT_RECORDS]
    assert wire.unpack(records, wire.EVENT_WIDTH) == padded
    assert wire.readable_events(padded, ["AAPL"]) == [(1, 1), (3, "AAPL", 1, 1, 7, 15_000, 100)]


def test_records_start_eight_byte_aligned_after_the_kind():
    payload = encode(msg.ORDERS, ORDERS_BODY)
    assert len(payload) == 8 + len(ORDERS_BODY)
    assert payload[8:] == ORDERS_BODY


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
    ("ORDERS of a pickle", encode(msg.ORDERS, pickle.dumps(ORDER_RECORDS))),
    ("ORDERS without padding", msg.ORDERS + ORDERS_BODY[:5]),
    ("WATCH of bytes", encode(msg.WATCH, b"AAPL")),
    ("WATCH of None", encode(msg.WATCH, None)),
    ("EVENTS without a header", msg.EVENTS + bytes(7) + bytes(8)),
    ("EVENTS truncated", encode(msg.EVENTS, EVENTS_BODY)[:-1]),
    ("EVENTS of a pickle", encode(msg.EVENTS, (1, 2, pickle.dumps(EVENT_RECORDS)))),
    ("HEARTBEAT of a FinalReport", encode(msg.HEARTBEAT, FINAL)),
    ("HEARTBEAT of a dict", encode(msg.HEARTBEAT, {"index": 1})),
    ("FINAL of a Heartbeat", encode(msg.FINAL, HEARTBEAT)),
    ("FINAL with a part record", encode(msg.FINAL, dataclasses.replace(FINAL, resting=FINAL.resting[:-8]))),
    ("FINAL miscounting its books", encode(msg.FINAL, dataclasses.replace(FINAL, resting_books=bytes(16)))),
    ("FINAL with resting tuples", encode(msg.FINAL, dataclasses.replace(FINAL, resting={"AAPL": []}))),
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


def test_a_shard_in_a_log_line_names_a_few_symbols_and_counts_them_all():
    small = msg.BrokerSpec(0, "broker-1", ("AAPL", "MSFT"))
    assert small.symbols_text() == "AAPL,MSFT"
    big = msg.BrokerSpec(0, "broker-1", tuple(f"S{i}" for i in range(100_000)))
    assert big.symbols_text() == "S0,S1,S2,S3,S4,S5,S6,S7,... (100,000 in all)"
    assert msg.BrokerSpec(1, "standby", ()).symbols_text() == "none yet"
