"""Echo brokers for the transport ceiling: the simulator's protocol and encoding, no matching.

They read ORDERS batches from the inbox pipe exactly as a broker does, answer every order with
one ACK, and send the events back encoded the same way (int64 records, see
``simulator/wire.py``); heartbeats, credit counts, STOP and the final report follow the real
protocol, so ``BrokerPool`` drives them unchanged.

``echo_main`` handles the records as a broker does: the batch becomes Python ints, each order
its ACK record in a flat list, the list is packed with struct. That is the ceiling the
simulator is measured against: everything but matching. ``echo_raw_main`` writes the ACKs with
strided memoryview copies (each order's oid into place 1 of its event record, a 1 into place
0), so no Python int is made per order: the pipes and the pool alone.
"""

from __future__ import annotations

import os
import struct
from array import array

from simulator import messages as msg
from simulator import processes
from simulator.wire import EVENT_SIZE, EVENT_WIDTH, ORDER_WIDTH

_ACK = 1
_ONES = memoryview(array("q", [_ACK]) * 4096)  # the kind column of up to 4096 ACK records


def ack_records(orders: memoryview) -> bytearray:
    """One ACK event record per order record of a decoded ORDERS body (a 'q' memoryview)."""
    n = len(orders) // ORDER_WIDTH
    records = bytearray(n * EVENT_SIZE)  # zeros: the unused places of an ACK
    events = memoryview(records).cast("q")
    ones = _ONES if n <= len(_ONES) else memoryview(array("q", [_ACK]) * n)
    events[0::EVENT_WIDTH] = ones[:n]
    events[1::EVENT_WIDTH] = orders[0::ORDER_WIDTH]  # oid is the first field of an order
    return records


def ack_records_as_a_broker(orders: memoryview) -> bytes:
    """The same ACKs made the broker's way: ints out of the batch, a flat list, struct.pack."""
    out: list = []
    flat = orders.tolist()
    for oid in flat[0::ORDER_WIDTH]:
        out += (_ACK, oid, 0, 0, 0, 0, 0)
    return struct.pack(f"{len(out)}q", *out)


def echo_main(spec: msg.BrokerSpec, inbox, results) -> None:
    """Echo handling the records as a broker does (see the module doc)."""
    _echo(spec, inbox, results, ack_records_as_a_broker)


def echo_raw_main(spec: msg.BrokerSpec, inbox, results) -> None:
    """Echo copying bytes only (see the module doc)."""
    _echo(spec, inbox, results, ack_records)


def _echo(spec: msg.BrokerSpec, inbox, results, answer) -> None:
    processes.enter_child()
    consumed = orders = 0

    def beat():
        return msg.Heartbeat(spec.index, os.getpid(), orders, 0, consumed, 0)

    results.send_bytes(msg.encode(msg.HEARTBEAT, beat()))
    while True:
        if not inbox.poll(0.05):
            results.send_bytes(msg.encode(msg.HEARTBEAT, beat()))
            continue
        parts = []
        stop = False
        for _ in range(64):
            kind, body = msg.decode(inbox.recv_bytes())
            consumed += 1
            if kind == msg.STOP:
                stop = True
                break
            if kind == msg.ORDERS:
                orders += len(body) // ORDER_WIDTH
                parts.append(answer(body))
            if not inbox.poll():
                break
        if parts:
            records = parts[0] if len(parts) == 1 else b"".join(parts)
            results.send_bytes(msg.encode(msg.EVENTS, (spec.index, consumed, records)))
        if stop:
            final = msg.FinalReport(spec.index, os.getpid(), orders, 0, 0)
            results.send_bytes(msg.encode(msg.FINAL, final))
            results.close()
            return
