"""Unit and property tests for simulator.flow: the seeded, open-loop order-flow generator."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import wire
from simulator.book import OrderBook
from simulator.flow import _BLOCK, DAY_ORDER_LIFETIME, UNKNOWN_SYMBOL, OrderFlow, as_tuples
from simulator.orders import OrderType, Side, TimeInForce

pytestmark = pytest.mark.timeout(60)

SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA")
LIMIT, MARKET, CANCEL = int(OrderType.LIMIT), int(OrderType.MARKET), int(OrderType.CANCEL)
DAY, IOC = int(TimeInForce.DAY), int(TimeInForce.IOC)
OID, ACCOUNT, SYM, SIDE, OTYPE, TIF, PRICE, QTY, TARGET = range(wire.ORDER_WIDTH)


def flow(seed: int = 7, symbols=SYMBOLS, **kw) -> OrderFlow:
    return OrderFlow(symbols, seed=seed, **kw)


def news(rows: np.ndarray) -> np.ndarray:
    return rows[rows[:, OTYPE] != CANCEL]


def cancels(rows: np.ndarray) -> np.ndarray:
    return rows[rows[:, OTYPE] == CANCEL]


def chunked(f: OrderFlow, sizes) -> np.ndarray:
    return np.concatenate([f.generate(n) for n in sizes])


def candidates(rows: np.ndarray) -> np.ndarray:
    """Valid LIMIT DAY orders: what a cancel may target."""
    o = rows
    return o[
        (o[:, OTYPE] == LIMIT)
        & (o[:, TIF] == DAY)
        & (o[:, QTY] > 0)
        & (o[:, PRICE] > 0)
        & (o[:, SYM] != wire.UNKNOWN_SYM)
    ]


def ages(rows: np.ndarray) -> np.ndarray:
    """For each cancel in ``rows``: how many DAY orders of its symbol (candidates) came after its
    target, up to the cancel."""
    cs, cands = cancels(rows), candidates(rows)
    out = np.empty(len(cs), np.int64)
    for s in np.unique(cs[:, SYM]):
        oids = cands[cands[:, SYM] == s, OID]  # ascending
        mine = cs[:, SYM] == s
        out[mine] = np.searchsorted(oids, cs[mine, OID]) - np.searchsorted(
            oids, cs[mine, TARGET], side="right"
        )
    return out


# -- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_identical_orders():
    assert np.array_equal(flow(seed=42).generate(3000), flow(seed=42).generate(3000))


def test_different_seeds_give_different_orders():
    a, b = flow(seed=1).generate(200), flow(seed=2).generate(200)
    assert a.shape != b.shape or not np.array_equal(a, b)


def test_generating_1_then_7_then_992_equals_generating_1000_at_once():
    assert np.array_equal(chunked(flow(), [1, 7, 992]), flow().generate(1000))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    sizes=st.lists(st.integers(0, 3 * _BLOCK // 2), min_size=1, max_size=6),
)
def test_any_chunking_of_the_flow_gives_the_same_orders(seed, sizes):
    # one symbol so that DAY-order expiry cancels (after DAY_ORDER_LIFETIME) occur in long runs;
    # chunks up to 1.5 blocks so that chunks straddle the flow's internal blocks
    def make():
        return flow(seed=seed, symbols=("ONLY",), invalid_ratio=0.05)

    assert np.array_equal(chunked(make(), sizes), make().generate(sum(sizes)))


@pytest.mark.parametrize(
    "sizes",
    [
        [1] * 100 + [3 * _BLOCK],
        [_BLOCK - 1, 1, 1, _BLOCK - 1, 5],
        [_BLOCK, _BLOCK, 0, 7],
        [255, 256, 257] * 40,
    ],
)
def test_chunk_invariance_holds_across_blocks_and_day_order_expiry(sizes):
    whole = flow(seed=3, cancel_ratio=0.2).generate(sum(sizes))
    assert len(cancels(whole)) > 100
    assert np.array_equal(chunked(flow(seed=3, cancel_ratio=0.2), sizes), whole)


def test_many_orders_at_once_are_made_in_time_linear_in_their_number(monkeypatch):
    """Each new block used to be joined to every row still waiting, so one
    ``generate(n)`` copied about n * n / (2 * _BLOCK) rows (a million orders: seconds, and
    memory growing). Count the order rows numpy copies while the flow makes its blocks."""
    copied = []
    concatenate = np.concatenate

    def counting(arrays, *args, **kwargs):
        out = concatenate(arrays, *args, **kwargs)
        if out.ndim == 2 and out.shape[1] == wire.ORDER_WIDTH:
            copied.append(len(out))
        return out

    f = flow(seed=5)
    f.generate(10)  # something waits already: it is joined too, once
    monkeypatch.setattr(np, "concatenate", counting)
    rows = f.generate(100 * _BLOCK)
    monkeypatch.undo()
    assert len(news(rows)) == 100 * _BLOCK
    assert sum(copied) <= 2 * len(rows)  # the old way: about 50 times
    assert np.array_equal(
        np.concatenate((flow(seed=5).generate(10), rows)), flow(seed=5).generate(10 + 100 * _BLOCK)
    )


def test_the_flow_uses_no_global_random(monkeypatch):
    expected = chunked(flow(seed=11), [500, 500])

    f = flow(seed=11)
    random.seed(1)
    np.random.seed(1)
    first = f.generate(500)
    random.seed(2)
    np.random.seed(2)
    second = f.generate(500)
    assert np.array_equal(np.concatenate([first, second]), expected)

    def forbidden(*_a, **_k):
        raise AssertionError("a global random generator was used")

    for name in ("random", "randrange", "randint", "choice", "uniform", "shuffle", "getrandbits"):
        monkeypatch.setattr(random, name, forbidden)
    for name in ("random", "randint", "choice", "uniform", "shuffle", "random_sample"):
        monkeypatch.setattr(np.random, name, forbidden)
    assert np.array_equal(chunked(flow(seed=11), [500, 500]), expected)


# -- shape of the stream ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 13, 2000, _BLOCK + 1])
def test_generate_n_returns_int64_rows_with_exactly_n_new_orders_plus_cancels(n):
    rows = flow(cancel_ratio=0.3).generate(n)
    assert rows.dtype == np.int64 and rows.ndim == 2 and rows.shape[1] == wire.ORDER_WIDTH
    assert len(news(rows)) == n
    assert len(rows) >= n


def test_order_ids_are_consecutive_from_1_across_calls():
    f = flow(cancel_ratio=0.3)
    assert f.next_oid == 1
    rows = chunked(f, [10, 0, 300, 1, 700, _BLOCK])
    assert rows[:, OID].tolist() == list(range(1, len(rows) + 1))
    assert f.next_oid == len(rows) + 1


def test_the_stream_starts_with_a_new_order_and_each_cancel_follows_its_trigger():
    # a cancel comes right after the DAY order of its symbol whose arrival triggers it (or
    # after other cancels it triggered), so a chunk never starts with a cancel
    f = flow(seed=21, cancel_ratio=0.3)
    for _ in range(50):
        rows = f.generate(300)
        assert rows[0, OTYPE] != CANCEL
    rows = flow(seed=21, cancel_ratio=0.3).generate(20_000)
    last_new = None
    for row in rows:
        if row[OTYPE] != CANCEL:
            last_new = row
        else:
            assert last_new[SYM] == row[SYM] and last_new[TIF] == DAY, (last_new, row)


def test_cancels_occur_in_the_flow():
    assert len(cancels(flow(cancel_ratio=0.2).generate(2000))) > 100


def test_every_cancel_names_an_earlier_day_limit_order_of_the_same_symbol_once():
    rows = flow(seed=5, cancel_ratio=0.2, invalid_ratio=0.02).generate(20_000)
    by_oid = {int(r[OID]): r for r in rows}
    cs = cancels(rows)
    assert len(cs) > 1000
    for c in cs:
        target = by_oid[int(c[TARGET])]
        assert target[OID] < c[OID]
        assert target[OTYPE] == LIMIT and target[TIF] == DAY, (c, target)
        assert target[SYM] == c[SYM] != wire.UNKNOWN_SYM, (c, target)
        assert target[ACCOUNT] == c[ACCOUNT], (c, target)
        assert target[QTY] > 0 and target[PRICE] > 0, (c, target)  # never an invalid order
        assert (c[SIDE], c[TIF], c[PRICE], c[QTY]) == (0, DAY, 0, 0), c
    assert len(np.unique(cs[:, TARGET])) == len(cs)  # no order is cancelled twice


def test_a_day_order_is_expired_once_its_symbol_has_lifetime_newer_ones():
    # no random cancels: every cancel is an expiry, right when the LIFETIME-th newer DAY order
    # of its symbol arrives, or a late one when twice as many have (the walk was near it then)
    rows = flow(seed=9, symbols=("ONLY", "OTHER"), cancel_ratio=0.0).generate(20_000)
    expiries = cancels(rows)
    assert len(expiries) > 1000
    age = ages(rows)
    assert set(age.tolist()) == {DAY_ORDER_LIFETIME, 2 * DAY_ORDER_LIFETIME}
    assert 0.1 < (age > DAY_ORDER_LIFETIME).mean() < 0.5


def test_an_expiry_put_off_is_sent_unless_the_walk_went_through_the_order():
    """The expiry is sent if the walk left the order's price behind (more than 3 ticks past it
    on its passive side); if not, a lifetime later unless the walk has gone more than 3 ticks
    through it (it traded): every order the walk stays near gets its cancel."""
    f = flow(seed=9, symbols=("ONLY",), cancel_ratio=0.0)
    rows = f.generate(30_000)
    refs = f.last_refs  # each cancel's: the reference when it was sent
    by_oid = {int(r[OID]): r for r in rows}
    is_cancel = rows[:, OTYPE] == CANCEL
    age = ages(rows)
    lead = np.array([by_oid[int(t)][SIDE] * (ref - by_oid[int(t)][PRICE])
                     for t, ref in zip(rows[is_cancel, TARGET], refs[is_cancel])])  # fmt: skip
    assert (lead[age == DAY_ORDER_LIFETIME] > 3).all()
    assert (lead[age == 2 * DAY_ORDER_LIFETIME] >= -3).all()
    assert (lead[age == 2 * DAY_ORDER_LIFETIME] <= 3).any()  # sent although not left behind
    # an expiry neither sent nor put off is one of an order the walk went through: never twice
    assert len(np.unique(rows[is_cancel, TARGET])) == is_cancel.sum()


def test_random_cancels_hit_day_orders_younger_than_the_lifetime():
    rows = flow(seed=10, symbols=("ONLY",), cancel_ratio=0.2).generate(20_000)
    age = ages(rows)
    young = age[age < DAY_ORDER_LIFETIME]
    assert set(age[age >= DAY_ORDER_LIFETIME].tolist()) == {DAY_ORDER_LIFETIME, 2 * DAY_ORDER_LIFETIME}
    assert young.min() == 1 and young.max() > DAY_ORDER_LIFETIME - 20
    # the age is uniform: as many young as old ones
    assert (young < DAY_ORDER_LIFETIME // 2).mean() == pytest.approx(0.5, abs=0.05)


def test_valid_orders_have_positive_prices_round_lots_and_known_fields():
    rows = news(flow(seed=13, invalid_ratio=0.0).generate(20_000))
    limits, markets = rows[rows[:, OTYPE] == LIMIT], rows[rows[:, OTYPE] == MARKET]
    assert len(limits) + len(markets) == len(rows)
    assert (limits[:, PRICE] > 0).all()
    assert (markets[:, PRICE] == 0).all() and (markets[:, TIF] == IOC).all()
    assert (rows[:, QTY] > 0).all() and (rows[:, QTY] % 100 == 0).all()
    assert set(rows[:, QTY].tolist()) == set(range(100, 1001, 100))
    assert set(rows[:, SIDE].tolist()) == {int(Side.BUY), int(Side.SELL)}
    assert set(rows[:, TIF].tolist()) == {DAY, IOC}
    assert rows[:, ACCOUNT].min() == 0 and rows[:, ACCOUNT].max() == 99
    assert set(rows[:, SYM].tolist()) == set(range(len(SYMBOLS)))
    assert (rows[:, TARGET] == 0).all()


def test_a_flow_needs_a_symbol():
    with pytest.raises(ValueError):
        OrderFlow((), seed=1)


def test_as_tuples_names_symbols_and_the_unknown_one():
    rows = np.array(
        [[1, 5, 1, 1, LIMIT, DAY, 100, 200, 0], [2, 6, wire.UNKNOWN_SYM, -1, MARKET, IOC, 0, 100, 0]]
    )
    assert as_tuples(rows, SYMBOLS) == [
        (1, 5, "MSFT", 1, LIMIT, DAY, 100, 200, 0),
        (2, 6, UNKNOWN_SYMBOL, -1, MARKET, IOC, 0, 100, 0),
    ]
    assert UNKNOWN_SYMBOL not in SYMBOLS


# -- ratios ---------------------------------------------------------------------------------------

N = 100_000
TOL = 0.015


@pytest.fixture(scope="module")
def big_flow() -> np.ndarray:
    f = flow(seed=2024, market_ratio=0.2, ioc_ratio=0.3, cancel_ratio=0.1, invalid_ratio=0.0)
    return f.generate(N)


def test_market_orders_are_about_market_ratio_of_new_orders(big_flow):
    share = (news(big_flow)[:, OTYPE] == MARKET).mean()
    assert share == pytest.approx(0.2, abs=TOL)


def test_ioc_orders_are_about_ioc_ratio_of_limit_orders(big_flow):
    limits = news(big_flow)[news(big_flow)[:, OTYPE] == LIMIT]
    assert (limits[:, TIF] == IOC).mean() == pytest.approx(0.3, abs=TOL)


@pytest.mark.parametrize("ratio", [0.05, 0.1, 0.25])
def test_random_cancels_are_about_cancel_ratio_of_the_messages_besides_expiries(ratio):
    # expiries are the cancels of orders exactly LIFETIME DAY orders old, or twice that (late
    # ones); the others are random. Measured after the first LIFETIME DAY orders of each symbol,
    # when any may be cancelled.
    rows = flow(seed=4, symbols=("A", "B"), cancel_ratio=ratio).generate(N)
    is_cancel = rows[:, OTYPE] == CANCEL
    is_expiry = np.zeros(len(rows), bool)
    is_expiry[is_cancel] = ages(rows) >= DAY_ORDER_LIFETIME
    steady = slice(len(rows) // 10, None)
    is_cancel, is_expiry = is_cancel[steady], is_expiry[steady]
    random_cancels = (is_cancel & ~is_expiry).sum()
    assert random_cancels / (~is_expiry).sum() == pytest.approx(ratio, abs=0.01)
    assert is_expiry.sum() > 1000


def test_default_flow_sends_about_0_6_cancels_per_new_order():
    # the default mix: 10% random cancels, the expiries of DAY orders the walk left behind, and
    # the late ones of those it stayed near (0.46 before late ones were sent)
    rows = flow(seed=6, cancel_ratio=0.1, invalid_ratio=0.001).generate(N)
    assert len(cancels(rows)) / N == pytest.approx(0.59, abs=0.04)


def test_buys_and_sells_are_balanced(big_flow):
    assert (news(big_flow)[:, SIDE] == int(Side.BUY)).mean() == pytest.approx(0.5, abs=TOL)


def test_every_symbol_gets_its_share_of_orders(big_flow):
    counts = np.bincount(news(big_flow)[:, SYM], minlength=len(SYMBOLS))
    assert counts / N == pytest.approx([1 / len(SYMBOLS)] * len(SYMBOLS), abs=TOL)


def is_invalid(rows: np.ndarray) -> np.ndarray:
    return (
        (rows[:, QTY] <= 0)
        | ((rows[:, OTYPE] == LIMIT) & (rows[:, PRICE] <= 0))
        | (rows[:, SYM] == wire.UNKNOWN_SYM)
    )


def test_invalid_ratio_zero_gives_no_invalid_orders(big_flow):
    assert not is_invalid(news(big_flow)).any()


def test_invalid_ratio_gives_each_kind_of_invalid_order_at_about_that_share():
    ratio = 0.09
    rows = news(flow(seed=8, invalid_ratio=ratio).generate(N))
    zero_qty = rows[:, QTY] <= 0
    negative_price = rows[:, PRICE] < 0
    unknown = rows[:, SYM] == wire.UNKNOWN_SYM
    assert is_invalid(rows).mean() == pytest.approx(ratio, abs=0.005)
    for kind in (zero_qty, negative_price, unknown):
        assert kind.mean() == pytest.approx(ratio / 3, abs=0.005)
    # one flaw per invalid order, so each shows one clear reject reason
    assert not (zero_qty & negative_price).any() and not (zero_qty & unknown).any()
    assert not (negative_price & unknown).any()
    assert (rows[negative_price, OTYPE] == LIMIT).all()


def test_cancel_ratio_zero_and_one_symbol_short_run_gives_no_cancels():
    f = flow(seed=1, symbols=("ONLY",), cancel_ratio=0.0)
    assert not len(cancels(f.generate(DAY_ORDER_LIFETIME)))


# -- the books it makes ---------------------------------------------------------------------------


def test_expiry_keeps_a_book_bounded_over_a_long_run():
    f = flow(seed=12, symbols=("ONLY",), cancel_ratio=0.1, invalid_ratio=0.001)
    book = OrderBook("ONLY")
    submit, cancel = book.submit, book.cancel
    most = 0
    for _ in range(20):
        for oid, account, sym, side, otype, tif, price, qty, target in f.generate(7_000).tolist():
            if otype == CANCEL:
                cancel(oid, target)
            elif sym != wire.UNKNOWN_SYM:
                submit(oid, account, side, otype, tif, price, qty)
        most = max(most, book.order_count)
    assert f.next_oid > 200_000
    assert 100 < most < 3 * DAY_ORDER_LIFETIME


# -- the vectorised blocks against a plain, one-order-at-a-time model of the same draws ----------


def sequential_model(
    symbols,
    seed,
    blocks,
    accounts=100,
    market_ratio=0.05,
    ioc_ratio=0.10,
    cancel_ratio=0.10,
    invalid_ratio=0.0,
    start=None,
) -> list[tuple]:
    """The flow as a loop, drawing the same numbers in the same order as OrderFlow's blocks."""
    rng = np.random.Generator(np.random.PCG64(seed))
    nsym = len(symbols)
    ref = rng.integers(2_000, 50_000, nsym).tolist()
    if start is not None:
        ref = [start] * nsym
    fate_share = OrderFlow(
        symbols,
        seed=seed,
        market_ratio=market_ratio,
        ioc_ratio=ioc_ratio,
        cancel_ratio=cancel_ratio,
        invalid_ratio=invalid_ratio,
    )._fate_share
    made = [0] * nsym
    pending: list[list[int]] = []  # [sym, death, oid, account, side, price, random]
    out: list[tuple] = []
    for _ in range(blocks):
        b = _BLOCK
        sym, step = rng.integers(0, nsym, b).tolist(), rng.integers(0, 4, b).tolist()
        account, side = rng.integers(0, accounts, b).tolist(), rng.integers(0, 2, b).tolist()
        qty, offset = rng.integers(1, 11, b).tolist(), rng.integers(-3, 9, b).tolist()
        market = (rng.random(b) < market_ratio).tolist()
        ioc = (rng.random(b) < ioc_ratio).tolist()
        invalid, flaw = [False] * b, [0] * b
        if invalid_ratio:
            invalid = (rng.random(b) < invalid_ratio).tolist()
            flaw = rng.integers(0, 3, b).tolist()
        ncand = sum(not (m or i or v) for m, i, v in zip(market, ioc, invalid))
        fated, ages = [False] * ncand, [0] * ncand
        if fate_share:
            fated = (rng.random(ncand) < fate_share).tolist()
            ages = rng.integers(1, DAY_ORDER_LIFETIME, ncand).tolist()
        k = 0
        for i in range(b):
            s = sym[i]
            if step[i] == 0 and ref[s] > 200:
                ref[s] -= 1
            elif step[i] == 3:
                ref[s] += 1
            sd = 2 * side[i] - 1
            otype, tif = (MARKET, IOC) if market[i] else (LIMIT, IOC if ioc[i] else DAY)
            price = 0 if market[i] else ref[s] - sd * offset[i]
            q, wsym = 100 * qty[i], s
            if invalid[i]:
                if flaw[i] == 0:
                    q = 0
                elif flaw[i] == 1:
                    otype, price = LIMIT, -price if price else -1
                else:
                    wsym = wire.UNKNOWN_SYM
            oid = len(out) + 1
            out.append((oid, account[i], wsym, sd, otype, tif, price, q, 0))
            if market[i] or ioc[i] or invalid[i]:
                continue
            rank = made[s]
            made[s] += 1
            age = ages[k] if fated[k] else DAY_ORDER_LIFETIME
            pending.append([s, rank + age, oid, account[i], sd, price, int(fated[k])])
            k += 1
            for p in sorted((p for p in pending if p[0] == s and p[1] == rank), key=lambda p: p[2]):
                pending.remove(p)
                lead = p[4] * (ref[s] - p[5])  # ticks the walk is past the order's price
                if p[6] == 0 and lead <= 3:  # an expiry not sent now: a late one, a lifetime on
                    pending.append([s, rank + DAY_ORDER_LIFETIME, *p[2:6], 2])
                elif p[6] != 2 or lead >= -3:  # random, an expiry, or a late one not gone through
                    out.append((len(out) + 1, p[3], s, 0, CANCEL, DAY, 0, 0, p[2]))
    return out


