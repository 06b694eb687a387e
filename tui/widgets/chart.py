"""The price chart of the watched symbol: its last trade price over time, drawn in text.

Each Snapshot adds one (elapsed, last price) point while the price is known; a change of symbol
starts a new chart. The widget only lays out ``market_format.chart_rows`` with a price scale on
the left and the time span below: a few thousand characters a frame (bench/measure_refresh.py
measures it), where a plotext chart costs ~25 ms.
"""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive

from simulator.orders import format_price
from simulator.stats import Snapshot
from tui.market_format import chart_rows
from tui.tape_format import fmt_clock
from tui.widgets.base import WAITING_TEXT, SnapshotPanel

SCALE_WIDTH = 10  # the price labels on the left


class PriceChart(SnapshotPanel):
    """Last price of the watched symbol against the run's elapsed time."""

    DEFAULT_CSS = """
    PriceChart {
        height: 1fr;
    }
    """

    points: reactive[tuple[tuple[float, int], ...]] = reactive(())
    """(elapsed seconds, last price) of the watched symbol, oldest first."""

    def __init__(self, *, kept: int = 3_000, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.history: deque[tuple[float, int]] = deque(maxlen=kept)
        self.symbol: str | None = None

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is None:
            return
        if snapshot.selected_symbol != self.symbol:
            self.symbol = snapshot.selected_symbol
            self.history.clear()
            self.border_title = f"Last price {self.symbol}" if self.symbol else "Last price"
        last = next((r.last for r in snapshot.market if r.symbol == self.symbol and r.trades), None)
        if last is None and snapshot.book is not None and snapshot.book.symbol == self.symbol:
            last = snapshot.book.last_price
        if last is not None and (not self.history or self.history[-1] != (snapshot.elapsed_s, last)):
            self.history.append((snapshot.elapsed_s, last))
            self.points = tuple(self.history)

    def render(self) -> RenderResult:
        if self.snapshot is None:
            return WAITING_TEXT
        width = max((self.content_size.width or 40) - SCALE_WIDTH, 1)
        height = max((self.content_size.height or 10) - 1, 1)
        rows, low, high, t0, t1 = chart_rows(self.points, width, height)
        if not rows:
            return Text("no trade yet", "dim")
        text = Text(end="", no_wrap=True)
        for n, row in enumerate(rows):
            label = format_price(high) if n == 0 else format_price(low) if n == len(rows) - 1 else ""
            text.append(f"{label:>{SCALE_WIDTH - 1}} ", "dim")
            text.append(row + "\n", "cyan")
        start, end = fmt_clock(t0), fmt_clock(t1)
        text.append(" " * SCALE_WIDTH + start + end.rjust(max(width - len(start), 0)), "dim")
        return text
