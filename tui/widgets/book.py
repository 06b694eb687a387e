"""The book panel: the selected symbol's ladder, asks above bids, with spread and last trade."""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive

from simulator.stats import BookView, Snapshot
from tui.format import LADDER_WIDTH, book_ladder, ladder_depth
from tui.market_format import changed_levels, cumulative, depth_bar
from tui.policy import Asked
from tui.widgets.base import WAITING_TEXT, SnapshotPanel

LINE_STYLES = {"header": "dim", "ask": "red", "bid": "green", "middle": "bold"}
CHANGED_STYLE = "reverse"  # a level that changed since the previous frame
BAR_STYLES = {"ask": "dark_red", "bid": "dark_green"}
BAR_MIN = 6  # cells a depth bar needs to mean something


class BookPanel(SnapshotPanel):
    """As many levels per side as fit (1 to 10); the border title names the symbol.

    Levels that changed since the previous Snapshot are drawn in reverse (the book in motion);
    where the panel is wider than the ladder, a bar beside each level shows the cumulative
    depth: the shares a market order would meet down to that price.

    The title follows a symbol key at once; the levels follow with the Snapshot that carries
    that symbol's book.
    """

    DEFAULT_CSS = """
    BookPanel {
        height: 1fr;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    """
    BORDER_TITLE = "Book"
    changed: frozenset[tuple[str, int]] = frozenset()  # levels changed since the previous book

    asked: reactive[Asked] = reactive(Asked, repaint=False)
    """What the keys asked for, bound to the app's."""
    symbol: reactive[str | None] = reactive(None)
    """The symbol whose book the Snapshots carry."""
    book: reactive[BookView | None] = reactive(None)
    """That symbol's levels and last trade; None before the bank sent it."""
    book_title: reactive[str] = reactive(BORDER_TITLE, repaint=False)
    """The border title: the symbol asked for or, failing that, the one shown."""

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is not None:
            self.symbol, self.book = snapshot.selected_symbol, snapshot.book
        self.show_title()

    def watch_book(self, before: BookView | None, book: BookView | None) -> None:
        self.changed = frozenset(changed_levels(book, before)) if book is not None else frozenset()

    def watch_asked(self) -> None:
        self.show_title()

    def watch_book_title(self, title: str) -> None:
        self.border_title = title  # set only on a change: setting it repaints the panel

    def show_title(self) -> None:
        symbol = self.asked.selected_symbol(self.symbol)
        self.book_title = f"Book {symbol}" if symbol else "Book"

    def render(self) -> RenderResult:
        if self.snapshot is None:
            return WAITING_TEXT
        if self.book is None:
            return Text("no book yet" if self.symbol else "no symbol selected", "dim")
        book = self.book
        depth = ladder_depth(self.content_size.height or 23)
        # each ladder line's price: asks worst first, then the middle, then bids best first
        asks = book.asks[:depth]
        prices: list[tuple[str, int, int]] = [("ask", p, c) for (p, _q, _n), c in zip(asks, cumulative(asks))]
        prices.reverse()
        prices += [("bid", p, c) for (p, _q, _n), c in zip(book.bids[:depth], cumulative(book.bids[:depth]))]
        most = max([c for _k, _p, c in prices], default=0)
        bar_width = (self.content_size.width or 0) - LADDER_WIDTH - 2
        changed = self.changed
        text = Text(end="")
        it = iter(prices)
        for n, (kind, line) in enumerate(book_ladder(book, depth)):
            if n:
                text.append("\n")
            style = LINE_STYLES.get(kind, "")
            if kind in ("ask", "bid"):
                side, price, cum = next(it)
                if (side, price) in changed:
                    style += " " + CHANGED_STYLE
                text.append(line, style)
                if bar_width >= BAR_MIN:
                    text.append("  " + depth_bar(cum, most, bar_width), BAR_STYLES[kind])
            else:
                text.append(line, style)
        return text
