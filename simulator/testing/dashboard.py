"""A stand-in for a running simulation, for the dashboard's tests and its refresh measurement.

``build_snapshot`` makes one frozen, distinctive mid-run Snapshot (no clock, no randomness);
``FakeControl`` is a SimControl serving a Snapshot and recording every command it is sent, each
checked against ``simulator.control.COMMANDS`` as the bank would. Nothing of the simulator
imports this module.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from simulator.control import checked
from simulator.stats import (
    AccountRow,
    BookView,
    MarketRow,
    OpenOrder,
    OrderCounts,
    ProcessRow,
    RunState,
    Snapshot,
    TapeEntry,
    TapeEvent,
)

SYMBOLS = ("AAPL", "MSFT", "GOOG", "AMZN")


# the watched symbol's (MSFT) tape: every kind of event, a distinctive figure in each
TAPE_EVENTS = (
    TapeEvent(1, 3600.5, "watch", "MSFT", 0),
    TapeEvent(2, 3601.25, "new", "MSFT", 900_101, 1, 0, 0, 41_250, 300, 1017),
    TapeEvent(3, 3601.25, "ack", "MSFT", 900_101, 1, 0, 0, 41_250, 300, 1017),
    TapeEvent(4, 3702.5, "new", "MSFT", 900_102, -1, 1, 1, 0, 125, 2203),
    TapeEvent(5, 3702.5, "ack", "MSFT", 900_102, -1, 1, 1, 0, 125, 2203),
    TapeEvent(6, 3702.5, "fill", "MSFT", 900_102, -1, price=41_250, qty=125, other=900_101),
    TapeEvent(7, 3715.0, "new", "MSFT", 900_103, 1, 0, 1, 41_240, 80, 3391),
    TapeEvent(8, 3715.0, "ack", "MSFT", 900_103, 1, 0, 1, 41_240, 80, 3391),
    TapeEvent(9, 3715.0, "cancelled", "MSFT", 900_103, qty=80),
    TapeEvent(10, 3720.75, "new", "MSFT", 900_104, -1, 0, 0, -5, 10, 4480),
    TapeEvent(11, 3720.75, "reject", "MSFT", 900_104, -1, 0, reason=2),
    TapeEvent(12, 3723.5, "new", "MSFT", 900_105, 0, 2, 0, 0, 0, -1, 900_101),
    TapeEvent(13, 3723.5, "cancelled", "MSFT", 900_101, qty=175, other=900_105),
    TapeEvent(14, 3723.5, "cancel_done", "MSFT", 900_105, other=900_101),
)


MARKET = (
    MarketRow("MSFT", 41_257, 41_000, 41_190.5, 12_345_600, 98_765, 41_420, 40_880, 41_250, 41_262),
    MarketRow("AAPL", 18_950, 19_100, 19_010.25, 9_876_500, 77_001, 19_230, 18_900, 18_948, 18_951),
    MarketRow("GOOG", 14_020, 14_020, 14_020.0, 555_000, 4_321, 14_090, 13_950, 0, 14_025),
    MarketRow("AMZN", 17_808, 17_700, 17_750.75, 3_210_000, 23_456, 17_850, 17_650, 17_800, 0),
)


ACCOUNTS = (
    AccountRow(1017, 2_361_000, 11_260_200, -8_899_200, (("MSFT", 12_300), ("AAPL", -3_900)), 2),
    AccountRow(
        2203,
        2_019_000,
        -464_747_900,
        466_766_900,
        (("GOOG", 15_100), ("MSFT", 11_600), ("AAPL", 5_700), ("AMZN", 1_000)),
        4,
    ),
    AccountRow(3391, -1_814_700, 235_484_100, -237_298_800, (("AMZN", -12_400),), 1),
)
ACCOUNT_ORDERS = (
    OpenOrder(900_101, "MSFT", 1, 0, 0, 41_250, 300, 175, "resting"),
    OpenOrder(900_201, "AAPL", -1, 0, 0, 18_960, 500, 500, "sent"),
)


def sample_report(exit_code: int = 0, stop_reason: str = "order limit reached (1000)") -> dict:
    """The keys ``simulator.report.summary_text`` reads, as a finished run's report has them."""
    return {
        "stop_reason": stop_reason,
        "duration_s": 12.5,
        "config": {"seed": 7},
        "orders": {
            "placed": 1000,
            "filled": 600,
            "cancelled": 200,
            "rejected": 10,
            "resting": 190,
            "lost": 0,
        },
        "cancel_requests": {"sent": 50, "done": 20, "rejected": 30, "lost": 0},
        "reject_reasons": {},
        "fills": {"count": 700, "volume": 70_000, "digest": "0123456789abcdef0123"},
        "throughput": {"orders_per_s": 80.0, "orders": 1000, "seconds": 12.5},
        "latency_us": {"ack": {"p50": 300, "p99": 900, "p999": 2000, "max": 4000}},
        "brokers": [
            {"name": "broker-1", "pid": 11, "symbols": ["AAPL"], "orders": 1000, "fills": 700, "exit_code": 0}
        ],
        "reconciled": True,
        "exit_code": exit_code,
    }


