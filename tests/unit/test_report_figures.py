"""The report's figures: the per-second series and its latency window, each symbol's trading
and final book, each account's P&L, each broker's routed orders, and the schema they fit."""

from __future__ import annotations

import copy
import hashlib

import numpy as np
import pytest

from simulator.fills_digest import FillsDigest
from simulator.routing import RoutedCounts
from simulator.series import COLUMNS, Series, WindowedLatency
from simulator.stats import LatencyHistogram
from simulator.symbol_stats import TradedDigest, account_table, busiest, final_books, largest
from simulator.testing.report_check import assert_valid_report

pytestmark = pytest.mark.timeout(60)


# -- the latency of the last second alone ---------------------------------------------------------


def test_the_window_forgets_a_stall_once_its_second_is_over():
    hist = LatencyHistogram()
    window = WindowedLatency(hist)
    hist.record(335_000, 50)  # a start-up stall
    hist.record(200, 950)
    first = window.take()
    assert first["count"] == 1000 and first["p99"] >= 330_000
    hist.record(210, 1000)
    second = window.take()
    assert second["count"] == 1000 and 200 <= second["p50"] <= second["p99"] < 220
    assert hist.summary()["p99"] >= 330_000  # the whole run's keeps it: that is the summary's
    assert window.take() == {"count": 0, "p50": 0, "p99": 0, "max": 0}


# -- the series -------------------------------------------------------------------------------------


def totals(placed=0, finished=0, fills=0, rejects=0, cancel_rejects=0, restarts=0, acks=0):
    return dict(placed=placed, finished=finished, fills=fills, rejects=rejects, cancel_rejects=cancel_rejects,
                restarts=restarts, acks=acks)  # fmt: skip


def test_a_row_a_second_holds_what_happened_in_that_second_not_since_the_start():
    hist = LatencyHistogram()
    series = Series(hist)
    levels = {"resting": 5, "rss_bank_bytes": 100, "rss_brokers_bytes": 200}
    assert not series.sample(0.5, totals(placed=400), levels)  # not a second yet
    hist.record(1000, 800)
    assert series.sample(1.02, totals(placed=800, finished=700, fills=300, acks=800, restarts=1), levels)
    hist.record(100, 900)
    assert not series.sample(1.5, totals(placed=1200), levels)
    assert series.sample(2.01, totals(placed=1700, finished=1500, fills=600, acks=1700, restarts=1),
                         {**levels, "resting": 9})  # fmt: skip
    d = series.to_dict()
    assert d["interval_s"] == 1.0 and d["t"] == [1.02, 2.01]
    assert d["placed"] == [800, 900] and d["finished"] == [700, 800] and d["fills"] == [300, 300]
    assert d["restarts"] == [1, 0] and d["resting"] == [5, 9]
    assert d["ack_p50_us"][0] > 900 and d["ack_p99_us"][1] < 110  # each second its own latency
    assert set(d) == {"interval_s", *COLUMNS} and len({len(d[c]) for c in COLUMNS}) == 1


def test_the_last_partial_second_is_a_row_too():
    series = Series(LatencyHistogram())
    series.sample(1.0, totals(placed=10), {})
    series.finish(1.4, totals(placed=14), {})
    assert series.to_dict()["t"] == [1.0, 1.4] and series.to_dict()["placed"] == [10, 4]
    series.finish(1.4, totals(placed=14), {})  # asked again: nothing new to say
    assert len(series.rows) == 2


def test_a_long_run_merges_rows_in_pairs_and_keeps_every_count():
    hist = LatencyHistogram()
    series = Series(hist, most_rows=8)
    for second in range(1, 40):
        hist.record(second * 10)
        series.sample(float(second), totals(placed=second * 100, acks=second), {"resting": second})
    series.finish(39.5, totals(placed=3900, acks=39), {"resting": 39})
    d = series.to_dict()
    assert len(d["t"]) <= 8 and d["interval_s"] >= 4.0
    assert sum(d["placed"]) == 3900 and sum(d["acks"]) == 39  # nothing lost in merging
    assert d["resting"][-1] == 39 and max(d["ack_p99_us"]) >= 380
    assert d["t"] == sorted(d["t"])


# -- per symbol ------------------------------------------------------------------------------------


def trade_events(fills: dict[int, list[tuple]]) -> tuple[np.ndarray, np.ndarray]:
    """Trade event records grouped by symbol, as the ledger's fast path hands them over."""
    rows = [(3, sym, *fill) for sym, group in sorted(fills.items()) for fill in group]
    sizes = [len(group) for _sym, group in sorted(fills.items())]
    return np.array(rows, np.int64), np.cumsum([0, *sizes[:-1]])


