"""Cost of one full dashboard refresh, measured (not a test; run it by hand).

    python bench/measure_refresh.py

Builds realistic Snapshots (bank + 8 brokers, 30 tape entries, 10 book levels, a 60 s
throughput history, a 50-line log window moving by a line) that differ in every panel (the
worst case), or in every panel but the header and the sparkline, which change once a second
in a run (the usual 10 Hz tick), then measures:

1. per refresh: ``apply_snapshot`` + the repaint it causes (``await pilot.pause()``), as CPU
   time of this process minus the same pause with nothing to redraw; median of 50;
2. steady state: the app polling a control whose Snapshot changes every poll at 10 Hz for
   5 s; CPU time per refresh.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator.stats import OrderCounts, ProcessRow, Snapshot, TapeEntry, TapeEvent  # noqa: E402
from simulator.testing.dashboard import FakeControl  # noqa: E402
from simulator.testing.dashboard import build_snapshot as make_snapshot  # noqa: E402
from tui.app import DashboardApp  # noqa: E402

SIZE = (120, 36)


def snapshot_number(i: int, ticks_per_second: int = 1) -> Snapshot:
    """The i-th Snapshot; elapsed time and throughput history move once per
    ``ticks_per_second`` Snapshots (as in a run: the RateMeter appends once a second)."""
    base = make_snapshot()
    second = i // ticks_per_second
    brokers = tuple(
        ProcessRow(
            f"broker-{b}",
            31001 + b,
            "RUNNING",
            (f"S{b}A", f"S{b}B"),
            inbox_depth=(i * 7 + b) % 300,
            orders=i * 1000 + b,
            orders_per_s=6_000.0 + (i * 13 + b) % 500,
            fills=i * 400 + b,
            cpu_percent=(i + b) % 100,
            rss_bytes=40_000_000 + i * 4096,
            heartbeat_age_s=(i % 10) / 10,
        )
        for b in range(8)
    )
    bank = ProcessRow(
        "bank",
        31000,
        "RUNNING",
        (),
        inbox_depth=i % 50,
        orders=i * 8000,
        orders_per_s=48_000.0 + i % 900,
        fills=i * 3200,
        cpu_percent=70.0,
        rss_bytes=90_000_000,
        heartbeat_age_s=0.0,
    )
    tape = tuple(
        TapeEntry(
            "fill" if (i + k) % 3 == 0 else "order",
            base.symbols[(i + k) % 4],
            1 if (i + k) % 2 else -1,
            100 + k,
            18_900 + (i + k) % 50,
            1000 + k,
            i * 100 + k,
        )
        for k in range(30)
    )
    # the tape window moves by 5 events a Snapshot (50 a second: sampling's most, in bursts)
    tape_events = tuple(
        TapeEvent(n, 3700.0 + n / 50, ("new", "ack", "fill", "cancelled")[n % 4], "MSFT", 900_000 + n // 4,
                  1 if n % 8 < 4 else -1, 0, 0, 41_250 + n % 9, 100 + n % 700, n % 100, 900_000 + n // 5)
        for n in range(max(1, i * 5 - 199), i * 5 + 1)
    )  # fmt: skip
    market = tuple(
        replace(row, last=row.last + (i + k) % 11 - 5, volume=row.volume + i * 100, trades=row.trades + i)
        for k, row in enumerate(base.market)
    )
    log = tuple(f"12:{(i + k) // 60 % 60:02d}:{(i + k) % 60:02d} INFO bank: line {i + k}" for k in range(50))
    book = replace(
        base.book,
        bids=tuple((p - i % 7, q + i, n) for p, q, n in base.book.bids),
        asks=tuple((p + i % 5, q + i, n) for p, q, n in base.book.asks),
        last_price=41_257 + i % 9,
    )
    return replace(
        base,
        elapsed_s=3723.9 + second,
        orders=OrderCounts(placed=1_000_000 + i * 4800, acked=999_000 + i * 4800),
        orders_per_s=48_000.0 + i,
        fills_per_s=20_000.0 + i,
        throughput_history=tuple(40_000.0 + ((second + k) * 7919) % 12_000 for k in range(60)),
        processes=(bank,) + brokers,
        tape=tape,
        tape_events=tape_events,
        market=market,
        log_lines=log,
        book=book,
        ack_latency_us={"p50": 400 + i % 30, "p99": 7000 + i % 300},
    )


class CyclingControl(FakeControl):
    """A control whose Snapshot is a new one at every poll."""

    def __init__(self, snapshots: list[Snapshot]) -> None:
        super().__init__(snapshots[0])
        self.snapshots, self.polls = snapshots, 0

    def snapshot(self) -> Snapshot:
        self.polls += 1
        return self.snapshots[self.polls % len(self.snapshots)]


async def per_refresh(
    snapshots: list[Snapshot], rounds: int = 50, tab: str = "1"
) -> tuple[float, float, float]:
    app = DashboardApp(FakeControl(snapshots[0]), ui_hz=0.01)  # the timer stays out of the way
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(tab)
        await pilot.pause()
        apply_only, full, idle = [], [], []
        for i in range(1, rounds + 1):
            t0 = time.perf_counter()
            app.apply_snapshot(snapshots[i % len(snapshots)])
            apply_only.append(time.perf_counter() - t0)
            c0 = time.process_time()
            await pilot.pause()
            full.append(time.process_time() - c0)
            c0 = time.process_time()
            await pilot.pause()
            idle.append(time.process_time() - c0)
    return (statistics.median(apply_only) * 1e3, statistics.median(full) * 1e3, statistics.median(idle) * 1e3)


async def steady_state(snapshots: list[Snapshot], seconds: float = 5.0, tab: str = "1") -> tuple[float, int]:
    control = CyclingControl(snapshots)
    app = DashboardApp(control, ui_hz=10)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(tab)
        await pilot.pause(0.5)
        polls0, c0 = control.polls, time.process_time()
        await pilot.pause(seconds)
        cpu, polls = time.process_time() - c0, control.polls - polls0
    return cpu / max(1, polls) * 1e3, polls


def main() -> None:
    cases = (
        ("every panel changes, overview tab", 1, "1"),
        ("usual tick, overview tab", 10, "1"),
        ("usual tick, book & tape tab (tape, book with depth bars, price chart)", 10, "2"),
        ("usual tick, symbols tab", 10, "3"),
    )
    for name, per_second, tab in cases:
        snapshots = [snapshot_number(i, per_second) for i in range(1, 201)]
        apply_ms, full_ms, idle_ms = asyncio.run(per_refresh(snapshots, tab=tab))
        per_poll_ms, polls = asyncio.run(steady_state(snapshots, tab=tab))
        print(f"{name}:")
        print(f"  apply_snapshot alone (marks panels dirty): median {apply_ms:.3f} ms")
        print(
            f"  apply + repaint, CPU: median {full_ms:.2f} ms (an idle pause costs "
            f"{idle_ms:.2f} ms; difference {full_ms - idle_ms:.2f} ms)"
        )
        print(
            f"  steady 10 Hz, new Snapshot every poll: {per_poll_ms:.2f} ms CPU per refresh "
            f"over {polls} refreshes ({per_poll_ms:.1f}% of one core)"
        )


if __name__ == "__main__":
    main()
