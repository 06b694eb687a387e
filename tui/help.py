"""The help screen: every key of the dashboard, and what every panel and column means.

The dashboard is the front door for people learning how an order book and a process pipeline
work, so every figure on it is explained here in a sentence (``PANELS``); the box scrolls.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widget import Widget

from tui.format import fmt_rate
from tui.policy import MAX_FINITE_RATE, MIN_RATE, RATE_BELOW_MAX

KEYS = (
    ("q  ctrl+q  ctrl+c", "stop cleanly (every order answered), then quit"),
    ("p  space", "pause / resume order generation (the footer says which p does)"),
    ("+  =", f"double the rate (past {fmt_rate(MAX_FINITE_RATE)}: max)"),
    ("-", f"halve the rate (min {fmt_rate(MIN_RATE)}; from max: {fmt_rate(RATE_BELOW_MAX)})"),
    ("]  right", "book of the next symbol"),
    ("[  left", "book of the previous symbol"),
    ("n", "while paused: place the flow's next order and watch its symbol; a note says what it did"),
    ("1 to 5", "tabs: overview, book & tape, symbols (s sorts), accounts (a: next), processes"),
    ("t", "hold the tape where it is (events are still kept), or follow the newest again"),
    ("T", "the tape of every symbol (a sample, in the order the orders were placed), or the watched one's"),
    ("up down pgup pgdn", "scroll the focused panel (tab moves the focus); end: the newest"),
    ("k", "kill -9 the shown symbol's broker (a drill: it restarts)"),
    ("K", "kill switch (asks first): cancel an account's or every resting order, refuse new ones"),
    ("o", "your own order on the watched symbol (a form; escape closes it)"),
    ("y  c", "y: pick your next open order (accounts tab, marked \u25b6); c: cancel it (or your newest)"),
    ("x", "attached (dashboard --attach) with control: stop the run; q only closes the view"),
    ("ctrl+p", "command palette"),
    ("?", "this help"),
)


PANELS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Header",
        (
            (
                "state",
                "STARTING, RUNNING, PAUSED (no new orders), STOPPING (every order being "
                "answered), STOPPED; FINISHED once the run is over and its report is shown",
            ),
            ("seed", "the order flow's seed: the same seed and flags give the same fills"),
            ("target", "the rate asked for, orders a second ('max': as fast as it goes)"),
        ),
    ),
    (
        "Orders",
        (
            ("placed", "orders the bank sent to brokers (cancel requests are counted apart)"),
            ("acked", "orders a broker accepted (ACK); rejected ones never are"),
            ("filled", "orders traded in full"),
            ("cancelled", "orders ended with a rest unfilled: cancelled, or an IOC's rest"),
            ("rejected", "orders a broker refused (bad price, bad quantity, ...)"),
            ("resting", "acked orders waiting on a book for a counterparty"),
            ("in flight", "orders sent that no broker has answered yet"),
            ("lost", "at the end: orders no one can account for (must be 0)"),
            ("ack p50/p99", "from when an order was due to when its ACK reached the bank"),
        ),
    ),
    (
        "Processes",
        (
            (
                "inbox",
                "bank: orders waiting for room in a broker's inbox; broker: messages "
                "sent to it that it has not read (its backlog)",
            ),
            ("orders/s", "orders handled a second, over the last second"),
            ("fills", "trades matched by that process's books"),
            ("cpu", "share of one core over the last second (100% = a whole core)"),
            ("mem", "resident memory (RSS)"),
            (
                "hb age",
                "time since the bank last heard from it; past --hang-timeout it is HUNG and restarted",
            ),
            ("rst", "times it was restarted, its books restored exactly"),
        ),
    ),
    (
        "Tape",
        (
            ("", "every event of the watched symbol, oldest on top: time, order id, event"),
            (
                "NEW",
                "an order arrives: side, type (LMT limit, MKT market, CXL cancel), time "
                "in force (DAY rests, IOC: the unfilled rest is cancelled), qty @ price, account",
            ),
            ("ACK", "the broker accepted it"),
            (
                "FILL",
                "a trade: qty @ the resting order's price; the aggressor is the incoming "
                "order (its id leads the line): a SELL hits a resting bid, a BUY lifts an offer",
            ),
            ("CXLD", "the order ended with that many shares unfilled"),
            ("CXL OK", "a cancel request succeeded"),
            ("REJECT", "refused, with the reason"),
            (
                "skipped",
                "above a few orders a second the broker records only some orders (each "
                "with all its events); the subtitle counts the events left out",
            ),
        ),
    ),
    (
        "Book",
        (
            ("price", "asks (sell orders) above, bids (buy orders) below, best next to the middle"),
            ("qty", "shares resting at that price"),
            ("ords", "orders resting at that price (time priority within a price)"),
            ("spread", "best ask minus best bid; last: the price of the latest trade"),
        ),
    ),
    (
        "Accounts",
        (
            (
                "P&L $",
                "cash plus the positions marked to each symbol's last price (every account "
                "starts with nothing: the P&L of all of them sums to about 0)",
            ),
            ("cash $", "what the account received for its sales minus what it paid for its buys"),
            ("value $", "its positions at the last prices (a short position counts negative)"),
            ("open orders", "the selected account's orders not final yet: sent, or resting"),
        ),
    ),
    (
        "Symbols",
        (
            ("change", "last trade price minus the first one of the run (chg%: as a share of it)"),
            ("vwap", "volume-weighted average price of every trade of the run"),
            ("bid ask", "the best prices resting on the book, as its broker last reported them"),
        ),
    ),
    (
        "Log",
        (("", "the log of every process, warnings yellow, errors red"),),
    ),
)


NOTES = (
    "Rates are orders per second; 'max' (0) means as fast as possible.",
    "A '!' before a process state marks a hung, dead or failed process.",
    "Close with escape, ? or q.",
)


def _grid(rows: Sequence[tuple[str, str]]) -> Table:
    """Terms in bold in a column of their own, what they mean beside them, wrapped there."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for term, what in rows:
        grid.add_row(Text(term), Text(what))  # Text: no markup (keys hold '[')
    return grid


