"""Unit and property tests for simulator.flow: the seeded, open-loop order-flow generator."""
from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.flow import DAY_ORDER_LIFETIME, UNKNOWN_SYMBOL, OrderFlow
from simulator.orders import Order, OrderType, Side, TimeInForce

pytestmark = pytest.mark.timeout(60)

SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA")
LIMIT, MARKET, CANCEL = int(OrderType.LIMIT), int(OrderType.MARKET), int(OrderType.CANCEL)
DAY, IOC = int(TimeInForce.DAY), int(TimeInForce.IOC)


def flow(seed: int = 7, symbols=SYMBOLS, **kw) -> OrderFlow:
    return OrderFlow(symbols, seed=seed, **kw)


def news(orders):
    return [Order(*o) for o in orders if o[4] != CANCEL]


def cancels(orders):
    return [Order(*o) for o in orders if o[4] == CANCEL]


def chunked(f: OrderFlow, sizes) -> list[tuple]:
    out = []
    for n in sizes:
        out.extend(f.generate(n))
    return out


# -- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_identical_orders():
    assert flow(seed=42).generate(3000) == flow(seed=42).generate(3000)


def test_different_seeds_give_different_orders():
    assert flow(seed=1).generate(200) != flow(seed=2).generate(200)


def test_generating_1_then_7_then_992_equals_generating_1000_at_once():
    assert chunked(flow(), [1, 7, 992]) == flow().generate(1000)


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    sizes=st.lists(st.integers(0, 300), min_size=1, max_size=8),
)
def test_any_chunking_of_the_flow_gives_the_same_orders(seed, sizes):
    # one symbol so that DAY-order expiry cancels (after DAY_ORDER_LIFETIME) occur in long lists
    whole = flow(seed=seed, symbols=("ONLY",), invalid_ratio=0.05).generate(sum(sizes))
    assert chunked(flow(seed=seed, symbols=("ONLY",), invalid_ratio=0.05), sizes) == whole


def test_chunk_invariance_holds_across_day_order_expiry():
    total = 4 * DAY_ORDER_LIFETIME
    whole = flow(seed=3, symbols=("ONLY",), cancel_ratio=0.0).generate(total)
    assert cancels(whole)  # without random cancels, these are all expiries
    pieces = chunked(flow(seed=3, symbols=("ONLY",), cancel_ratio=0.0), [1] * 100 + [total - 100])
    assert pieces == whole


def test_the_flow_uses_no_global_random(monkeypatch):
    expected = chunked(flow(seed=11), [500, 500])

    f = flow(seed=11)
    random.seed(1)
    first = f.generate(500)
    random.seed(2)
    second = f.generate(500)
    assert first + second == expected

    def forbidden(*_a, **_k):
        raise AssertionError("the global random module was used")

    for name in ("random", "randrange", "randint", "choice", "uniform", "shuffle", "getrandbits"):
        monkeypatch.setattr(random, name, forbidden)
    assert chunked(flow(seed=11), [500, 500]) == expected


# -- shape of the stream ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 13, 2000])
def test_generate_n_returns_exactly_n_new_orders_plus_cancels(n):
    orders = flow(cancel_ratio=0.3).generate(n)
    assert len(news(orders)) == n
    assert len(orders) >= n


def test_order_ids_are_consecutive_from_1_across_calls():
    f = flow(cancel_ratio=0.3)
    orders = chunked(f, [10, 0, 300, 1, 700])
    assert [o[0] for o in orders] == list(range(1, len(orders) + 1))
    assert f.next_oid == len(orders) + 1


def test_cancels_occur_in_the_flow():
    assert len(cancels(flow(cancel_ratio=0.2).generate(2000))) > 100


def test_every_cancel_names_an_earlier_day_limit_order_of_the_same_symbol_once():
    f = flow(seed=5, cancel_ratio=0.2, invalid_ratio=0.02)
    orders = [Order(*o) for o in f.generate(20_000)]
    by_id = {o.oid: o for o in orders}
    targets = Counter()
    for c in (o for o in orders if o.otype == CANCEL):
        target = by_id.get(c.target)
        assert target is not None and target.oid < c.oid, c
        assert target.otype == LIMIT and target.tif == DAY, (c, target)
        assert target.symbol == c.symbol, (c, target)
        assert target.account == c.account, (c, target)
        assert target.qty > 0 and target.price > 0, (c, target)  # never an invalid order
        targets[c.target] += 1
    assert targets and max(targets.values()) == 1