def test_each_symbol_is_counted_alike_by_either_path_of_the_ledger():
    fills = {0: [(1, 10, 11, 100, 5), (2, 12, 13, 104, 10), (3, 14, 15, 98, 5)], 1: [(1, 20, 21, 50, 1)]}
    batched, by_rows = TradedDigest(["AAA", "BBB", "CCC"]), TradedDigest(["AAA", "BBB", "CCC"])
    batched.count_trades(*trade_events(fills))
    for sym, rows in fills.items():
        by_rows.update_rows(sym, rows)
    for traded in (batched, by_rows):
        table = traded.symbol_table()
        assert table["AAA"] == {"trades": 3, "volume": 20, "vwap": round((500 + 1040 + 490) / 20, 4),
                                "open": 100, "high": 104, "low": 98, "close": 98}  # fmt: skip
        assert table["BBB"]["close"] == 50 and table["BBB"]["vwap"] == 50.0
        assert table["CCC"] == {"trades": 0, "volume": 0, "vwap": None, "open": None, "high": None,
                                "low": None, "close": None}  # fmt: skip
        assert traded.last_prices() == [98, 50, None]


def test_the_open_stays_the_first_trade_and_high_low_span_every_batch():
    traded = TradedDigest(["AAA", "BBB"])
    traded.count_trades(*trade_events({0: [(1, 1, 2, 100, 1)]}))
    traded.count_trades(*trade_events({0: [(2, 3, 4, 120, 1), (3, 5, 6, 90, 1)], 1: [(1, 7, 8, 10, 2)]}))
    traded.update_rows(0, [(4, 9, 10, 95, 1)])
    row = traded.symbol_table()["AAA"]
    assert (row["open"], row["high"], row["low"], row["close"], row["trades"]) == (100, 120, 90, 95, 4)
    assert traded.symbol_table()["BBB"]["open"] == 10


def test_the_digest_is_the_plain_fills_digest():
    plain, traded = FillsDigest(["AAA"]), TradedDigest(["AAA"])
    for digest in (plain, traded):
        digest.update_rows(0, [(1, 10, 11, 100, 5)])
        digest.update(0, np.array([[2, 12, 13, 104, 10]], np.int64))
    assert traded.hexdigest() == plain.hexdigest()


def test_the_final_book_has_its_best_prices_spread_and_depth():
    books = final_books(
        {
            "AAA": [(1, 0, 1, 99, 10), (2, 0, 1, 100, 5), (3, 1, -1, 103, 7)],
            "BBB": [(4, 0, -1, 50, 1)],
            "CCC": [],
        }
    )
    assert books["AAA"] == {"best_bid": 100, "best_ask": 103, "spread": 3, "bid_orders": 2, "bid_shares": 15,
                            "ask_orders": 1, "ask_shares": 7}  # fmt: skip
    assert books["BBB"]["spread"] is None and books["BBB"]["best_ask"] == 50
    assert books["CCC"]["best_bid"] is None and books["CCC"]["bid_shares"] == 0


# -- per account -----------------------------------------------------------------------------------


def test_accounts_are_marked_to_the_last_price_and_ranked():
    # account 0 bought 10 AAA at 100 from account 1; AAA last traded at 110
    positions = np.array([[10, -10, 0]], np.int64)
    cash = np.array([-1000, 1000, 0], np.int64)
    table = account_table(positions, cash, [110], ["AAA"], top=2)
    assert [a["account"] for a in table["top"]] == [0, 2] and [a["account"] for a in table["bottom"]] == [
        1,
        2,
    ]
    assert table["top"][0] == {"account": 0, "pnl": 100, "cash": -1000, "positions": {"AAA": 10}}
    assert table["bottom"][0]["pnl"] == -100 and table["pnl_sum"] == 0
    assert table["count"] == 3 and table["marked_to"] == {"AAA": 110}


def test_a_cut_table_lists_the_largest_positions_and_marks_only_what_it_names():
    # 4 symbols, 2 accounts: account 0 long 5 of 0, 30 of 2 and short 30 of 3; account 1 the other side
    positions = np.array([[5, -5], [0, 0], [30, -30], [-30, 30]], np.int64)
    cash = np.zeros(2, np.int64)
    names = ["AAA", "BBB", "CCC", "DDD"]
    table = account_table(positions, cash, [1, 2, 3, 4], names, top=2, most=1, listed=[1])
    rows = {a["account"]: a for a in table["top"]}
    # the largest by shares either way, ties to the symbol listed first; the rest counted
    assert rows[0]["positions"] == {"CCC": 30} and rows[0]["positions_not_listed"] == 2
    assert rows[1]["positions"] == {"CCC": -30} and rows[1]["positions_not_listed"] == 2
    assert table["marked_to"] == {"BBB": 2, "CCC": 3}  # the listed symbol and those held in a row
    whole = account_table(positions, cash, [1, 2, 3, 4], names, top=2)
    assert "positions_not_listed" not in whole["top"][0] and len(whole["marked_to"]) == 4


