"""Unit tests for the bank's routing: each symbol to one broker, the same in every process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import wire
from simulator.config import DEFAULT_SYMBOLS, generated_symbols
from simulator.routing import Routing, assign_symbols, stable_hash

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[2]
tickers = st.lists(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.", min_size=1, max_size=8),
    min_size=1,
    max_size=60,
    unique=True,
)


def check_partition(symbols, brokers: int) -> list[tuple[str, ...]]:
    groups = assign_symbols(symbols, brokers)
    assert len(groups) == brokers
    assigned = Counter(s for g in groups for s in g)
    assert assigned == Counter(symbols)  # every symbol, each to exactly one broker
    sizes = [len(g) for g in groups]
    assert max(sizes) - min(sizes) <= 1, sizes
    return groups


@pytest.mark.parametrize("brokers", [1, 2, 3, 7, 8, 9, 20])
def test_every_default_symbol_goes_to_exactly_one_broker_and_loads_are_balanced(brokers):
    check_partition(DEFAULT_SYMBOLS, brokers)


@settings(max_examples=50, deadline=None)
@given(symbols=tickers, brokers=st.integers(1, 16))
def test_any_symbols_are_partitioned_evenly(symbols, brokers):
    check_partition(symbols, brokers)


def test_a_thousand_generated_symbols_are_partitioned_evenly():
    groups = check_partition(generated_symbols(1000), 7)
    assert sorted(len(g) for g in groups) == [142] * 1 + [143] * 6


def test_the_assignment_is_the_same_on_every_call():
    assert assign_symbols(DEFAULT_SYMBOLS, 3) == assign_symbols(DEFAULT_SYMBOLS, 3)


@settings(max_examples=50, deadline=None)
@given(data=st.data(), symbols=tickers, brokers=st.integers(1, 8))
def test_the_assignment_ignores_the_order_symbols_are_given_in(data, symbols, brokers):
    shuffled = data.draw(st.permutations(symbols))
    assert assign_symbols(shuffled, brokers) == assign_symbols(symbols, brokers)


def test_stable_hash_is_a_non_negative_int_that_differs_between_names():
    hashes = {stable_hash(s) for s in generated_symbols(500)}
    assert all(isinstance(h, int) and h >= 0 for h in hashes)
    assert len(hashes) == 500


SCRIPT = """
import json, sys
import numpy as np

from simulator import wire
from simulator.routing import Routing, assign_symbols, stable_hash
names = sys.argv[1:]
print(json.dumps({"stable": [stable_hash(s) for s in names], "salted": [hash(s) for s in names],
                  "groups": assign_symbols(names, 3)}))
"""


def run_with_hash_seed(seed: str, names) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *names],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout)


def test_stable_hash_and_assignment_are_the_same_whatever_the_hash_seed():
    names = list(DEFAULT_SYMBOLS) + ["BRK.B", "X"]
    one = run_with_hash_seed("1", names)
    two = run_with_hash_seed("2", names)
    assert one["salted"] != two["salted"]  # the salt did change between the two interpreters
    assert one["stable"] == two["stable"] == [stable_hash(s) for s in names]
    expected = [list(g) for g in assign_symbols(names, 3)]
    assert one["groups"] == two["groups"] == expected


def orders_for(syms: list[int]) -> np.ndarray:
    orders = np.zeros((len(syms), wire.ORDER_WIDTH), np.int64)
    orders[:, 0] = np.arange(1, len(syms) + 1)  # order ids: placement order
    orders[:, 2] = syms
    return orders


@given(tickers, st.integers(1, 8), st.lists(st.integers(-1, 59), min_size=1, max_size=200))
@settings(max_examples=100, deadline=None)
def test_routing_sends_each_order_to_its_symbols_broker_in_placement_order(symbols, brokers, raw):
    routing = Routing(symbols, brokers)
    syms = [s if s < len(symbols) else -1 for s in raw]
    parts = routing.split(orders_for(syms))
    assert sum(map(len, parts)) == len(syms)
    for index, part in enumerate(parts):
        assert list(part[:, 0]) == sorted(part[:, 0])  # each broker sees its orders in order
        for sym in part[:, 2].tolist():
            assert sym in routing.wire_syms(index)
            if sym >= 0:
                assert symbols[sym] in routing.shards[index]


def test_orders_for_a_symbol_nobody_trades_go_to_the_first_broker_which_answers_them():
    routing = Routing(("AAPL", "MSFT", "NVDA"), 3)
    parts = routing.split(orders_for([wire.UNKNOWN_SYM, 0, wire.UNKNOWN_SYM]))
    assert list(parts[0][:, 0]).count(1) == 1 and 3 in parts[0][:, 0]
    assert wire.UNKNOWN_SYM in routing.wire_syms(0)
    assert all(wire.UNKNOWN_SYM not in routing.wire_syms(i) for i in (1, 2))
    # one order at a time (the path of a set rate) routes the same as a whole array
    assert [len(p) for p in routing.split(orders_for([wire.UNKNOWN_SYM]))] == [1, 0, 0]
    assert routing.broker_of_sym(99) == 0


def test_the_shards_and_their_wire_indexes_agree_with_the_run_symbol_list():
    symbols = ("AAPL", "MSFT", "NVDA", "TSLA", "AMZN")
    routing = Routing(symbols, 2)
    assert routing.shards == assign_symbols(symbols, 2)
    for index, shard in enumerate(routing.shards):
        assert [symbols[i] for i in routing.symbol_ids(index)] == list(shard)
        assert all(routing.broker_of[s] == index for s in shard)


@pytest.mark.parametrize("brokers", [1, 2, 3, 7])
def test_symbols_are_dealt_in_the_order_of_their_stable_hash_then_name(brokers):
    symbols = generated_symbols(5_000) + ("ZZZZZ", "A", "")
    ordered = sorted(symbols, key=lambda s: (stable_hash(s), s))  # the rule, as the docstring says
    assert assign_symbols(symbols, brokers) == [tuple(ordered[i::brokers]) for i in range(brokers)]
    routing = Routing(symbols, brokers)
    assert routing.shards == assign_symbols(symbols, brokers)
    assert [routing.broker_of_sym(i) for i in range(len(symbols))] == [routing.broker_of[s] for s in symbols]
