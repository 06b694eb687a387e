"""The book panel: the selected symbol's ladder, asks above bids, with spread and last trade."""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive

from simulator.stats import BookView, Snapshot
from tui.format import book_ladder, ladder_depth
from tui.policy import Asked
from tui.widgets.base import WAITING_TEXT, SnapshotPanel

LINE_STYLES = {"header": "dim", "ask": "red", "bid": "green", "middle": "bold"}


class BookPanel(SnapshotPanel):
    """As many levels per side as fit (1 to 10); the border title names the symbol.

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
        depth = ladder_depth(self.content_size.height or 23)
        text = Text(end="")
        for n, (kind, line) in enumerate(book_ladder(self.book, depth)):
            if n:
                text.append("\n")
            text.append(line, LINE_STYLES.get(kind, ""))
        return text
