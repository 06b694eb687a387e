"""Transport ceilings, measured with the simulator's own pipes, pool and encoding.

``echo_orders_per_s``: the bank side sends ORDERS batches through ``BrokerPool`` (credit-bounded
inbox pipes, int64 order records) to echo brokers that answer each order with an ACK;
no flow generation, no matching, no ledger. ``queue_one_per_put_per_s``: the classic way, one
order tuple per ``multiprocess.Queue.put`` to one consumer process.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # echo_broker, for the children
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import multiprocess  # noqa: E402
from cherrypy.process import wspbus  # noqa: E402

from simulator import messages as msg  # noqa: E402
from simulator import wire  # noqa: E402
from simulator.channel import ChannelFull, ChannelGone  # noqa: E402
from simulator.config import SimConfig  # noqa: E402
from simulator.flow import OrderFlow  # noqa: E402
from simulator.pool import BrokerPool  # noqa: E402


def echo_orders_per_s(brokers: int = 2, batch: int = 256, seconds: float = 3.0, raw: bool = False) -> float:
    """ACKs/s through the pool to echo brokers that handle the records as a broker does, or
    (``raw``) that only copy bytes; see echo_broker.py."""
    from echo_broker import echo_main, echo_raw_main

    acked = [0]

    def on_message(_index, kind, body):
        if kind == msg.EVENTS:
            acked[0] += len(body[2]) // wire.EVENT_WIDTH

    specs = [msg.BrokerSpec(i, f"echo-{i + 1}", ()) for i in range(brokers)]
    # the simulator's own inbox depth: the same transport, only the work at each end differs
    pool = BrokerPool(
        wspbus.Bus(),
        specs,
        inbox_batches=SimConfig().inbox_batches,
        on_message=on_message,
        target=echo_raw_main if raw else echo_main,
    )
    pool.start()
    try:
        flow = OrderFlow(("AAPL", "MSFT", "NVDA", "TSLA"), seed=1)
        batches = [flow.generate(batch) for _ in range(64)]  # made once: flow cost excluded
        sent = i = 0
        t0 = time.perf_counter()
        deadline = t0 + seconds
        while time.perf_counter() < deadline:
            progressed = False
            for k in range(brokers):
                chunk = batches[i % len(batches)]
                if _offer(pool.channel(k), msg.encode(msg.ORDERS, chunk.tobytes())):  # as the bank
                    sent += len(chunk)
                    i += 1
                    progressed = True
            pool.poll(0.0 if progressed else 0.001)
        elapsed = time.perf_counter() - t0
        rate = acked[0] / elapsed
        for k in range(brokers):
            while not _offer(pool.channel(k), msg.STOP):
                pool.poll(0.01)
        while any(b.final is None and b.live for b in pool.brokers):
            pool.poll(0.05)
        return rate
    finally:
        pool.stop()


def _offer(channel, payload: bytes) -> bool:
    """Send if the broker has room, as the bank does; False when full (or gone)."""
    try:
        channel.send(payload)
    except (ChannelFull, ChannelGone):
        return False
    return True


def _consume(q, ready, n):
    ready.set()
    for _ in range(n):
        q.get()


def queue_one_per_put_per_s(n: int = 100_000) -> float:
    ctx = multiprocess.get_context("spawn")
    q = ctx.Queue()
    ready = ctx.Event()
    p = ctx.Process(target=_consume, args=(q, ready, n))
    p.start()
    order = (1, 7, "AAPL", 1, 0, 0, 15_000, 100, 0)
    try:
        ready.wait(60)  # only the transfer is timed, not the child's start-up
        t0 = time.perf_counter()
        for _ in range(n):
            q.put(order)
        p.join()
        return n / (time.perf_counter() - t0)
    finally:
        if p.is_alive():
            p.kill()
            p.join()


if __name__ == "__main__":
    print(f"echo ceiling, 2 brokers: {echo_orders_per_s():,.0f} orders/s")
    print(f"raw pipe echo, 2 brokers: {echo_orders_per_s(raw=True):,.0f} orders/s")
    print(f"multiprocess.Queue, one order per put: {queue_one_per_put_per_s():,.0f} orders/s")
