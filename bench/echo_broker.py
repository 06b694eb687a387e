"""An echo broker for the transport ceiling: the simulator's protocol and encoding, no matching.

It reads ORDERS batches from its inbox pipe exactly as a broker does, answers every order with
one ACK, and sends the events back encoded the same way; heartbeats, credit counts, STOP and
the final report follow the real protocol, so ``BrokerPool`` drives it unchanged.
"""
from __future__ import annotations

import os
import signal

from simulator import messages as msg

_ACK = 1


def echo_main(spec: msg.BrokerSpec, inbox, results) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGHUP, signal.SIGTERM})
    consumed = orders = 0

    def beat():
        return msg.Heartbeat(spec.index, os.getpid(), orders, 0, consumed, 0)

    results.send_bytes(msg.encode(msg.HEARTBEAT, beat()))
    while True:
        if not inbox.poll(0.05):
            results.send_bytes(msg.encode(msg.HEARTBEAT, beat()))
            continue
        events = []
        stop = False
        for _ in range(64):
            kind, body = msg.decode(inbox.recv_bytes())
            consumed += 1
            if kind == msg.STOP:
                stop = True
                break
            if kind == msg.ORDERS:
                orders += len(body)
                events.extend([(_ACK, o[0]) for o in body])
            if not inbox.poll():
                break
        if events:
            results.send_bytes(msg.encode(msg.EVENTS, (spec.index, consumed, events)))
        if stop:
            final = msg.FinalReport(spec.index, os.getpid(), orders, 0, 0, {})
            results.send_bytes(msg.encode(msg.FINAL, final))
            results.close()
            return
