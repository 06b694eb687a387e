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
    BookView,
    OrderCounts,
    ProcessRow,
    RunState,
    Snapshot,
    TapeEntry,
)

SYMBOLS = ("AAPL", "MSFT", "GOOG", "AMZN")


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

    def commands(self, name: str) -> list[tuple[str, object]]:
        """The recorded calls named ``name``."""
        return [call for call in self.calls if call[0] == name]
