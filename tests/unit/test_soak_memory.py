"""What keeps the bank's memory flat over a long run with restarts: a restart's books made from
arrays (the broker's books exactly, with one tuple per resting order and nothing more), and the
heap's free pages handed back (``processes.trim_malloc``)."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator import processes, wire
from simulator.broker import Broker
from simulator.flow import OrderFlow
from simulator.flow_types import TypeShares
from simulator.ledger import Ledger
from simulator.messages import BrokerSpec
from simulator.series import Series
from simulator.stats import LatencyHistogram

SYMBOLS = ("AAA", "BBB", "CCC")
TYPES = TypeShares(stop=0.1, iceberg=0.1, amend=0.1)


def _broker_events(broker: Broker, records: np.ndarray) -> np.ndarray:
    out: list[int] = []
    broker.handle_orders(np.asarray(records, np.int64).reshape(-1).tolist(), out)
    return np.array(out, np.int64).reshape(-1, wire.EVENT_WIDTH)


def _run(seed: int, batches: int, per_batch: int = 500) -> tuple[Ledger, Broker]:
    """A flow with stops, icebergs and amends through one broker into a ledger."""
    flow = OrderFlow(SYMBOLS, seed=seed, accounts=5, cancel_ratio=0.2, types=TYPES)
    broker = Broker(BrokerSpec(0, "broker-0", SYMBOLS, tuple(range(len(SYMBOLS)))))
    ledger = Ledger(SYMBOLS, 5)
    latency = LatencyHistogram()
    for b in range(batches):
        rows = flow.generate(per_batch)
        ledger.place(rows, b * 1_000_000, 40_000)
        ledger.apply(_broker_events(broker, rows), b * 1_000_000 + 500_000, latency)
    return ledger, broker


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_a_restarts_books_are_the_brokers_books_in_priority_order(seed):
    ledger, broker = _run(seed, 40)
    states = ledger.book_states(SYMBOLS)
    assert list(states) == list(SYMBOLS)
    some_icebergs = some_held = 0
    for symbol, (records, match_seq, last_price, _max_oid, held_records) in states.items():
        assert isinstance(records, bytes) and isinstance(held_records, bytes)  # no tuple per order
        resting, held = wire.resting_orders(records), wire.held_stops(held_records)
        book = broker.books[symbol]
        entries, stops = book.state()
        assert list(resting) == list(entries)  # the same orders, in the same priority
        assert sorted(held) == sorted(stops)
        assert match_seq == book.match_seq and last_price == book.last_price
        assert all(type(x) is int for order in resting for x in order)  # as the broker checks them
        some_icebergs += sum(len(o) == 7 for o in resting)
        some_held += len(held)
    assert some_icebergs and some_held, "the flow made no resting iceberg or held stop to check"


def test_a_restarts_books_make_no_small_object_per_order():
    """The burst a restart makes, every few seconds of a soak: a per-order key, list and tuple
    each (nine small objects an order at the peak), then a tuple and its ints per order sent,
    left arenas behind that the interpreter could not give back. Now the books are sent as
    int64 records: the peak is a few arrays and objects per book. The peak is read at every
    call and return inside (``sys.setprofile``)."""
    ledger, _broker = _run(3, 120)
    resting = ledger.working
    assert resting > 400
    ledger.book_states(SYMBOLS)  # warm: imports, caches
    gc.collect()
    base = sys.getallocatedblocks()
    top = base

    def watch(_frame, _event, _arg) -> None:
        nonlocal top
        top = max(top, sys.getallocatedblocks())

    sys.setprofile(watch)
    try:
        states = ledger.book_states(SYMBOLS)
    finally:
        sys.setprofile(None)
    kept = sys.getallocatedblocks() - base  # the states: what the broker is sent
    orders = sum(
        len(s[0]) // (8 * wire.RESTORE_WIDTH) + len(s[4]) // (8 * wire.HELD_WIDTH) for s in states.values()
    )
    assert orders == resting
    # the records are bytes: some objects per book, none per order (as tuples: 1.4 an order)
    assert kept < 50 * len(states), f"{kept} blocks kept for {resting} orders"
    assert (top - base - kept) / resting < 0.2, f"{(top - base - kept) / resting:.2f} blocks an order beyond"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim, Linux's statm")
def test_trimming_gives_back_the_free_pages_in_the_middle_of_the_heap():
    """Blocks below the mmap threshold come from the heap; free ones between live ones stay
    resident (the trim threshold only trims the top) until ``trim_malloc``."""
    page = 4096

    def resident() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * page

    processes.steady_malloc()
    blocks, pins = [], []
    for _ in range(400):  # 400 x 64 KiB = 25 MiB of heap, each block followed by a live pin
        blocks.append(bytearray(64 * 1024))
        pins.append(bytearray(600))
    for b in blocks:
        b[::page] = b"x" * len(b[::page])  # touched: resident
    del blocks[:]  # freed, but between the pins: not at the heap's top
    before = resident()
    if not processes.trim_malloc():
        pytest.skip("not glibc")
    after = resident()
    assert before - after > 10 * 2**20, f"only {(before - after) / 2**20:.1f} MiB given back"
    assert len(pins) == 400


def test_a_latency_histogram_keeps_no_python_object_per_bucket():
    """A dict of counts made a new int at every record, and the tail's counts lived for the run
    wherever they were made (each keeping an arena of the interpreter's from being given back)."""
    histogram = LatencyHistogram()
    values = [int(1.03**k) for k in range(700)]  # some 500 buckets, from 1 us to 10**9 us
    gc.collect()
    base = sys.getallocatedblocks()
    for v in values:
        histogram.record(v, 1000)  # counts past the interpreter's cached small ints
    kept = sys.getallocatedblocks() - base
    assert len(histogram.counts) > 400
    assert kept < 20, f"{kept} objects kept for {len(histogram.counts)} buckets"
    median = sorted(values)[349]  # the 350th of 700, each recorded as often
    assert histogram.percentile(50) == LatencyHistogram.bucket_top(LatencyHistogram.bucket_of(median))


def test_the_reports_rows_keep_no_python_object_per_row():
    """One row a second for the whole run: a dict of ints each, spread over the interpreter's
    arenas, kept them all (arrays now, grown by doubling)."""
    series = Series(LatencyHistogram())
    series.sample(1.0, {"placed": 1}, {})  # the first row: the arrays' first size
    gc.collect()
    base = sys.getallocatedblocks()
    for second in range(2, 60):
        series.sample(float(second), {"placed": 1000 * second}, {"resting": 5000 + second})
    assert len(series) == 59
    assert sys.getallocatedblocks() - base < 20
    assert series.rows[-1]["resting"] == 5059 and series.rows[-1]["placed"] == 1000
