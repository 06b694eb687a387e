"""The report of real runs: its series, per-symbol, per-account and per-broker figures add up to
its totals, a restart resets none of them, and the progress line shows the last second's latency."""

from __future__ import annotations

import re

import pytest

from simulator.testing.procs import SimProcess, assert_reconciled

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_the_figures_of_a_run_with_restarts_add_up_to_its_totals(tmp_path):
    with SimProcess(
        "--symbols", "AAPL,MSFT,NVDA,TSLA", "--seed", "7", "--brokers", "2", "--rate", "6000",
        "--orders", "24000", "--kill-broker-every", "1.2", "--max-restarts", "20",
        report=tmp_path / "run.json",
    ) as sim:  # fmt: skip
        assert sim.wait_exit(90) == 0, sim.output()
        report = sim.report()  # checked against the schema on the way
    assert_reconciled(report)
    o, c, series = report["orders"], report["cancel_requests"], report["series"]
    brokers = report["brokers"]
    restarts = sum(b["restarts"] for b in brokers)
    assert restarts >= 1, "the drill killed no broker"
    # per broker: orders and cancel requests apart, routed by the bank: a restart resets nothing
    assert sum(b["orders"] for b in brokers) == o["placed"] == 24000
    assert sum(b["cancel_requests"] for b in brokers) == c["sent"]
    assert sum(b["fills"] for b in brokers) == report["fills"]["count"]
    # the series: each second's counts, summed, are the run's
    assert len(series["t"]) >= 3 and series["interval_s"] == 1.0
    assert sum(series["placed"]) == o["placed"]
    assert sum(series["finished"]) == o["filled"] + o["cancelled"] + o["rejected"]
    assert sum(series["fills"]) == report["fills"]["count"]
    assert sum(series["rejects"]) == o["rejected"] and sum(series["cancel_rejects"]) == c["rejected"]
    assert sum(series["restarts"]) == restarts
    assert series["resting"][-1] == o["resting"]
    assert min(series["rss_bank_bytes"]) > 10 << 20  # memory sampled: the bank is tens of MiB
    # rejects apart: what a cancel meets when its order filled first is not an order's reject
    assert "ORDER_NOT_RESTING" not in report["reject_reasons"]
    assert sum(report["reject_reasons"].values()) == o["rejected"]
    assert sum(c["reject_reasons"].values()) == c["rejected"] and c["rejected"] > 0
    # per symbol and per account
    symbols = report["symbols"]
    assert set(symbols) == {"AAPL", "MSFT", "NVDA", "TSLA"}
    assert sum(s["trades"] for s in symbols.values()) == report["fills"]["count"]
    assert sum(s["volume"] for s in symbols.values()) == report["fills"]["volume"]
    for row in symbols.values():
        assert row["low"] <= row["vwap"] <= row["high"] and row["low"] <= row["close"] <= row["high"]
        assert row["final_book"]["bid_orders"] + row["final_book"]["ask_orders"] > 0
    # what rests: on the books, and the stops still held off them
    assert (
        sum(book["final_book"]["bid_orders"] + book["final_book"]["ask_orders"] for book in symbols.values())
        + report["order_types"]["stops_held_at_end"]
        == o["resting"]
    )
    accounts = report["accounts"]
    assert accounts["pnl_sum"] == 0 and len(accounts["top"]) == 10 and len(accounts["all"]) == 100
    assert accounts["top"][0]["pnl"] >= accounts["bottom"][0]["pnl"]
    assert report["started"] < report["ended"] and report["transport"] == "pipe" and report["host"]
    out = "".join(sim.stdout)
    assert "cancel requests: ORDER_NOT_RESTING" in out and "accounts 100: best #" in out


def test_a_run_of_many_symbols_lists_the_busiest_and_counts_every_one(tmp_path):
    with SimProcess(
        "--symbols", "300", "--seed", "5", "--rate", "0", "--orders", "30000", "--report-symbols", "7",
        report=tmp_path / "run.json",
    ) as sim:  # fmt: skip
        assert sim.wait_exit(90) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)
    symbols, listed = report["symbols"], report["symbols_listed"]
    assert len(symbols) == listed["listed"] == 7 and listed["count"] == 300 and 7 < listed["traded"] <= 300
    least = min(row["volume"] for row in symbols.values())
    assert least > 0 and sum(row["volume"] for row in symbols.values()) < report["fills"]["volume"]
    # every symbol's fills still counted, per broker
    assert sum(b["fills"] for b in report["brokers"]) == report["fills"]["count"]
    for row in report["accounts"]["all"]:
        assert len(row["positions"]) <= 7
        assert set(row["positions"]) <= set(report["accounts"]["marked_to"])
    assert "(the busiest 5 of 300)" in "".join(sim.stdout)


def test_the_progress_line_shows_the_latency_of_the_last_second(tmp_path):
    with SimProcess("--symbols", "AAPL,MSFT", "--seed", "3", "--rate", "2000", "--duration", "3.5") as sim:
        assert sim.wait_exit(60) == 0, sim.output()
    lines = [line for line in sim.stdout if line.startswith("[")]
    assert len(lines) >= 3, sim.output()
    for line in lines[1:]:
        assert re.search(r"\| last s: ack p50 [\d,]+ us p99 [\d,]+ us$", line.rstrip()), line
