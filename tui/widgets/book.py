"""The book panel: the selected symbol's ladder, asks above bids, with spread and last trade."""
from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult

from simulator.stats import BookView, Snapshot
from tui.format import book_ladder, ladder_depth
from tui.widgets.base import SnapshotView

LINE_STYLES = {"header": "dim", "ask": "red", "bid": "green", "middle": "bold"}


class BookPanel(SnapshotView):
    """As many levels per side as fit (1 to 10); the border title names the symbol."""

    DEFAULT_CSS = """
    BookPanel {
        height: 1fr;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    """

    def slice_of(self, snapshot: Snapshot) -> tuple[str | None, BookView | None]:
        return snapshot.selected_symbol, snapshot.book

    requested: str | None = None  # the symbol just asked for, until a Snapshot shows it

    def request_symbol(self, symbol: str) -> None:
        """Title the panel with the symbol at once; its levels follow with the next Snapshot."""
        self.requested = symbol
        self.border_title = f"Book {symbol}"

    def show_snapshot(self, snapshot: Snapshot) -> None:
        super().show_snapshot(snapshot)
        symbol = snapshot.selected_symbol
        if self.requested is not None and self.requested != symbol:
            symbol = self.requested  # not reported yet: keep the title the key asked for
        else:
            self.requested = None
        title = f"Book {symbol}" if symbol else "Book"
        if self.border_title != title:  # setting it, even unchanged, repaints the panel
            self.border_title = title

    def render_slice(self, slice: tuple[str | None, BookView | None]) -> RenderResult:
        symbol, book = slice
        if book is None:
            return Text("no book yet" if symbol else "no symbol selected", "dim")
        depth = ladder_depth(self.content_size.height or 23)
        text = Text(end="")
        for n, (kind, line) in enumerate(book_ladder(book, depth)):
            if n:
                text.append("\n")
            text.append(line, LINE_STYLES.get(kind, ""))
        return text
