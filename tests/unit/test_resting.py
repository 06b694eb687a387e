"""Unit tests for simulator.resting: a broker's resting orders as flat int64 records."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from simulator import messages as msg
from simulator import resting, wire
from simulator.broker import Broker
from simulator.config import config_from_args
from simulator.flow import OrderFlow
from simulator.order_types import stp_index

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parents[2]


def flowed_broker(*flags: str, batches: int = 40) -> tuple[Broker, tuple[str, ...]]:
    """A broker holding every symbol after ``batches`` of the seeded flow (every order type)."""
    config = config_from_args(["--headless", "--seed", "3", *flags])
    symbols = tuple(config.symbols)
    flow = OrderFlow.from_config(config)
    broker = Broker(msg.BrokerSpec(0, "b", symbols, tuple(range(len(symbols))), stp=stp_index(config.stp)))
    for _ in range(batches):
        broker.handle_orders(flow.generate(256).ravel().tolist(), [])
    return broker, symbols


@pytest.mark.parametrize(
    "flags",
    [(), ("--symbols", "300"), ("--stp", "cancel-oldest", "--iceberg-ratio", "0.3")],
    ids=["8 symbols", "300 symbols", "icebergs and self-trade prevention"],
)
def test_the_records_are_every_book_s_resting_orders(flags):
    broker, symbols = flowed_broker(*flags)
    data, books = resting.pack(broker.books.values())
    assert resting.shape_error(data, books) is None
    listed = resting.tuples(data, books, symbols)
    # the same orders as the readable listing, each book's in arrival order rather than priority
    expected = {s: sorted(b.resting()) for s, b in broker.books.items() if b.order_count}
    assert {s: sorted(rows) for s, rows in listed.items()} == expected
    assert sum(len(rows) for rows in expected.values()) > 100


def test_icebergs_are_listed_with_their_hidden_shares():
    broker, symbols = flowed_broker("--iceberg-ratio", "0.8", batches=4)
    data, books = resting.pack(broker.books.values())
    icebergs = [e for b in broker.books.values() for e in b._index.values() if len(e) > 5]
    assert icebergs, "the flow made no iceberg"
    rec = {r[0]: r for r in resting.records(data).tolist()}
    for e in icebergs:
        assert rec[e[0]][resting.LEAVES] == e[1] + e[5]


def test_only_the_wanted_books_are_read():
    broker, symbols = flowed_broker("--symbols", "50")
    data, books = resting.pack(broker.books.values())
    listed = resting.tuples(data, books, symbols, wanted=[3, 7])
    assert set(listed) == {symbols[3], symbols[7]} & {s for s, b in broker.books.items() if b.order_count}


def test_leaves_by_id_takes_the_records_and_the_held_stops():
    data = wire.pack([(5, 100, 2, 14_990, 1), (9, 30, 4, 15_010, -1)], resting.RESTING_WIDTH)
    held = {"AAPL": [(11, 2, 1, 2, 0, 15_100, 40, 15_050)]}
    ids, leaves = resting.leaves_by_id([(data, held), (b"", {})])
    assert (ids.tolist(), leaves.tolist()) == ([5, 9, 11], [100, 30, 40])


@pytest.mark.parametrize(
    ("data", "books", "why"),
    [
        (bytes(8 * 5 + 8), wire.pack([(0, 1)], 2), "not whole records"),
        (bytes(8 * 5), bytes(8), "not whole"),
        (bytes(8 * 5), wire.pack([(0, 2)], 2), "do not count"),
        (bytes(8 * 5), wire.pack([(0, 1), (1, 0)], 2), "no order"),
    ],
)
def test_a_malformed_listing_says_why(data, books, why):
    error = resting.shape_error(data, books)
    assert error is not None and why in error


def test_a_broker_does_not_load_numpy():
    # each broker process would carry it (about 3.5 MiB of RSS) only to list what rests
    code = "import sys, simulator.broker; sys.exit('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60)
    assert done.returncode == 0
