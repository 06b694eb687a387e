"""The symbols table: last, change, VWAP, volume, high/low, bid/ask and spread per symbol.

``Snapshot.market`` holds the most traded symbols (and the watched one); the table sorts them
by the key ``s`` cycles through (volume first) and scrolls when they do not fit. Gains are
green, losses red; columns are dropped by priority when the panel is narrow.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from simulator.stats import MarketRow, Snapshot
from tui.market_format import SORTS, market_lines
from tui.widgets.base import WAITING_TEXT

SIGN_STYLES = {1: Style(color="green"), -1: Style(color="red"), 0: Style()}
HEADER_STYLE = Style(dim=True, bold=True)


class MarketTable(ScrollView, can_focus=True):
    """One line per symbol under a header; ``s`` changes the sort."""

    BINDINGS = [
        # no sideways scrolling here: left and right stay the symbol keys
        Binding("left", "app.previous_symbol", show=False),
        Binding("right", "app.next_symbol", show=False),
        Binding("s", "next_sort", "Sort"),
    ]

    DEFAULT_CSS = """
    MarketTable {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    """

    snapshot: reactive[Snapshot | None] = reactive(None, repaint=False)
    """The latest Snapshot, bound to the app's."""
    rows: reactive[tuple[MarketRow, ...]] = reactive((), repaint=False)
    """The symbols' market data."""
    sort: reactive[int] = reactive(0, repaint=False)
    """Which of ``SORTS`` orders the rows."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.lines: list[tuple[str, int]] = []

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is not None:
            self.rows = snapshot.market

    def watch_rows(self) -> None:
        self.layout_lines()

    def watch_sort(self) -> None:
        self.layout_lines()
        self.border_subtitle = f"sorted by {SORTS[self.sort][0]} (s)"

    def on_resize(self) -> None:
        self.layout_lines()

    def layout_lines(self) -> None:
        width = self.scrollable_content_region.width or self.size.width
        self.lines = market_lines(self.rows, width, self.sort)
        self.virtual_size = Size(0, len(self.lines))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        index = self.scroll_offset.y + y
        if self.snapshot is None:
            text = WAITING_TEXT if y == 0 else ""
            return Strip([Segment(text, base)]).crop_extend(0, width, base)
        if len(self.lines) <= 1:
            text = "no trades yet" if y == 0 else ""
            return Strip([Segment(text, base + Style(dim=True))]).crop_extend(0, width, base)
        if y == 0:  # the header stays on top
            return Strip([Segment(self.lines[0][0], base + HEADER_STYLE)]).crop_extend(0, width, base)
        index += 0 if index else 1
        if index >= len(self.lines):
            return Strip.blank(width, base)
        text, sign = self.lines[index]
        return Strip([Segment(text, base + SIGN_STYLES[sign])]).crop_extend(0, width, base)

    def action_next_sort(self) -> None:
        self.sort = (self.sort + 1) % len(SORTS)