@pytest.mark.parametrize(
    "symbols, kw",
    [
        (("ONLY",), {"cancel_ratio": 0.1, "invalid_ratio": 0.05}),
        (SYMBOLS, {"cancel_ratio": 0.3, "market_ratio": 0.2, "ioc_ratio": 0.2}),
        (("ONE", "TWO"), {"cancel_ratio": 0.0, "start": 200}),
    ],
)
def test_the_blocks_match_a_sequential_model_of_the_same_draws(symbols, kw):
    # "start": both walks begin at the floor, so the floor is hit often
    expected = sequential_model(symbols, 31, 3, **kw)
    start = kw.pop("start", None)
    f = OrderFlow(symbols, seed=31, **kw)
    if start is not None:
        f._ref[:] = start
    got = f.generate(3 * _BLOCK)
    assert [tuple(r) for r in got.tolist()] == expected
    if start is not None:
        limits = got[got[:, OTYPE] == LIMIT]
        # the walk reached the floor and never went under it: no price below the floor less
        # the widest passive offset
        assert 200 - 8 <= limits[:, PRICE].min() <= 200 - 3


def test_the_flow_sends_the_highest_cancel_ratio_it_accepts():
    most = OrderFlow.max_cancel_ratio(0.05, 0.10, 0.0)
    rows = OrderFlow(SYMBOLS, seed=5, cancel_ratio=most).generate(40_000)
    cancels = rows[:, 4] == CANCEL
    new = int((~cancels).sum())
    # random cancels reach every DAY order at this ratio, so none is left to expire
    assert cancels.sum() / new == pytest.approx(most / (1 - most), rel=0.05)