def test_the_busiest_symbols_by_volume_ties_to_the_first_listed():
    volume = np.array([5, 9, 0, 9, 7], np.int64)
    assert busiest(volume, 3).tolist() == [1, 3, 4]  # rising indices
    assert busiest(volume, 2).tolist() == [1, 3] and busiest(volume, 1).tolist() == [1]
    assert busiest(volume, 5).tolist() == busiest(volume, 99).tolist() == [0, 1, 2, 3, 4]
    assert largest(np.array([0, 1, 2]), np.array([-4, 4, 1]), 1).tolist() == [0]
    traded = TradedDigest(["AAA", "BBB", "CCC"])
    traded.count_trades(*trade_events({1: [(1, 10, 11, 100, 5)], 2: [(1, 12, 13, 50, 9)]}))
    assert list(traded.symbol_table(busiest(traded.volume, 1))) == ["CCC"]
    assert list(traded.symbol_table(busiest(traded.volume, 2))) == ["BBB", "CCC"]


# -- per broker ------------------------------------------------------------------------------------


def test_orders_and_cancel_requests_are_counted_apart_per_broker():
    counts = RoutedCounts(2)
    records = np.zeros((5, 9), np.int64)
    records[[1, 3], 4] = 2  # OrderType.CANCEL
    counts.add(1, records)
    counts.add(0, records[:1])
    assert (counts.orders, counts.cancels) == ([1, 3], [0, 2])


# -- the schema ------------------------------------------------------------------------------------


def full_report() -> dict:
    from simulator.config import SimConfig
    from simulator.report import build_report
    from tests.unit.test_report import outcome

    figures = {
        "series": Series(LatencyHistogram()).to_dict(),
        "symbols": {"AAA": {**TradedDigest(["AAA"]).symbol_table()["AAA"], "final_book": None}},
        "accounts": account_table(np.zeros((1, 2), np.int64), np.zeros(2, np.int64), [None], ["AAA"]),
        "order_rejects": {"QTY_NOT_POSITIVE": 2},
        "cancel_rejects": {"ORDER_NOT_RESTING": 3},
    }
    return build_report(SimConfig(seed=1, headless=True), outcome(figures=figures))


def test_a_report_of_cut_tables_fits_the_schema():
    report = full_report()
    report["symbols_listed"] = {"count": 10_000, "traded": 9_000, "listed": 1}
    report["accounts"]["top"] = [{"account": 0, "pnl": 0, "cash": 0, "positions": {"AAA": 1},
                                  "positions_not_listed": 3}]  # fmt: skip
    assert_valid_report(report)
    report["accounts"]["top"][0]["positions_not_listed"] = 0  # present only when some are left out
    with pytest.raises(AssertionError):
        assert_valid_report(report)


def test_a_report_with_every_figure_fits_the_schema():
    report = assert_valid_report(full_report())
    assert report["version"] == 3
    assert report["cancel_requests"]["reject_reasons"] == {"ORDER_NOT_RESTING": 3}
    assert report["reject_reasons"] == {"QTY_NOT_POSITIVE": 2}


@pytest.mark.parametrize(
    "spoil",
    [
        lambda r: r.update(version=2),
        lambda r: r.pop("series"),
        lambda r: r["orders"].update(placed=-1),
        lambda r: r.update(started="yesterday"),
        lambda r: r["brokers"][0].pop("restarts"),
        lambda r: r["fills"].update(digest="not hex"),
        lambda r: r["series"].update(placed=["1"]),
    ],
    ids=[
        "old version",
        "no series",
        "negative count",
        "not a UTC time",
        "broker without restarts",
        "bad digest",
        "series of strings",
    ],  # fmt: skip
)
def test_the_schema_refuses_a_report_that_is_wrong(spoil):
    report = copy.deepcopy(full_report())
    spoil(report)
    with pytest.raises(AssertionError, match="does not fit its schema"):
        assert_valid_report(report)


def test_the_schema_is_shipped_with_the_package():
    from importlib import resources

    text = (resources.files("simulator") / "report_schema.json").read_bytes()
    assert hashlib.sha256(text).hexdigest()  # readable as package data, not only from a checkout