def test_a_day_order_is_expired_once_its_symbol_has_lifetime_newer_ones():
    # no random cancels: every cancel is an expiry, of an order at least LIFETIME DAY orders old
    orders = [Order(*o) for o in flow(seed=9, symbols=("ONLY",), cancel_ratio=0.0).generate(5000)]
    day_ids = [o.oid for o in orders if o.otype == LIMIT and o.tif == DAY]  # ascending
    expiries = [o for o in orders if o.otype == CANCEL]
    assert expiries
    for c in expiries:
        assert c.target in day_ids
        newer = bisect_left(day_ids, c.oid) - bisect_right(day_ids, c.target)
        assert newer >= DAY_ORDER_LIFETIME, (c, newer)


def test_valid_limit_prices_are_positive_int_ticks():
    for o in news(flow(seed=13, invalid_ratio=0.0).generate(20_000)):
        assert type(o.price) is int and type(o.qty) is int
        if o.otype == LIMIT:
            assert o.price > 0
        else:
            assert o.otype == MARKET and o.price == 0 and o.tif == IOC
        assert o.qty > 0 and o.qty % 100 == 0
        assert o.side in (int(Side.BUY), int(Side.SELL))
        assert 0 <= o.account < 100
        assert o.symbol in SYMBOLS
        assert o.target == 0


def test_a_flow_needs_a_symbol():
    with pytest.raises(ValueError):
        OrderFlow((), seed=1)


# -- ratios ---------------------------------------------------------------------------------------

N = 50_000
TOL = 0.03


@pytest.fixture(scope="module")
def big_flow():
    f = flow(seed=2024, market_ratio=0.2, ioc_ratio=0.3, cancel_ratio=0.1, invalid_ratio=0.0)
    return news(f.generate(N))


def test_market_orders_are_about_market_ratio_of_new_orders(big_flow):
    share = sum(o.otype == MARKET for o in big_flow) / N
    assert share == pytest.approx(0.2, abs=TOL)


def test_ioc_orders_are_about_ioc_ratio_of_limit_orders(big_flow):
    limits = [o for o in big_flow if o.otype == LIMIT]
    share = sum(o.tif == IOC for o in limits) / len(limits)
    assert share == pytest.approx(0.3, abs=TOL)


def test_cancels_are_about_cancel_ratio_of_messages_before_any_day_order_expires():
    # 200 symbols share 50k orders: no symbol reaches DAY_ORDER_LIFETIME DAY orders, so every
    # cancel is a random one
    symbols = tuple(f"S{i}" for i in range(200))
    assert N / len(symbols) < DAY_ORDER_LIFETIME
    orders = flow(seed=4, symbols=symbols, cancel_ratio=0.25).generate(N)
    assert len(cancels(orders)) / len(orders) == pytest.approx(0.25, abs=TOL)


def test_buys_and_sells_are_balanced(big_flow):
    assert sum(o.side == int(Side.BUY) for o in big_flow) / N == pytest.approx(0.5, abs=TOL)


def test_every_symbol_gets_orders(big_flow):
    counts = Counter(o.symbol for o in big_flow)
    assert set(counts) == set(SYMBOLS)
    for n in counts.values():
        assert n / N == pytest.approx(1 / len(SYMBOLS), abs=TOL)


def is_invalid(o: Order) -> bool:
    return o.qty <= 0 or (o.otype == LIMIT and o.price <= 0) or o.symbol == UNKNOWN_SYMBOL


def test_invalid_ratio_zero_gives_no_invalid_orders(big_flow):
    assert not [o for o in big_flow if is_invalid(o)]


def test_invalid_ratio_gives_each_kind_of_invalid_order_at_about_that_share():
    ratio = 0.09
    orders = news(flow(seed=8, invalid_ratio=ratio).generate(N))
    zero_qty = [o for o in orders if o.qty <= 0]
    negative_price = [o for o in orders if o.price < 0]
    unknown = [o for o in orders if o.symbol == UNKNOWN_SYMBOL]
    assert sum(map(is_invalid, orders)) / N == pytest.approx(ratio, abs=0.01)
    for kind in (zero_qty, negative_price, unknown):
        assert len(kind) / N == pytest.approx(ratio / 3, abs=0.01)
    # one flaw per invalid order, so each shows one clear reject reason
    assert not {o.oid for o in zero_qty} & {o.oid for o in negative_price}
    assert all(o.otype == LIMIT for o in negative_price)
    assert UNKNOWN_SYMBOL not in SYMBOLS


def test_cancel_ratio_zero_and_one_symbol_short_run_gives_no_cancels():
    f = flow(seed=1, symbols=("ONLY",), cancel_ratio=0.0)
    assert not cancels(f.generate(DAY_ORDER_LIFETIME))