def help_text() -> Group:
    """The keys, the notes, then each panel's terms."""
    parts: list[RenderableType] = [Text("Keys", "bold underline"), _grid(KEYS), Text("")]
    parts.append(Text("\n".join(NOTES), "dim"))
    for title, rows in PANELS:
        parts += [Text(""), Text(title, "bold underline"), _grid(rows)]
    return Group(*parts)


@lru_cache(maxsize=4)
def help_lines(width: int) -> tuple[Strip, ...]:
    """The help text laid out at ``width`` cells: rich's layout of its tables (about a hundred
    rows, each measured and wrapped) is most of what a first ``?`` cost, so it is done once per
    width, and ahead of the key (``prepare_help``). Its own Console: it may run in a thread."""
    console = Console(width=width, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    lines = console.render_lines(help_text(), console.options.update_width(width), pad=True)
    return tuple(Strip(line, width) for line in lines)


# the box's width: 90% of the screen up to 110 (app.tcss), less its border and padding (4) and
# the scrollbar (2) the long text always needs
def _text_width(screen_width: int) -> int:
    return max(20, min(screen_width * 9 // 10, 110) - 6)


def prepare_help(app: App) -> None:
    """Lay the help text out in a thread while the dashboard runs, so that the first ``?``
    costs what every later one does (without it the first took 140-210 ms at full load)."""
    width = _text_width(app.size.width)

    def lay_out() -> None:
        help_lines(width + 2)  # Textual first measures the height as if there were no scrollbar
        help_lines(width)

    app.run_worker(lay_out, thread=True, group="help", exclusive=True)


class HelpText(Widget):
    """The help text drawn from its ready lines (``help_lines``) instead of laid out by a
    Static on the first open, which is what made that open slow."""

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(help_lines(width))

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        lines = help_lines(width)
        return lines[y] if 0 <= y < len(lines) else Strip.blank(width)

    @property
    def text(self) -> str:
        """What the lines say, as plain text."""
        return "\n".join(strip.text.rstrip() for strip in help_lines(self.content_size.width))


class HelpScreen(ModalScreen[None]):
    """A box over the dashboard listing the keys; escape, ? or q closes it."""

    BINDINGS = [
        Binding("escape", "close_help", "Close"),
        Binding("question_mark", "close_help", "Close", show=False),
        Binding("q", "close_help", "Close", show=False),
    ]

    # its CSS is in app.tcss, not DEFAULT_CSS: a class's DEFAULT_CSS is added to the app's
    # stylesheet the first time one is mounted, and that restyles the whole dashboard under
    # it (the first ? took 200 ms; every later one 8-26 ms)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Keys and panels (scrolls)"
            yield HelpText(id="help-text")

    def action_close_help(self) -> None:
        self.dismiss(None)