def build_snapshot(**changes: Any) -> Snapshot:
    """A mid-run Snapshot whose every figure is distinctive (no clock, no randomness)."""
    snapshot = Snapshot(
        state=RunState.RUNNING,
        elapsed_s=3723.9,
        seed=424242,
        rate=50_000.0,
        orders=OrderCounts(
            placed=1_234_567,
            acked=1_230_001,
            filled=612_345,
            cancelled=98_765,
            rejected=4_321,
            resting=23_456,
            in_flight=4_566,
            lost=0,
        ),
        orders_per_s=48_765.0,
        fills_per_s=21_098.0,
        fills=700_111,
        volume=69_000_123,
        ack_latency_us={"count": 1_230_001, "p50": 412, "p99": 7_340, "p999": 20_000, "max": 51_000},
        throughput_history=tuple(40_000.0 + (i * 7919) % 12_000 for i in range(60)),
        processes=(
            ProcessRow(
                "broker-0",
                31001,
                "RUNNING",
                ("AAPL", "MSFT"),
                inbox_depth=12,
                orders=617_000,
                orders_per_s=24_400.0,
                fills=350_050,
                cpu_percent=87.5,
                rss_bytes=48_234_496,
                heartbeat_age_s=0.1,
            ),
            ProcessRow(
                "bank",
                31000,
                "RUNNING",
                (),
                inbox_depth=3,
                orders=1_234_567,
                orders_per_s=48_765.0,
                fills=700_111,
                cpu_percent=65.2,
                rss_bytes=91_226_112,
                heartbeat_age_s=0.05,
            ),
            ProcessRow(
                "broker-1",
                31002,
                "HUNG",
                ("GOOG", "AMZN"),
                inbox_depth=40_960,
                orders=617_567,
                orders_per_s=0.0,
                fills=350_061,
                cpu_percent=0.0,
                rss_bytes=47_185_920,
                heartbeat_age_s=12.7,
                restarts=1,
            ),
        ),
        symbols=SYMBOLS,
        selected_symbol="MSFT",
        book=BookView(
            symbol="MSFT",
            bids=tuple((41_250 - 5 * i, 100 * (i + 3), i + 1) for i in range(10)),
            asks=tuple((41_262 + 5 * i, 100 * (i + 2), i + 2) for i in range(10)),
            last_price=41_257,
        ),
        tape=(
            TapeEntry("order", "AAPL", 1, 300, 18_942, 1017, 900_001),
            TapeEntry("order", "GOOG", -1, 50, 0, 2203, 900_002),
            TapeEntry("fill", "MSFT", -1, 200, 41_250, 3391, 900_003),
            TapeEntry("order", "AMZN", 1, 75, 17_808, 4480, 900_004),
            TapeEntry("fill", "AAPL", 1, 125, 18_950, 5562, 900_005),
        ),
        tape_events=TAPE_EVENTS,
        tape_skipped=1_234,
        market=MARKET,
        accounts=ACCOUNTS,
        selected_account=ACCOUNTS[0],
        account_orders=ACCOUNT_ORDERS,
        log_lines=(
            "12:00:01 INFO bank: started 2 brokers",
            "12:00:02 INFO broker-0: serving AAPL,MSFT",
            "12:01:13 WARNING bank: broker-1 heartbeat 12.7s old, marked HUNG",
        ),
    )
    return replace(snapshot, **changes) if changes else snapshot


class FakeControl:
    """A SimControl serving one frozen Snapshot and recording every command.

    ``wait_stopped`` returns True once ``request_stop`` was called and ``release`` is set
    (it is set from the start unless ``hold_stop`` is passed).
    """

    def __init__(self, snapshot: Snapshot | None, *, hold_stop: bool = False) -> None:
        self.current = snapshot
        self.report: dict | None = sample_report()
        """What ``final`` gives once the run stopped (None: a run that ended without one)."""
        self.calls: list[tuple[str, object]] = []
        """Every command and stop request, in order: ``("rate", 2000.0)``, ``("request_stop", reason)``."""
        self.stop_requested = threading.Event()
        self.release = threading.Event()
        if not hold_stop:
            self.release.set()

    def snapshot(self) -> Snapshot | None:
        return self.current

    def command(self, name: str, arg: object = None) -> None:
        """Record ``(name, arg)``, checked as the bank would: a bad command fails the test."""
        self.calls.append(checked(name, arg))

    def request_stop(self, reason: str) -> None:
        self.calls.append(("request_stop", reason))
        self.stop_requested.set()

    def end_run(self) -> None:
        """The run stops by itself (a duration reached, a signal): no command from the app."""
        self.stop_requested.set()
        self.release.set()

    def wait_stopped(self, timeout: float) -> bool:
        if not self.stop_requested.wait(timeout):
            return False
        return self.release.wait(timeout)

    def final(self) -> tuple[dict | None, str | None] | None:
        """The finished run's report (as ``simulator.remote.RemoteSimulation.final``)."""
        if not (self.stop_requested.is_set() and self.release.is_set()):
            return None
        return (self.report, None) if self.report is not None else (None, "the run ended without a report")

    def commands(self, name: str) -> list[tuple[str, object]]:
        """The recorded calls named ``name``."""
        return [call for call in self.calls if call[0] == name]
